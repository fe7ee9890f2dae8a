"""FAIR self-assessment over HTTP: ``/api/datasets/{guid}/fair`` for one record and
``/api/fair`` for the whole catalog (stewards' report). Scoring is :mod:`catalog.fair.assess`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from catalog.api.visibility import visible
from catalog.context import Context
from catalog.fair.assess import assess
from catalog.fair.cache import fair_cache_of

router = APIRouter(tags=["fair"])


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def report(ctx: Context) -> dict[str, Any]:
    """The catalog-wide report: kept per process and brought up to date from the store's change mark
    (:mod:`catalog.fair.cache`), so a request re-scores only the records changed since the last one."""
    return fair_cache_of(ctx.store, ctx.extensions).report()


@router.get("/api/datasets/{guid:path}/fair", summary="FAIR self-assessment of one dataset (F-UJI metric names)")
def dataset_fair(request: Request, guid: str) -> JSONResponse:
    stored = visible(request, _ctx(request).store.get(guid))
    body = assess(stored.dataset, stored.guid).as_json()
    return JSONResponse(body, status_code=410 if stored.is_tombstone else 200)


@router.get("/api/fair", summary="FAIR self-assessment of the whole catalog (for stewards)")
def catalog_fair(request: Request) -> dict[str, Any]:
    return report(_ctx(request))
