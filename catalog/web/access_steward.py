"""The steward's pages of access applications: every application with filters, one application's
agreement and release (through the consent registry, as ``/api/applications/{id}/releases`` does), the
programme's figures as a table and a chart, and the output check of an uploaded table.

Thin views over ``ApplicationService``, ``access.commands`` and ``access.output_check``; steward (or
admin) role, CSRF on every form, every change audited.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from access import commands, output_check, rules
from access.commands import Refused
from access.store import NotFound
from catalog.api.auth import STEWARD_ROLES, audit, page_form, page_steward
from catalog.applications.service import ACCESS_ERRORS, Filters, now
from catalog.web.access_forms import application_view, names_of, read_table, text
from catalog.web.access_pages import Form, document_response, page, refusal_page, service
from catalog.web.access_refusals import said, say
from catalog.web.i18n import request_language, t
from schemas.access import Application, Status

router = APIRouter(prefix="/steward", include_in_schema=False)

_STATES = [s.value for s in Status]


@router.get("/applications")
def all_applications(
    request: Request, state: str = "", dataset: str = "", institution: str = "", overdue: str = ""
) -> Response:
    who = page_steward(request)
    filters = Filters(
        state=Status(state) if state in _STATES else None,
        dataset=dataset.strip(),
        institution=institution.strip(),
        overdue=bool(overdue),
    )
    on = now().date()
    svc = service(request)
    rows = [{"app": a, "status": rules.status_as_of(a, on).value} for a in reversed(svc.listed(who, filters))]
    audit(request, who, "application.list", "", detail={"state": state, "overdue": bool(overdue)})
    chosen = {"state": state, "dataset": dataset, "institution": institution, "overdue": overdue}
    owed = svc.overdue(who)
    names = names_of(request, [a.applicant for a, _ in owed])
    lang = request_language(request)
    blocked = [
        {"app": a, "applicant": names.get(a.applicant, a.applicant), "obligation": o, "message": say(o.refusal, lang)}
        for a, o in owed
    ]
    values = {"rows": rows, "states": _STATES, "chosen": chosen, "blocked": blocked}
    return page(request, "steward_applications.html", values)


def chart_bars(per_state: dict[str, int], width: int = 320) -> list[dict[str, Any]]:
    """One horizontal bar per state, scaled to the largest count (the SVG draws what this says)."""
    top = max(per_state.values(), default=0) or 1
    return [
        {"state": s, "count": n, "y": i * 30, "width": round(width * n / top)}
        for i, (s, n) in enumerate(per_state.items())
    ]


@router.get("/applications/figures")
def programme_figures(request: Request) -> Response:
    who = page_steward(request)
    result = service(request).figures()
    audit(request, who, "application.figures", "")
    bars = chart_bars(result.per_state)
    return page(request, "steward_figures.html", {"figures": result, "bars": bars, "chart_height": len(bars) * 30})


def _steward_page(
    request: Request,
    app: Application,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    who = page_steward(request)
    blocked = rules.check_release(app, now().date())
    context = {
        **application_view(request, service(request), app, who),
        "errors": errors or {},
        "message": message,
        "values": values or {"pledges": "\n".join(p.name for p in app.form.personnel)},
        "release_blocked": say(blocked, request_language(request)) if blocked else None,
    }
    return page(request, "steward_application.html", context, status_code)


@router.get("/applications/{application_id}")
def steward_application(request: Request, application_id: str) -> Response:
    who = page_steward(request)
    try:
        app = service(request).get(application_id, who)
    except NotFound as exc:
        return refusal_page(request, exc)
    audit(request, who, "application.read", application_id)
    return _steward_page(request, app)


@router.post("/applications/{application_id}/agreement")
def record_agreement(request: Request, application_id: str, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), *STEWARD_ROLES)
    values = {"signed_on": text(data, "signed_on"), "pledges": text(data, "pledges")}
    values["fee_paid"] = "1" if text(data, "fee_paid") else ""
    svc = service(request)
    try:
        signed_on = date.fromisoformat(values["signed_on"])
    except ValueError:
        try:
            app = svc.events.get(application_id)
        except NotFound as exc:
            return refusal_page(request, exc)
        lang = request_language(request)
        return _steward_page(request, app, {"signed_on": t("ap_date_invalid", lang)}, None, values, 400)
    pledges = [line.strip() for line in values["pledges"].splitlines() if line.strip()]
    try:
        svc.act(
            application_id,
            lambda a: commands.record_agreement(a, who.actor, signed_on, pledges, bool(values["fee_paid"]), now()),
        )
    except ACCESS_ERRORS as exc:
        if isinstance(exc, Refused):
            message = said(exc, request_language(request))
            return _steward_page(request, svc.events.get(application_id), {"signed_on": message}, message, values, 409)
        return refusal_page(request, exc)
    audit(request, who, "application.agreement", application_id)
    return RedirectResponse(f"/steward/applications/{application_id}?done=agreement", status_code=303)


@router.post("/applications/{application_id}/release")
def release(request: Request, application_id: str, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), *STEWARD_ROLES)
    values = {"dataset": text(data, "dataset"), "case_ids": text(data, "case_ids")}
    case_ids = list(
        dict.fromkeys(c.strip() for line in values["case_ids"].splitlines() for c in line.split(",") if c.strip())
    )
    svc = service(request)
    try:
        app = svc.events.get(application_id)
    except NotFound as exc:
        return refusal_page(request, exc)
    if not case_ids:
        lang = request_language(request)
        return _steward_page(request, app, {"case_ids": t("field_required", lang)}, None, values, 400)
    try:
        _, release_id = svc.release(who, application_id, values["dataset"], case_ids)
    except ACCESS_ERRORS as exc:
        message = said(exc, request_language(request))
        return _steward_page(request, svc.events.get(application_id), {"case_ids": message}, message, values, 409)
    audit(request, who, "application.release", application_id, detail=release_id)
    return RedirectResponse(f"/steward/applications/{application_id}?done=release", status_code=303)


@router.get("/applications/{application_id}/documents/{digest}")
def steward_document(request: Request, application_id: str, digest: str) -> Response:
    who = page_steward(request)
    try:
        app = service(request).get(application_id, who)
    except NotFound as exc:
        return refusal_page(request, exc)
    return document_response(request, who, app, digest)


# --- output checking --------------------------------------------------------------------------------


@router.get("/outputs")
def output_check_form(request: Request, application: str = "") -> Response:
    page_steward(request)
    values = {"threshold": str(output_check.DEFAULT_THRESHOLD), "application": application.strip()}
    return page(request, "steward_outputs.html", {"values": values, "report": None})


@router.post("/outputs")
def run_output_check(request: Request, data: FormData = Form) -> Response:
    who = page_form(request, text(data, "csrf"), *STEWARD_ROLES)
    lang = request_language(request)
    values = {"threshold": text(data, "threshold") or str(output_check.DEFAULT_THRESHOLD)}
    values["application"] = text(data, "application")
    errors: dict[str, str] = {}
    svc = service(request)
    if values["application"]:
        try:
            svc.get(values["application"], who)
        except NotFound:
            errors["application"] = t("ap_output_application_unknown", lang, id=values["application"])
    threshold = int(values["threshold"]) if values["threshold"].isdigit() and len(values["threshold"]) < 6 else None
    if threshold is None:
        errors["threshold"] = t("ap_threshold_invalid", lang)
    table = read_table(data, "table", lang, errors)
    if table is None and "table" not in errors:
        errors["table"] = t("ap_table_required", lang)
    other = read_table(data, "against", lang, errors)
    if errors or table is None or threshold is None:
        return page(request, "steward_outputs.html", {"values": values, "errors": errors, "report": None}, 400)
    report = output_check.check(table, threshold, [other] if other is not None else None)
    kept = None
    if values["application"]:
        # Kept with the application, so that the chair can attach it to the decision.
        try:
            kept = svc.check_output(who, values["application"], table, threshold, [other] if other else [])
        except ACCESS_ERRORS as exc:
            return refusal_page(request, exc)
    detail = {"findings": len(report.findings), "threshold": threshold, "report": kept.id if kept else None}
    audit(request, who, "outputs.check", values["application"] or table.name, detail=detail)
    return page(request, "steward_outputs.html", {"values": values, "report": report, "kept": kept})
