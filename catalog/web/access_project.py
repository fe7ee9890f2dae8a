"""Pages of a running project on the researcher's application page: change requests (personnel, fields,
files), extension requests, six-monthly usage reports and, once access has ended, the confirmation that
the data is destroyed.

Thin as the other access pages: check the role and the CSRF token, call ``access.commands`` through
``ApplicationService`` exactly as ``/api/applications`` does, audit under the API's action names, and
render the rules' refusals (in the page's language) beside the form that broke them.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from access import commands
from access.commands import Refused
from access.store import NotFound
from catalog.api.auth import audit, page_form
from catalog.applications import documents
from catalog.applications.documents import DocumentError
from catalog.applications.service import ACCESS_ERRORS, identity, now
from catalog.web.access_forms import PERSON_ROWS, posted, read_upload, text, upload
from catalog.web.access_pages import _own, _researcher_page, refusal_page, service
from catalog.web.access_refusals import said
from catalog.web.i18n import request_language, t
from schemas.access import Application, ChangeKind, Event, Person
from schemas.accounts import Principal, Role

router = APIRouter(include_in_schema=False)
Form = Depends(posted)


def _lines(value: str) -> list[str]:
    return [part.strip() for line in value.splitlines() for part in line.split(",") if part.strip()]


def _step(
    request: Request,
    who: Principal,
    app: Application,
    form: str,
    values: dict[str, str],
    errors: dict[str, str],
    command: Callable[[Application], list[Event]] | None,
) -> Response:
    """Run ``command`` unless the form already has problems; on a refusal show the page again with the
    user's input kept and the rule's words in that form's block."""
    message = None
    if command is not None and not errors:
        try:
            service(request).act(app.id, command)
        except ACCESS_ERRORS as exc:
            if not isinstance(exc, Refused):
                return refusal_page(request, exc)
            message = said(exc, request_language(request))
        else:
            audit(request, who, f"application.{form}", app.id)
            return RedirectResponse(f"/applications/{app.id}?done={form}#h-project", status_code=303)
    fresh = service(request).events.get(app.id)
    extra = {"project": {form: {"values": values, "errors": errors, "message": message}}}
    return _researcher_page(request, who, fresh, status_code=409 if message else 400, extra=extra)


def _mine(request: Request, data: FormData, application_id: str) -> tuple[Principal, Application | Response]:
    who = page_form(request, text(data, "csrf"), Role.RESEARCHER)
    try:
        return who, _own(request, who, application_id)
    except NotFound as exc:
        return who, refusal_page(request, exc)


@router.post("/applications/{application_id}/changes")
def request_change(request: Request, application_id: str, data: FormData = Form) -> Response:
    who, app = _mine(request, data, application_id)
    if isinstance(app, Response):
        return app
    lang = request_language(request)
    me = identity(who)
    values = {n: text(data, n) for n in ("change_kind", "change_fields", "change_files", "change_reason")}
    errors: dict[str, str] = {}
    if values["change_kind"] not in {k.value for k in ChangeKind}:
        errors["change_kind"] = t("ap_choose_one", lang)
    people: list[Person] = []
    for i in range(PERSON_ROWS):
        name, inst = text(data, f"change_person_name_{i}"), text(data, f"change_person_institution_{i}")
        values[f"change_person_name_{i}"], values[f"change_person_institution_{i}"] = name, inst
        if not name and not inst:
            continue
        if not (name and inst):
            errors[f"change_person_name_{i}"] = t("ap_person_incomplete", lang, n=i + 1)
            continue
        proof = upload(data, f"change_person_proof_{i}")
        proof_id = None
        if proof is not None:
            try:
                body = read_upload(proof, documents.MAX_DOCUMENT_BYTES)
                data_dir = str(service(request).ctx.settings.data_dir)
                proof_id = documents.store(data_dir, app.id, body, proof.filename or "", "role_proof", me).id
            except DocumentError as exc:
                errors[f"change_person_proof_{i}"] = t(f"ap_upload_{exc.code}", lang, name=proof.filename or "")
        people.append(Person(name=name, institution=inst, role_proof=proof_id))
    command = None
    if "change_kind" not in errors:
        kind = ChangeKind(values["change_kind"])
        fields = _lines(values["change_fields"]) if kind is ChangeKind.FIELDS else []
        files = _lines(values["change_files"]) if kind is ChangeKind.FILES else []
        chosen = people if kind is ChangeKind.PERSONNEL else []

        def command(a: Application) -> list[Event]:
            return commands.request_change(a, me, kind, now(), chosen, fields, files, values["change_reason"])

    return _step(request, who, app, "change", values, errors, command)


@router.post("/applications/{application_id}/extension")
def request_extension(request: Request, application_id: str, data: FormData = Form) -> Response:
    who, app = _mine(request, data, application_id)
    if isinstance(app, Response):
        return app
    values = {"extension_months": text(data, "extension_months")}
    errors: dict[str, str] = {}
    months = values["extension_months"]
    if not (months.isdigit() and len(months) < 3):
        errors["extension_months"] = t("ap_choose_one", request_language(request))
        return _step(request, who, app, "extension", values, errors, None)
    me = identity(who)
    return _step(request, who, app, "extension", values, errors, lambda a: commands.extend(a, me, int(months), now()))


@router.post("/applications/{application_id}/reports")
def file_report(request: Request, application_id: str, data: FormData = Form) -> Response:
    who, app = _mine(request, data, application_id)
    if isinstance(app, Response):
        return app
    values = {"report_text": text(data, "report_text")}
    errors: dict[str, str] = {}
    if not values["report_text"]:
        errors["report_text"] = t("field_required", request_language(request))
    me = identity(who)
    return _step(
        request, who, app, "report", values, errors, lambda a: commands.file_report(a, me, values["report_text"], now())
    )


@router.post("/applications/{application_id}/destruction")
def confirm_destruction(request: Request, application_id: str, data: FormData = Form) -> Response:
    who, app = _mine(request, data, application_id)
    if isinstance(app, Response):
        return app
    values = {"destruction_statement": text(data, "destruction_statement")}
    errors: dict[str, str] = {}
    if not text(data, "destruction_confirm"):
        errors["destruction_confirm"] = t("ap_destruction_tick", request_language(request))
    me = identity(who)
    return _step(
        request,
        who,
        app,
        "destruction",
        values,
        errors,
        lambda a: commands.confirm_destruction(a, me, now(), values["destruction_statement"]),
    )
