"""The application form of the pages: posted fields to an ``ApplicationForm`` and back, uploads to
stored documents, and the views of an application that the researcher, reviewer and steward pages share.

Parsing only says what cannot be read (a date that is not a date, an IRB half filled in); what the rules
require is said by ``access.rules`` through the command's refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from access import output_check, rules
from catalog.api.auth import accounts
from catalog.applications import documents, output_reports
from catalog.applications.documents import DocumentError
from catalog.applications.service import ApplicationService
from catalog.web.access_refusals import say
from catalog.web.i18n import request_language, t
from schemas.access import (
    ApplicantType,
    Application,
    ApplicationForm,
    Channel,
    Event,
    Irb,
    IrbRole,
    Person,
)
from schemas.accounts import Principal

#: As many person rows as the rules allow people.
PERSON_ROWS = rules.PERSONNEL_MAX_PEOPLE
PURPOSES = sorted(rules.ALLOWED_PURPOSES)
PERIODS = rules.PERIODS_IMAGING
_IRB_FIELDS = ("irb_board", "irb_number", "irb_approved_on", "irb_expires_on", "irb_role")


async def posted(request: Request) -> FormData:
    """The posted form, uploads included (a dependency, so the routes themselves stay synchronous)."""
    return await request.form()


def text(data: FormData, name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def upload(data: FormData, name: str) -> UploadFile | None:
    value = data.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


def read_upload(file: UploadFile, limit: int) -> bytes:
    """At most ``limit + 1`` bytes, so a file over the limit is told apart without reading it all."""
    file.file.seek(0)
    return file.file.read(limit + 1)


MAX_TABLE_BYTES = output_reports.MAX_TABLE_BYTES


def read_table(data: FormData, name: str, lang: str, errors: dict[str, str]) -> output_check.Table | None:
    """The CSV table uploaded as ``name``, or None; what cannot be read is put in ``errors[name]``."""
    file = upload(data, name)
    if file is None:
        return None
    body = read_upload(file, MAX_TABLE_BYTES)
    filename = file.filename or "table.csv"
    if len(body) > MAX_TABLE_BYTES:
        errors[name] = t("ap_table_too_large", lang, name=filename)
    elif not filename.lower().endswith(".csv"):
        errors[name] = t("ap_table_not_csv", lang, name=filename)
    else:
        try:
            return output_check.read_table(body.decode("utf-8-sig"), filename)
        except UnicodeDecodeError:
            errors[name] = t("ap_table_not_utf8", lang, name=filename)
        except output_check.TableError as exc:
            errors[name] = str(exc)
    return None


def _lines(value: str) -> list[str]:
    return [part.strip() for line in value.splitlines() for part in line.split(",") if part.strip()]


def values_of(form: ApplicationForm) -> dict[str, str]:
    """The form as the strings its fields show."""
    values = {
        "title": form.title,
        "purpose": form.purpose,
        "modifiers": ", ".join(form.modifiers),
        "purpose_text": form.purpose_text,
        "applicant_type": form.applicant_type.value if form.applicant_type else "",
        "institution": form.institution,
        "irb_exempt": "1" if form.irb_exempt else "",
        "fields": "\n".join(form.fields),
        "selection_criteria": form.selection_criteria,
        "imaging": "1" if form.imaging else "",
        "period_months": str(form.period_months or ""),
        "channel": form.channel.value if form.channel else "",
    }
    if form.irb is not None:
        values.update(
            irb_board=form.irb.board,
            irb_number=form.irb.number,
            irb_approved_on=form.irb.approved_on.isoformat(),
            irb_expires_on=form.irb.expires_on.isoformat(),
            irb_role=form.irb.applicant_role.value,
            irb_document=form.irb.document or "",
        )
    for i, person in enumerate(form.personnel):
        values[f"person_name_{i}"] = person.name
        values[f"person_institution_{i}"] = person.institution
        values[f"person_proof_{i}"] = person.role_proof or ""
    return values


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass
class Parsed:
    form: ApplicationForm
    values: dict[str, str]  # what was typed, to show again
    errors: dict[str, str]  # field -> message in the page's language


def parse_form(data: FormData, previous: ApplicationForm, lang: str) -> Parsed:
    """Read the posted application form; documents already attached stay unless a new one is chosen."""
    names = [
        "title", "purpose", "modifiers", "purpose_text", "applicant_type", "institution", "fields",
        "selection_criteria", "period_months", "channel", *_IRB_FIELDS,
    ]  # fmt: skip
    values = {n: text(data, n) for n in names}
    values["irb_exempt"] = "1" if text(data, "irb_exempt") else ""
    values["imaging"] = "1" if text(data, "imaging") else ""
    errors: dict[str, str] = {}
    old = values_of(previous)
    # A document chosen earlier rides along in a hidden field (checked against the folder when attached).
    values["irb_document"] = text(data, "irb_document_id") or old.get("irb_document", "")
    irb = None
    if any(values[n] for n in _IRB_FIELDS):
        approved, expires = _date(values["irb_approved_on"]), _date(values["irb_expires_on"])
        if not all(values[n] for n in _IRB_FIELDS):
            errors["irb"] = t("ap_irb_incomplete", lang)
        elif approved is None or expires is None:
            errors["irb"] = t("ap_date_invalid", lang)
        elif values["irb_role"] not in {r.value for r in IrbRole}:
            errors["irb"] = t("ap_choose_one", lang)
        else:
            irb = Irb(
                board=values["irb_board"][:300],
                number=values["irb_number"][:100],
                approved_on=approved,
                expires_on=expires,
                applicant_role=IrbRole(values["irb_role"]),
                document=values["irb_document"] or None,
            )
    people = []
    for i in range(PERSON_ROWS):
        name, inst = text(data, f"person_name_{i}"), text(data, f"person_institution_{i}")
        values[f"person_name_{i}"], values[f"person_institution_{i}"] = name, inst
        proof = text(data, f"person_proof_id_{i}") or next(
            (p.role_proof for p in previous.personnel if p.name == name and p.role_proof), None
        )
        values[f"person_proof_{i}"] = proof or ""
        if name and inst:
            people.append(Person(name=name[:200], institution=inst[:300], role_proof=proof))
        elif name or inst:
            errors["personnel"] = t("ap_person_incomplete", lang, n=i + 1)
    period = values["period_months"]
    applicant_type = values["applicant_type"]
    channel = values["channel"]
    form = ApplicationForm(
        title=values["title"],
        purpose=values["purpose"],
        modifiers=_lines(values["modifiers"]),
        purpose_text=values["purpose_text"],
        applicant_type=ApplicantType(applicant_type) if applicant_type in set(ApplicantType) else None,
        institution=values["institution"],
        irb=irb,
        irb_exempt=bool(values["irb_exempt"]),
        fields=_lines(values["fields"]),
        selection_criteria=values["selection_criteria"],
        imaging=bool(values["imaging"]),
        period_months=int(period) if period.isdigit() and len(period) < 4 else None,
        channel=Channel(channel) if channel in set(Channel) else None,
        personnel=people,
    )
    return Parsed(form, values, errors)


def attach_uploads(
    data: FormData, parsed: Parsed, data_dir: str, application_id: str, who: str, lang: str
) -> ApplicationForm:
    """Store the chosen IRB approval and role proofs and put their ids in the form; a refused file is
    reported beside its field (and the form keeps the document it had)."""
    form = _known_documents(parsed.form, data_dir, application_id)
    irb_file = upload(data, "irb_document")
    if irb_file is not None:
        try:
            body = read_upload(irb_file, documents.MAX_DOCUMENT_BYTES)
            doc = documents.store(data_dir, application_id, body, irb_file.filename or "", "irb", who)
        except DocumentError as exc:
            parsed.errors["irb_document"] = t(f"ap_upload_{exc.code}", lang, name=irb_file.filename or "")
        else:
            parsed.values["irb_document"] = doc.id
            if form.irb is not None:
                form = form.model_copy(update={"irb": form.irb.model_copy(update={"document": doc.id})})
    people = list(form.personnel)
    for i in range(PERSON_ROWS):
        proof = upload(data, f"person_proof_{i}")
        name = parsed.values.get(f"person_name_{i}", "")
        if proof is None:
            continue
        try:
            body = read_upload(proof, documents.MAX_DOCUMENT_BYTES)
            doc = documents.store(data_dir, application_id, body, proof.filename or "", "role_proof", who)
        except DocumentError as exc:
            parsed.errors[f"person_proof_{i}"] = t(f"ap_upload_{exc.code}", lang, name=proof.filename or "")
            continue
        parsed.values[f"person_proof_{i}"] = doc.id
        people = [p.model_copy(update={"role_proof": doc.id}) if p.name == name else p for p in people]
    parsed.form = form.model_copy(update={"personnel": people})
    return parsed.form


def _kept(data_dir: str, application_id: str, document_id: str | None) -> str | None:
    if not document_id:
        return None
    try:
        documents.find(data_dir, application_id, document_id)
    except DocumentError:
        return None
    return document_id


def _known_documents(form: ApplicationForm, data_dir: str, application_id: str) -> ApplicationForm:
    """Only documents stored with this application may be referred to by the form."""
    irb = form.irb
    if irb is not None and irb.document:
        irb = irb.model_copy(update={"document": _kept(data_dir, application_id, irb.document)})
    people = [
        p.model_copy(update={"role_proof": _kept(data_dir, application_id, p.role_proof)}) for p in form.personnel
    ]
    return form.model_copy(update={"irb": irb, "personnel": people})


# --- views the three rooms share -------------------------------------------------------------------


def attached(app: Application, data_dir: str) -> list[dict[str, Any]]:
    """The documents the application's form refers to, with what was stored of each."""
    refs: list[tuple[str, str]] = []
    if app.form.irb and app.form.irb.document:
        refs.append((app.form.irb.document, "irb"))
    refs += [(p.role_proof, "role_proof") for p in app.form.personnel if p.role_proof]
    found: list[dict[str, Any]] = []
    for doc_id, kind in refs:
        try:
            doc, _ = documents.find(data_dir, app.id, doc_id)
        except DocumentError:
            found.append({"id": doc_id, "digest": "", "filename": doc_id, "size": None, "kind": kind})
            continue
        found.append(
            {
                "id": doc.id,
                "digest": documents.digest_of(doc.id),
                "filename": doc.filename,
                "size": doc.size,
                "kind": kind,
            }
        )
    return found


