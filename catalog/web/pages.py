"""Server-rendered pages: the catalog home (list and search), dataset, tombstone and revisions pages.

Thin views over the store and the search index; every text is chosen in the request's
interface language, and nothing here changes state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.api.resolver import signposting
from catalog.api.visibility import visible
from catalog.context import Context
from catalog.dcat import SUFFIXES, dataset_iri, dataset_to_schemaorg
from catalog.fair.assess import assess
from catalog.models.store import models_of
from catalog.search import QueryError
from catalog.store import NotFound, Revision, StoredDataset
from catalog.web.i18n import request_language
from catalog.web.rendering import STATIC_DIR, render
from catalog.web.search_view import SearchView, run_search

router = APIRouter(include_in_schema=False)

_ANNOTATION_STATUSES = ("image_only", "partially_annotated", "fully_annotated")


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


# --- helpers shared with the resolver ---------------------------------------------------


def not_found_page(request: Request, message: str) -> Response:
    return render(request, "error.html", {"status": 404, "message": message}, status_code=404)


def _recent_revisions(ctx: Context, guid: str, n: int = 5) -> list[Revision]:
    return list(reversed(ctx.store.revisions(guid)))[:n]


def _case_rows(stored: StoredDataset) -> list[dict[str, Any]] | None:
    imaging = stored.dataset.imaging
    if imaging is None or (imaging.shared is None and imaging.not_shared is None):
        return None
    rows = []
    for status in (*_ANNOTATION_STATUSES, "total"):
        shared = _count(imaging.shared, status)
        not_shared = _count(imaging.not_shared, status)
        rows.append({"status": status, "shared": shared, "not_shared": not_shared,
                     "total": (shared or 0) + (not_shared or 0)})
    return rows


def _count(counts: Any, status: str) -> int | None:
    if counts is None:
        return None
    return int(counts.total if status == "total" else getattr(counts, status))


def dataset_page_response(request: Request, stored: StoredDataset) -> Response:
    """The dataset page, or the tombstone page (410) with the last metadata and the reason."""
    ctx = _ctx(request)
    lang = request_language(request)
    base = ctx.settings.base_url
    schemaorg = dataset_to_schemaorg(stored.dataset, base, lang)
    values = {
        "stored": stored,
        "ds": stored.dataset,
        "cite_as": dataset_iri(stored.guid, base),
        "formats": [(suffix, fmt) for suffix, fmt in SUFFIXES.items()],
        "case_rows": _case_rows(stored),
        "revisions": _recent_revisions(ctx, stored.guid),
        "schemaorg": schemaorg,
        "fair": assess(stored.dataset, stored.guid),
        "trained_models": models_of(ctx).trained_on(stored.guid),
    }
    headers = {"Link": signposting(stored, base)}
    if stored.is_tombstone:
        return render(request, "tombstone.html", values, status_code=410, headers=headers)
    return render(request, "dataset.html", values, headers=headers)


def _changed_fields(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    if before is None:
        return []
    keys = sorted(set(before) | set(after))
    return [k for k in keys if before.get(k) != after.get(k)]


# --- routes ---------------------------------------------------------------------------------


@router.get("/")
def home(
    request: Request,
    q: str = "",
    cursor: str | None = None,
    sort: str = "relevance",
    limit: int = Query(50, ge=1, le=100),
) -> Response:
    ctx = _ctx(request)
    lang = request_language(request)
    try:
        view: SearchView = run_search(ctx, request, q=q, cursor=cursor, limit=limit, sort=sort, lang=lang)
    except QueryError as exc:
        return render(request, "error.html", {"status": 400, "message": str(exc)}, status_code=400)
    return render(request, "home.html", {"view": view, "q": q})


@router.get("/dataset/{guid:path}/revisions")
def revisions_page(request: Request, guid: str) -> Response:
    ctx = _ctx(request)
    try:
        stored = visible(request, ctx.store.get(guid))
        revs = ctx.store.revisions(guid)
    except NotFound as exc:
        return not_found_page(request, str(exc))
    rows = []
    previous: dict[str, Any] | None = None
    for rev in revs:
        content = rev.dataset.content()
        rows.append({"rev": rev, "changed": _changed_fields(previous, content)})
        previous = content
    return render(request, "revisions.html", {"stored": stored, "ds": stored.dataset, "rows": rows[::-1]})


@router.get("/dataset/{guid:path}")
def dataset_page(request: Request, guid: str) -> Response:
    ctx = _ctx(request)
    try:
        stored = visible(request, ctx.store.get(guid))
    except NotFound as exc:
        return not_found_page(request, str(exc))
    return dataset_page_response(request, stored)


# --- wiring -------------------------------------------------------------------------------


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def router_setup(app: FastAPI, ctx: Context) -> None:
    """Mount the pages, their static files, and an HTTP-error view (HTML for browsers, JSON otherwise)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(STATIC_DIR)), name="static")

    # FastAPI's HTTPException subclasses Starlette's, so this one handler serves both.
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail
        if isinstance(detail, dict):
            error = {"code": str(detail.get("code", f"http_{exc.status_code}")), **detail}
        else:
            error = {"code": f"http_{exc.status_code}", "message": str(detail)}
        if _wants_html(request):
            return render(
                request,
                "error.html",
                {"status": exc.status_code, "message": error.get("message", "")},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        return JSONResponse({"error": error}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

