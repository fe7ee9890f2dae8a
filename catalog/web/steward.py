"""The steward's harvest pages: see sources, runs and failed records, register a source, start a run.

Thin views over ``HarvestService`` (the same calls as ``/api/harvest`` and ``fairgate harvest``).
Every page needs a signed-in user with the steward (or admin) role; every form carries the session's
CSRF token; every change is audited.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from catalog.api.auth import STEWARD_ROLES, audit, csrf_token, page_form, page_steward
from catalog.api.harvest import harvest_service
from catalog.harvest.background import start_run as start_background_run
from catalog.store import NotFound, StoreError
from catalog.web.i18n import request_language, t
from catalog.web.rendering import render

router = APIRouter(prefix="/steward", include_in_schema=False)

_KINDS = ("ckan", "dcat", "datajson", "oaipmh", "local")


def _page(request: Request, template: str, values: dict[str, Any], status_code: int = 200) -> Response:
    return render(request, template, {**values, "csrf": csrf_token(request)}, status_code=status_code)


# --- the old token sign-in page: people now sign in with their own account -------------------------


@router.get("")
def steward_home() -> Response:
    return RedirectResponse("/steward/harvest", status_code=303)


@router.get("/sign-in")
def sign_in_form(next: str = "/steward/harvest") -> Response:
    return RedirectResponse(
        "/sign-in?next=" + quote(next if next.startswith("/steward/") else "/steward/harvest", safe=""), status_code=303
    )


# --- harvest ---------------------------------------------------------------------------------


@router.get("/harvest")
def harvest_page(request: Request) -> Response:
    page_steward(request)
    sources = harvest_service(request).sources()
    return _page(request, "steward_harvest.html", {"sources": sources, "kinds": _KINDS, "error": None, "form": {}})


@router.post("/harvest/sources")
def add_source(
    request: Request,
    csrf: str = Form(""),
    kind: str = Form(""),
    url: str = Form(""),
    name: str = Form(""),
) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    service = harvest_service(request)
    try:
        service.add_source(kind.strip(), url.strip(), name=name.strip())
        audit(request, who, "harvest.source.add", name.strip(), detail={"kind": kind.strip(), "url": url.strip()})
    except StoreError as exc:
        values = {
            "sources": service.sources(),
            "kinds": _KINDS,
            "error": str(exc),
            "form": {"kind": kind, "url": url, "name": name},
        }
        return _page(request, "steward_harvest.html", values, status_code=400)
    return RedirectResponse(f"/steward/harvest/{quote(name.strip())}", status_code=303)


@router.get("/harvest/{name}")
def source_page(request: Request, name: str, run: int | None = None) -> Response:
    page_steward(request)
    return _source_page(request, name, run)


def _source_page(
    request: Request,
    name: str,
    run: int | None = None,
    schedule_error: str | None = None,
    schedule_text: str | None = None,
    status_code: int = 200,
    url_error: str | None = None,
    url_text: str | None = None,
) -> Response:
    service = harvest_service(request)
    try:
        info = service.source(name)
    except NotFound as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status_code=404)
    runs = service.runs(name, limit=20)
    shown = next((r for r in runs if r.run_id == run), runs[0] if runs else None)
    errors = service.errors(run_id=shown.run_id) if shown is not None else []
    values = {
        "source": info,
        "runs": runs,
        "shown": shown,
        "errors": errors,
        "schedule_error": schedule_error,
        "schedule_text": schedule_text if schedule_text is not None else info.options.get("schedule", ""),
        "url_error": url_error,
        "url_text": url_text if url_text is not None else info.url,
    }
    return _page(request, "steward_source.html", values, status_code)


@router.post("/harvest/{name}/runs")
def start_run(request: Request, name: str, csrf: str = Form(""), mode: str = Form("full")) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    service = harvest_service(request)
    try:
        info = service.source(name)
    except NotFound as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status_code=404)
    if info.running:
        return render(
            request,
            "error.html",
            {"status": 409, "message": t("source_busy", request_language(request))},
            status_code=409,
        )
    audit(request, who, "harvest.run", name, detail={"mode": mode})
    # The run goes on outside the request; the source page follows it until it ends.
    start_background_run(service, name, full=mode != "incremental")
    return RedirectResponse(f"/steward/harvest/{quote(name)}?started=1", status_code=303)


@router.post("/harvest/{name}/schedule")
def set_schedule(request: Request, name: str, csrf: str = Form(""), schedule: str = Form("")) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    service = harvest_service(request)
    try:
        info = service.set_schedule(name, schedule)
    except NotFound as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status_code=404)
    except StoreError as exc:
        return _source_page(request, name, schedule_error=str(exc), schedule_text=schedule, status_code=400)
    audit(request, who, "harvest.schedule", name, detail={"schedule": info.options.get("schedule")})
    return RedirectResponse(f"/steward/harvest/{quote(name)}", status_code=303)


@router.post("/harvest/{name}/edit")
def edit_source(request: Request, name: str, csrf: str = Form(""), url: str = Form("")) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    service = harvest_service(request)
    try:
        before = service.source(name).url
        service.update_source(name, url=url.strip())
    except NotFound as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status_code=404)
    except StoreError as exc:
        return _source_page(request, name, url_error=str(exc), url_text=url, status_code=400)
    audit(request, who, "harvest.source.edit", name, detail={"url": url.strip(), "was": before})
    return RedirectResponse(f"/steward/harvest/{quote(name)}", status_code=303)


@router.post("/harvest/{name}/remove")
def remove_source(request: Request, name: str, csrf: str = Form(""), confirm: str = Form("")) -> Response:
    who = page_form(request, csrf, *STEWARD_ROLES)
    service = harvest_service(request)
    lang = request_language(request)
    try:
        info = service.source(name)
    except NotFound as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status_code=404)
    if info.running:
        return render(request, "error.html", {"status": 409, "message": t("source_busy", lang)}, status_code=409)
    if confirm.strip() != name:
        message = t("wb_remove_confirm_needed", lang)
        return render(request, "error.html", {"status": 400, "message": message}, status_code=400)
    service.remove_source(name)
    audit(request, who, "harvest.source.remove", name, detail={"url": info.url, "kind": info.kind})
    return RedirectResponse("/steward/harvest", status_code=303)