def actor_names(request: Request, events: list[Event]) -> dict[str, str]:
    """``user:<id>`` -> the person's name, for the timeline."""
    return names_of(request, [e.actor for e in events])


def names_of(request: Request, actors: list[str]) -> dict[str, str]:
    """``user:<id>`` -> the person's name (anything else stays as it is)."""
    names = {}
    for actor in actors:
        if actor.startswith("user:") and actor not in names:
            account = accounts(request).user(int(actor[5:])) if actor[5:].isdigit() else None
            names[actor] = account.display_name if account else actor
    return names


def application_view(request: Request, service: ApplicationService, app: Application, who: Principal) -> dict[str, Any]:
    """Everything the shared application partial shows."""
    from catalog.applications.service import now

    on = now().date()
    notices = service.notices(app, who)
    history = service.events.history(app.id)
    return {
        "app": app,
        "status_today": rules.status_as_of(app, on).value,
        "correction_deadline": rules.correction_deadline(app),
        "obligations": [
            {"kind": o.kind, "message": say(o.refusal, request_language(request))}
            for o in rules.obligations(app, on, notices)
        ],
        "notices": [n for n in notices if n not in app.acknowledged_notices],
        "history": history,
        "names": actor_names(request, history),
        "documents": attached(app, str(service.ctx.settings.data_dir)),
    }
