"""Harvest REST API: sources, runs, record errors and duplicate links under ``/api/harvest``.

Reading is open; registering and running sources needs the steward role (a bearer token). A run
started over the API runs to completion inside the request and answers its summary.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from catalog.api.auth import Steward, audit
from catalog.context import Context
from catalog.harvest import HarvestService, SourceBusy

router = APIRouter(prefix="/api/harvest", tags=["harvest"])


class NewSource(BaseModel):
    kind: str = Field(description="ckan, dcat, datajson, oaipmh or local")
    url: str = Field(description="the source's URL (or folder, for local)")
    name: str = Field(description="short name, lower case, e.g. 'depositar'")
    options: dict[str, Any] = Field(default_factory=dict, description="e.g. api_key, rows, metadata_prefix")


class RunRequest(BaseModel):
    full: bool = Field(default=True, description="full run (detects withdrawals) or only changes since last")
    force: bool = Field(default=False, description="re-map records even when their payload is unchanged")


def harvest_service(request: Request) -> HarvestService:
    """The app's harvest service (shared by the API and the steward pages)."""
    return harvest_service_of(request.app.state.ctx)


def harvest_service_of(ctx: Context) -> HarvestService:
    service = ctx.extensions.get("harvest")
    if not isinstance(service, HarvestService):
        service = HarvestService(ctx.store)
        ctx.extensions["harvest"] = service
    return service


@router.get("/sources")
def list_sources(request: Request) -> dict[str, Any]:
    return {"items": [s.as_dict() for s in harvest_service(request).sources()]}


@router.post("/sources", status_code=201)
def add_source(body: NewSource, request: Request, who: Steward) -> dict[str, Any]:
    added = harvest_service(request).add_source(body.kind, body.url, name=body.name, options=body.options)
    audit(request, who, "harvest.source.add", body.name, detail={"kind": body.kind, "url": body.url})
    return added.as_dict()


@router.get("/sources/{name}")
def get_source(name: str, request: Request) -> dict[str, Any]:
    return harvest_service(request).source(name).as_dict()


@router.get("/sources/{name}/runs")
def list_runs(name: str, request: Request, limit: int = 20) -> dict[str, Any]:
    return {"items": [r.as_dict() for r in harvest_service(request).runs(name, limit=limit)]}


@router.post("/sources/{name}/runs")
def start_run(
    name: str, request: Request, who: Steward, body: RunRequest | None = None
) -> dict[str, Any]:
    body = body or RunRequest()
    audit(request, who, "harvest.run", name, detail={"full": body.full, "force": body.force})
    try:
        return harvest_service(request).run(name, full=body.full, force=body.force).as_dict()
    except SourceBusy as exc:
        raise HTTPException(409, detail={"code": exc.code, "message": str(exc)}) from exc


@router.get("/sources/{name}/errors")
def latest_errors(name: str, request: Request) -> dict[str, Any]:
    return {"items": [e.as_dict() for e in harvest_service(request).errors(name=name)]}


@router.get("/runs/{run_id}")
def get_run(run_id: int, request: Request) -> dict[str, Any]:
    return harvest_service(request).run_summary(run_id).as_dict()


@router.get("/runs/{run_id}/errors")
def run_errors(run_id: int, request: Request) -> dict[str, Any]:
    return {"items": [e.as_dict() for e in harvest_service(request).errors(run_id=run_id)]}


@router.get("/duplicates")
def duplicates(request: Request, guid: str | None = None) -> dict[str, Any]:
    return {"items": [d.as_dict() for d in harvest_service(request).duplicates(guid)]}
