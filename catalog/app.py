"""The FastAPI application factory: a composition of routers, nothing more.

Behaviour lives in the packages that own it; this module only wires them together
and turns known exceptions into JSON errors with a code and a human message.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from catalog.api.auth import bearer_principal, closed, install_page_refusals, install_sessions
from catalog.context import Context, open_context
from catalog.settings import Settings, get_settings
from catalog.store import Conflict, NotFound, StoreError

log = logging.getLogger("fairgate")

# Router modules, each exposing ``router`` (an APIRouter). Order matters for the
# catch-all page routes, which come last.
_ROUTER_MODULES: list[str] = [
    "catalog.api.fair",  # before datasets: /api/datasets/{guid}/fair would read as a GUID
    "catalog.api.datasets",
    "catalog.api.croissant",
    "catalog.api.resolver",
    "catalog.api.models",  # before catalog.web.models_pages: /model/{guid}.ttl is RDF, /model/{guid} the page
    "catalog.api.search",
    "catalog.api.harvest",
    "catalog.api.consent_mount",
    "catalog.api.ckan_action",
    "catalog.api.oai_provider",
    "catalog.api.applications",
    "catalog.web.account",
    "catalog.web.access_pages",
    "catalog.web.access_project",
    "catalog.web.access_outputs",
    "catalog.web.access_steward",  # before catalog.web.steward: /steward/applications/… is its own
    "catalog.web.workbench",
    "catalog.web.import_page",
    "catalog.web.steward",
    "catalog.web.portal",
    "catalog.web.consent_workbench",
    "catalog.web.fair_page",
    "catalog.web.models_pages",
    "catalog.web.pages",  # catch-all page routes: keep last
]


def create_app(settings: Settings | None = None, context: Context | None = None) -> FastAPI:
    settings = settings or (context.settings if context else get_settings())
    ctx = context or open_context(settings)
    app = FastAPI(
        lifespan=_background_work,
        title="fairgate",
        description="FAIR catalog of health datasets and dynamic-consent registry",
        version="0.1.0",
        # FastAPI's /docs and /redoc pages load their scripts from a CDN; we load nothing from
        # third parties, so the API is described by /openapi.json alone.
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    # Consent routes authenticate bearer tokens through this (``consent`` never imports ``catalog``).
    app.state.bearer_principal = functools.partial(bearer_principal, ctx)
    app.state.auth_closed = functools.partial(closed, ctx)
    for name in _ROUTER_MODULES:
        module = importlib.import_module(name)
        module.router_setup(app, ctx) if hasattr(module, "router_setup") else app.include_router(module.router)
    _install_error_handlers(app)
    install_page_refusals(app)
    install_sessions(app, settings)
    return app


@contextlib.asynccontextmanager
async def _background_work(app: FastAPI) -> AsyncIterator[None]:
    """Work that runs beside the requests while the app serves: the harvest scheduler, access expiry."""
    from catalog.api.harvest import harvest_service_of
    from catalog.applications.expiry import ExpiryScheduler
    from catalog.applications.service import service_of
    from catalog.harvest.background import Scheduler
    from catalog.periodic import PeriodicJob

    ctx: Context = app.state.ctx
    jobs: list[PeriodicJob] = []
    if ctx.settings.harvest_scheduler_seconds > 0:
        jobs.append(Scheduler(harvest_service_of(ctx), ctx.settings.harvest_scheduler_seconds))
    if ctx.settings.access_expiry_seconds > 0:
        jobs.append(ExpiryScheduler(service_of(ctx), ctx.settings.access_expiry_seconds))
    for job in jobs:
        job.start()
    try:
        yield
    finally:
        for job in jobs:
            job.stop()


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, exc.code, str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _error(409, exc.code, str(exc))

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> JSONResponse:
        return _error(400, exc.code, str(exc))

    @app.exception_handler(ValidationError)
    async def _invalid(_: Request, exc: ValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors(include_input=False)
        ]
        return _error(422, "invalid", "the record is not valid; fix every listed field", problems=problems)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()]
        return _error(422, "invalid_request", "the request is not valid; fix every listed field", problems=problems)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(
            500, "internal", "something went wrong on our side; try again, and tell the operator if it persists"
        )
