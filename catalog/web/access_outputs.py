"""Output-check reports on the application pages: the committee checks a table for an application (the
report is kept with it, to attach to the decision), and everyone who may see the application reads the
reports attached to its decision (the committee and stewards: every report run for it).

Thin: role and CSRF checks, ``ApplicationService.check_output``/``output_report``, audit, render.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from access import output_check
from access.store import NotFound
from catalog.api.auth import audit, page_form, page_steward, page_user
from catalog.applications.service import ACCESS_ERRORS, OUTPUT_CHECKERS, identity
from catalog.web.access_forms import posted, read_table, text
from catalog.web.access_pages import COMMITTEE, _review_page, page, refusal_page, service
from catalog.web.i18n import request_language, t
from schemas.access import Application
from schemas.accounts import Principal, Role

router = APIRouter(include_in_schema=False)
Form = Depends(posted)


def threshold_of(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 6 else None


@router.post("/review/{application_id}/outputs")
def check_for_application(request: Request, application_id: str, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), *sorted(OUTPUT_CHECKERS & set(COMMITTEE)))
    lang = request_language(request)
    svc = service(request)
    try:
        app = svc.get(application_id, who)
    except NotFound as exc:
        return refusal_page(request, exc)
    values = {"check_threshold": text(data, "check_threshold") or str(output_check.DEFAULT_THRESHOLD)}
    errors: dict[str, str] = {}
    threshold = threshold_of(values["check_threshold"])
    if threshold is None:
        errors["check_threshold"] = t("ap_threshold_invalid", lang)
    table = read_table(data, "check_table", lang, errors)
    if table is None and "check_table" not in errors:
        errors["check_table"] = t("ap_table_required", lang)
    if errors or table is None or threshold is None:
        return _review_page(request, who, app, errors, None, values, 400)
    try:
        stored = svc.check_output(who, application_id, table, threshold)
    except ACCESS_ERRORS as exc:
        return refusal_page(request, exc)
    audit(request, who, "outputs.check", application_id, detail={"report": stored.id, "ok": stored.ok})
    return RedirectResponse(f"/review/{application_id}?done=output_check#h-outputs", status_code=303)


def _report_page(request: Request, who: Principal, app: Application, digest: str, base: str, every: bool) -> Response:
    """One report of ``app``; ``every``: any report run for it, else only those attached to a decision."""
    attached = {r.id for r in app.output_checks}
    if not every and f"sha256:{digest}" not in attached:
        return refusal_page(request, NotFound(f"no output-check report sha256:{digest} on application {app.id}"))
    try:
        report = service(request).output_report(app.id, digest)
    except ACCESS_ERRORS as exc:
        return refusal_page(request, NotFound(str(exc)))
    audit(request, who, "outputs.read", app.id, detail=report.id)
    values = {"app": app, "report": report, "base": base, "attached": report.id in attached}
    return page(request, "output_report.html", values)


@router.get("/applications/{application_id}/outputs/{digest}")
def my_output_report(request: Request, application_id: str, digest: str) -> Response:
    who = page_user(request, Role.RESEARCHER)
    try:
        app = service(request).get(application_id, who)
        if app.applicant != identity(who):
            raise NotFound(f"no application {application_id!r} of yours")
    except NotFound as exc:
        return refusal_page(request, exc)
    return _report_page(request, who, app, digest, f"/applications/{application_id}", every=False)


@router.get("/review/{application_id}/outputs/{digest}")
def review_output_report(request: Request, application_id: str, digest: str) -> Response:
    who = page_user(request, *COMMITTEE)
    try:
        app = service(request).get(application_id, who)
    except NotFound as exc:
        return refusal_page(request, exc)
    return _report_page(request, who, app, digest, f"/review/{application_id}", every=True)


@router.get("/steward/applications/{application_id}/outputs/{digest}")
def steward_output_report(request: Request, application_id: str, digest: str) -> Response:
    who = page_steward(request)
    try:
        app = service(request).get(application_id, who)
    except NotFound as exc:
        return refusal_page(request, exc)
    return _report_page(request, who, app, digest, f"/steward/applications/{application_id}", every=True)
