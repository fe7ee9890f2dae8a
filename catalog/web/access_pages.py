"""Pages of access applications for researchers (``/applications``: apply from a dataset page, follow,
correct and resubmit, upload documents, download a release, register publications, acknowledge
withdrawals, ask changes and extensions, file usage reports, confirm destruction) and for the review
committee (``/review``: the queue; members score, the chair returns or decides).

Thin: each route checks the role (and the form's CSRF token), calls ``ApplicationService`` and
``access.commands`` exactly as ``/api/applications`` does, audits, and renders. Refusals are the rules'
codes rendered in the page's language (``access_refusals.say``), shown beside the fields they name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from access import commands, output_check, rules
from access.commands import Refused
from access.store import NotFound
from catalog.api.auth import audit, csrf_token, page_form, page_user
from catalog.applications import documents
from catalog.applications.documents import DocumentError
from catalog.applications.service import (
    ACCESS_ERRORS,
    DECIDERS,
    SCORERS,
    ApplicationService,
    Filters,
    NotPermitted,
    identity,
    now,
    service_of,
)
from catalog.web.access_forms import (
    PERIODS,
    PERSON_ROWS,
    PURPOSES,
    application_view,
    attach_uploads,
    parse_form,
    posted,
    read_table,
    text,
    values_of,
)
from catalog.web.access_refusals import said, say, say_problems
from catalog.web.errors import error_page
from catalog.web.i18n import request_language, t
from catalog.web.rendering import render
from schemas.access import (
    ApplicantType,
    Application,
    ApplicationForm,
    Channel,
    Criterion,
    Decision,
    IrbRole,
    Status,
)
from schemas.accounts import Principal, Role

router = APIRouter(include_in_schema=False)
Form = Depends(posted)


def service(request: Request) -> ApplicationService:
    return service_of(request.app.state.ctx)


def page(request: Request, template: str, values: dict[str, Any], status_code: int = 200) -> Response:
    base: dict[str, Any] = {
        "csrf": csrf_token(request),
        "errors": {},
        "message": None,
        "done": request.query_params.get("done"),
    }
    return render(request, template, {**base, **values}, status_code=status_code)


def refusal_page(request: Request, exc: Exception) -> Response:
    """A refusal that has no form to stand beside: not found, changed meanwhile, a rule."""
    if isinstance(exc, NotFound | DocumentError):
        return error_page(request, 404, str(exc))
    if isinstance(exc, NotPermitted):
        return error_page(request, 403, str(exc))
    return error_page(request, 409, said(exc, request_language(request)))


def form_choices() -> dict[str, Any]:
    return {
        "purposes": PURPOSES,
        "periods": PERIODS,
        "person_rows": range(PERSON_ROWS),
        "applicant_types": [a.value for a in ApplicantType],
        "channels": [c.value for c in Channel],
        "irb_roles": [r.value for r in IrbRole],
    }


def document_response(
    request: Request, who: Principal, app: Application, digest: str, action: str = "application.document"
) -> Response:
    """A document the application refers to (never another file of the folder); audited."""
    doc_id = f"sha256:{digest}"
    referred = {d["id"] for d in _refs(app)}
    try:
        if doc_id not in referred:
            raise DocumentError("not_found", f"no document {doc_id!r} on application {app.id}")
        doc, path = documents.find(service(request).ctx.settings.data_dir, app.id, doc_id)
    except DocumentError as exc:
        return refusal_page(request, exc)
    audit(request, who, action, app.id, detail=doc_id)
    return FileResponse(path, media_type="application/pdf", filename=doc.filename)


def _refs(app: Application) -> list[dict[str, str]]:
    found = [{"id": app.form.irb.document}] if app.form.irb and app.form.irb.document else []
    return found + [{"id": p.role_proof} for p in app.form.personnel if p.role_proof]


# --- the researcher --------------------------------------------------------------------------------


def _own(request: Request, who: Principal, application_id: str) -> Application:
    app = service(request).get(application_id, who)
    if app.applicant != identity(who):
        raise NotFound(f"no application {application_id!r} of yours")
    return app


def _datasets(request: Request, guids: list[str]) -> list[dict[str, Any]]:
    store = service(request).ctx.store
    return [{"guid": g, "stored": store.find(g)} for g in dict.fromkeys(guids) if g]


@router.get("/applications")
def my_applications(request: Request) -> Response:
    who = page_user(request, Role.RESEARCHER)
    on = now().date()
    apps = service(request).events.applications(identity(who))
    rows = [{"app": a, "status": rules.status_as_of(a, on).value} for a in reversed(apps)]
    audit(request, who, "application.list", "")
    return page(request, "applications.html", {"rows": rows})


def _new_page(
    request: Request,
    who: Principal,
    datasets: list[str],
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    found = _datasets(request, datasets)
    me = identity(who)
    values = {"institution": who.institution, "imaging": "1", **values}
    return page(
        request,
        "application_new.html",
        {
            "datasets": found,
            "values": values,
            "errors": errors or {},
            "message": message,
            "blocking": [say(b, request_language(request)) for b in service(request).blocking(who, me)],
            **form_choices(),
        },
        status_code,
    )


@router.get("/applications/new")
def new_application(request: Request, dataset: str = "") -> Response:
    who = page_user(request, Role.RESEARCHER)
    return _new_page(request, who, [dataset], {})


@router.post("/applications")
def create_application(request: Request, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), Role.RESEARCHER)
    lang = request_language(request)
    chosen = [d for d in data.getlist("datasets") if isinstance(d, str) and d.strip()]
    found = _datasets(request, chosen)
    parsed = parse_form(data, ApplicationForm(), lang)
    if not found or any(d["stored"] is None for d in found):
        parsed.errors["datasets"] = t("ap_datasets_unknown", lang)
    if parsed.errors:
        return _new_page(request, who, chosen, parsed.values, parsed.errors, status_code=400)
    svc = service(request)
    try:
        app = svc.create(who, [d["guid"] for d in found])
    except ACCESS_ERRORS as exc:
        return _new_page(request, who, chosen, parsed.values, message=said(exc, lang), status_code=409)
    audit(request, who, "application.create", app.id)
    return _save_form(request, who, app, data, parsed, text(data, "action"))


def _researcher_page(
    request: Request,
    who: Principal,
    app: Application,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    svc = service(request)
    shown = application_view(request, svc, app, who)
    editable = shown["status_today"] in (Status.DRAFT.value, Status.RETURNED.value)
    context = {
        **shown,
        **form_choices(),
        "editable": editable,
        "values": values if values is not None else values_of(app.form),
        "errors": errors or {},
        "message": message,
        "datasets": _datasets(request, app.datasets),
        "publication": {},
        "publication_errors": {},
        "project": {},
        "reports_due": rules.reports_due(app, now().date()),
        **(extra or {}),
    }
    return page(request, "application_mine.html", context, status_code)


@router.get("/applications/{application_id}")
def my_application(request: Request, application_id: str) -> Response:
    who = page_user(request, Role.RESEARCHER)
    try:
        app = _own(request, who, application_id)
    except NotFound as exc:
        return refusal_page(request, exc)
    audit(request, who, "application.read", application_id)
    return _researcher_page(request, who, app)


def _save_form(
    request: Request, who: Principal, app: Application, data: FormData, parsed: Any, action: str
) -> Response:
    """Attach uploads, then save the draft, submit it, or resubmit it after a return."""
    lang = request_language(request)
    me = identity(who)
    svc = service(request)
    form = attach_uploads(data, parsed, str(svc.ctx.settings.data_dir), app.id, me, lang)
    if parsed.errors:
        return _researcher_page(request, who, app, parsed.values, parsed.errors, status_code=400)
    try:
        if action == "resubmit":
            app = svc.act(app.id, lambda a: commands.resubmit(a, me, form, now()))
        else:
            app = svc.act(app.id, lambda a: commands.save_draft(a, me, form, now()))
            audit(request, who, "application.draft", app.id)
            if action == "submit":
                app = svc.submit(who, app.id)
    except ACCESS_ERRORS as exc:
        if isinstance(exc, Refused):
            app = svc.events.get(app.id)
            problems = say_problems(exc.problems, lang)
            return _researcher_page(request, who, app, parsed.values, problems, said(exc, lang), 409)
        return refusal_page(request, exc)
    if action in ("submit", "resubmit"):
        audit(request, who, f"application.{action}", app.id)
    done = action if action in ("submit", "resubmit") else "saved"
    return RedirectResponse(f"/applications/{app.id}?done={done}", status_code=303)


@router.post("/applications/{application_id}/form")
def save_application(request: Request, application_id: str, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), Role.RESEARCHER)
    try:
        app = _own(request, who, application_id)
    except NotFound as exc:
        return refusal_page(request, exc)
    parsed = parse_form(data, app.form, request_language(request))
    return _save_form(request, who, app, data, parsed, text(data, "action"))


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@router.post("/applications/{application_id}/publications")
def register_publication(request: Request, application_id: str, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), Role.RESEARCHER)
    lang = request_language(request)
    try:
        app = _own(request, who, application_id)
    except NotFound as exc:
        return refusal_page(request, exc)
    values = {n: text(data, n) for n in ("pub_title", "pub_reference", "pub_published_on", "pub_deposited_on")}
    values["pub_acknowledges"] = "1" if text(data, "pub_acknowledges") else ""
    errors: dict[str, str] = {}
    published = _date(values["pub_published_on"])
    deposited = _date(values["pub_deposited_on"]) if values["pub_deposited_on"] else None
    if not values["pub_title"]:
        errors["pub_title"] = t("field_required", lang)
    if published is None:
        errors["pub_published_on"] = t("ap_date_invalid", lang)
    if values["pub_deposited_on"] and deposited is None:
        errors["pub_deposited_on"] = t("ap_date_invalid", lang)
    message = None
    if not errors and published is not None:
        me = identity(who)
        try:
            service(request).act(
                application_id,
                lambda a: commands.register_publication(
                    a,
                    me,
                    now(),
                    values["pub_title"],
                    published,
                    bool(values["pub_acknowledges"]),
                    values["pub_reference"],
                    deposited,
                ),
            )
        except ACCESS_ERRORS as exc:
            message = said(exc, lang)
        else:
            audit(request, who, "application.publication", application_id)
            return RedirectResponse(f"/applications/{application_id}?done=publication", status_code=303)
    extra = {"publication": values, "publication_errors": errors, "publication_message": message}
    return _researcher_page(request, who, app, status_code=409 if message else 400, extra=extra)


@router.post("/applications/{application_id}/withdrawals/{notice_id}/acknowledge")
def acknowledge_withdrawal(request: Request, application_id: str, notice_id: str, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), Role.RESEARCHER)
    try:
        _own(request, who, application_id)
        service(request).acknowledge(who, application_id, notice_id)
    except ACCESS_ERRORS as exc:
        return refusal_page(request, exc)
    audit(request, who, "application.withdrawal.acknowledge", application_id, detail=notice_id)
    return RedirectResponse(f"/applications/{application_id}?done=acknowledged", status_code=303)


@router.get("/applications/{application_id}/releases/{number}/{part}")
def download_release(request: Request, application_id: str, number: int, part: str) -> Response:
    who = page_user(request, Role.RESEARCHER)
    try:
        app, path = service(request).release_file(who, application_id, number, part)
    except ACCESS_ERRORS as exc:
        return refusal_page(request, exc)
    audit(request, who, f"application.download.{part}", application_id, detail=app.releases[number - 1].release_id)
    return FileResponse(path, filename=f"{application_id}-{number}-{path.name}")


@router.get("/applications/{application_id}/documents/{digest}")
def my_document(request: Request, application_id: str, digest: str) -> Response:
    who = page_user(request, Role.RESEARCHER)
    try:
        app = _own(request, who, application_id)
    except NotFound as exc:
        return refusal_page(request, exc)
    return document_response(request, who, app, digest)


# --- the review committee --------------------------------------------------------------------------

_QUEUE_STATES = [s.value for s in Status]
#: Who sees the committee's pages: members score, the chair decides.
COMMITTEE = tuple(sorted(SCORERS | DECIDERS))


@router.get("/review")
def review_queue(request: Request, state: str = Status.SUBMITTED.value) -> Response:
    who = page_user(request, *COMMITTEE)
    chosen = Status(state) if state in _QUEUE_STATES else None
    on = now().date()
    apps = service(request).listed(who, Filters(state=chosen))
    me = identity(who)
    rows = [
        {"app": a, "status": rules.status_as_of(a, on).value, "scored": any(r.actor == me for r in a.reviews)}
        for a in apps
    ]
    audit(request, who, "application.list", "", detail={"state": state})
    return page(request, "review_queue.html", {"rows": rows, "state": state, "states": _QUEUE_STATES})


def _review_page(
    request: Request,
    who: Principal,
    app: Application,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    svc = service(request)
    shown = application_view(request, svc, app, who)
    me = identity(who)
    attached = {r.id for r in app.output_checks}
    context = {
        **shown,
        "output_reports": svc.output_reports(app),
        "attached_reports": attached,
        "chosen_reports": set(values.get("output_reports", "").split()) if values else set(),
        "default_threshold": output_check.DEFAULT_THRESHOLD,
        "errors": errors or {},
        "message": message,
        "values": values or {},
        "criteria": [c.value for c in Criterion],
        "scores": range(rules.SCORE_RANGE[0], rules.SCORE_RANGE[1] + 1),
        "scored": any(r.actor == me for r in app.reviews),
        "may_score": who.has_any(SCORERS),
        "may_decide": who.has_any(DECIDERS),
        "conflict": bool(who.institution.strip())
        and who.institution.strip().casefold() == app.applicant_institution.strip().casefold(),
        "datasets": _datasets(request, app.datasets),
    }
    return page(request, "review_application.html", context, status_code)


@router.get("/review/{application_id}")
def review_application(request: Request, application_id: str) -> Response:
    who = page_user(request, *COMMITTEE)
    try:
        app = service(request).get(application_id, who)
    except NotFound as exc:
        return refusal_page(request, exc)
    audit(request, who, "application.read", application_id)
    return _review_page(request, who, app)


def _review_act(
    request: Request,
    who: Principal,
    application_id: str,
    action: str,
    step: Callable[[ApplicationService], Application],
    values: dict[str, str],
    field: str,
) -> Response:
    svc = service(request)
    try:
        step(svc)
    except ACCESS_ERRORS as exc:
        if isinstance(exc, Refused):
            app = svc.events.get(application_id)
            message = said(exc, request_language(request))
            return _review_page(request, who, app, {field: message}, message, values, 409)
        return refusal_page(request, exc)
    audit(request, who, f"application.{action}", application_id)
    return RedirectResponse(f"/review/{application_id}?done={action}", status_code=303)


@router.post("/review/{application_id}/return")
def return_application(request: Request, application_id: str, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), *DECIDERS)
    reason = text(data, "return_reason")
    return _review_act(
        request,
        who,
        application_id,
        "return",
        lambda svc: svc.return_for_correction(who, application_id, reason),
        {"return_reason": reason},
        "return_reason",
    )


@router.post("/review/{application_id}/scores")
def score_application(request: Request, application_id: str, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), *SCORERS)
    values = {f"score_{c.value}": text(data, f"score_{c.value}") for c in Criterion}
    values["comment"] = text(data, "comment")
    scores = {c: int(v) for c in Criterion if (v := values[f"score_{c.value}"]).isdigit() and len(v) < 3}
    return _review_act(
        request,
        who,
        application_id,
        "review",
        lambda svc: svc.review(who, application_id, scores, values["comment"]),
        values,
        "scores",
    )


@router.post("/review/{application_id}/decision")
def decide_application(request: Request, application_id: str, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), *DECIDERS)
    values = {n: text(data, n) for n in ("decision", "conditions", "decision_reason")}
    reports = list(dict.fromkeys(r for r in data.getlist("output_reports") if isinstance(r, str) and r))
    values["output_reports"] = " ".join(reports)
    lang = request_language(request)
    errors: dict[str, str] = {}
    if values["decision"] not in {d.value for d in Decision}:
        errors["decision"] = t("ap_choose_one", lang)
    table = read_table(data, "decision_table", lang, errors)
    if errors:
        try:
            app = service(request).get(application_id, who)
        except NotFound as exc:
            return refusal_page(request, exc)
        return _review_page(request, who, app, errors, None, values, 400)
    if table is not None:
        # The table uploaded with the decision is checked now; its report is kept even if the decision
        # is then refused, so it stays ticked for the next try.
        try:
            stored = service(request).check_output(who, application_id, table)
        except ACCESS_ERRORS as exc:
            return refusal_page(request, exc)
        audit(request, who, "outputs.check", application_id, detail={"report": stored.id, "ok": stored.ok})
        reports.append(stored.id)
        values["output_reports"] = " ".join(reports)
    decision = Decision(values["decision"])
    conditions = [line.strip() for line in values["conditions"].splitlines() if line.strip()]
    return _review_act(
        request,
        who,
        application_id,
        "decide",
        lambda svc: svc.decide(who, application_id, decision, conditions, values["decision_reason"], reports),
        values,
        "decision",
    )


@router.get("/review/{application_id}/documents/{digest}")
def review_document(request: Request, application_id: str, digest: str) -> Response:
    who = page_user(request, *COMMITTEE)
    try:
        app = service(request).get(application_id, who)
    except NotFound as exc:
        return refusal_page(request, exc)
    return document_response(request, who, app, digest)
