"""The steward's harvest pages: sign in with the steward token, see sources, runs and failed
records, register a source and start a run.

Thin views over ``HarvestService`` (the same calls as ``/api/harvest`` and ``fairgate harvest``).
Every page needs a steward session; every form also posts a value derived from the token, so a
page elsewhere cannot make a signed-in browser start a run. With no steward token configured
the pages say so and stay closed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from catalog.api.harvest import harvest_service
from catalog.api.steward_auth import SESSION_COOKIE, csrf_value, has_session, session_value, token_matches
from catalog.context import Context
from catalog.harvest import SourceBusy
from catalog.store import NotFound, StoreError
from catalog.web.i18n import request_language, t
from catalog.web.rendering import render

router = APIRouter(prefix="/steward", include_in_schema=False)

_KINDS = ("ckan", "dcat", "datajson", "oaipmh", "local")


def _token(request: Request) -> str | None:
    ctx: Context = request.app.state.ctx
    return ctx.settings.steward_token


def _off(request: Request) -> Response:
    lang = request_language(request)
    return render(request, "error.html", {"status": 503, "message": t("steward_off", lang)}, status_code=503)


def _to_sign_in(request: Request) -> Response:
    return RedirectResponse("/steward/sign-in?next=" + quote(request.url.path), status_code=303)


def _gate(request: Request) -> Response | None:
    """None when the browser may see steward pages; otherwise the response that says why not."""
    if not _token(request):
        return _off(request)
    if not has_session(request):
        return _to_sign_in(request)
    return None


def _form_gate(request: Request, csrf: str) -> Response | None:
    """As ``_gate``, and the form must carry the value only our own steward pages hold."""
    if (refused := _gate(request)) is not None:
        return refused
    if not token_matches(csrf, csrf_value(_token(request) or "")):
        lang = request_language(request)
        return render(request, "error.html", {"status": 403, "message": t("steward_stale_form", lang)}, status_code=403)
    return None


def _page(request: Request, template: str, values: dict[str, Any], status_code: int = 200) -> Response:
    token = _token(request) or ""
    return render(request, template, {**values, "csrf": csrf_value(token)}, status_code=status_code)


def _safe_next(target: str) -> str:
    # Only our own steward pages: never redirect a signed-in browser to another site.
    return target if target.startswith("/steward/") and "//" not in target else "/steward/harvest"


# --- signing in and out --------------------------------------------------------------------


@router.get("")
def steward_home() -> Response:
    return RedirectResponse("/steward/harvest", status_code=303)


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "/steward/harvest") -> Response:
    if not _token(request):
        return _off(request)
    return render(request, "steward_sign_in.html", {"next": _safe_next(next), "failed": False})


@router.post("/sign-in")
def sign_in(request: Request, token: str = Form(""), next: str = Form("/steward/harvest")) -> Response:
    configured = _token(request)
    if not configured:
        return _off(request)
    if not token_matches(token, configured):
        return render(request, "steward_sign_in.html", {"next": _safe_next(next), "failed": True}, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    ctx: Context = request.app.state.ctx
    response.set_cookie(
        SESSION_COOKIE,
        session_value(configured),
        httponly=True,
        samesite="strict",
        secure=ctx.settings.base_url.startswith("https://"),
        path="/steward",
    )
    return response


@router.post("/sign-out")
def sign_out() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/steward")
    return response


# --- harvest ---------------------------------------------------------------------------------


@router.get("/harvest")
def harvest_page(request: Request) -> Response:
    if (refused := _gate(request)) is not None:
        return refused
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
    if (refused := _form_gate(request, csrf)) is not None:
        return refused
    service = harvest_service(request)
    try:
        service.add_source(kind.strip(), url.strip(), name=name.strip())
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
    if (refused := _gate(request)) is not None:
        return refused
    service = harvest_service(request)
    try:
        info = service.source(name)
    except NotFound as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status_code=404)
    runs = service.runs(name, limit=20)
    shown = next((r for r in runs if r.run_id == run), runs[0] if runs else None)
    errors = service.errors(run_id=shown.run_id) if shown is not None else []
    values = {"source": info, "runs": runs, "shown": shown, "errors": errors}
    return _page(request, "steward_source.html", values)


@router.post("/harvest/{name}/runs")
def start_run(request: Request, name: str, csrf: str = Form(""), mode: str = Form("full")) -> Response:
    if (refused := _form_gate(request, csrf)) is not None:
        return refused
    service = harvest_service(request)
    try:
        # Runs inside the request, like the API: the page comes back with the run's summary.
        summary = service.run(name, full=mode != "incremental")
    except NotFound as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status_code=404)
    except SourceBusy as exc:
        return render(request, "error.html", {"status": 409, "message": str(exc)}, status_code=409)
    return RedirectResponse(f"/steward/harvest/{quote(name)}?run={summary.run_id}", status_code=303)
