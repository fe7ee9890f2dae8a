"""Mount the consent registry's own router under ``/api/consent`` with this deployment's settings.

``consent`` never imports ``catalog``; the app hands the registry its settings through
FastAPI's dependency override instead.
"""

from __future__ import annotations

from fastapi import FastAPI

from catalog.context import Context
from consent.api import get_consent_settings
from consent.api import router as consent_router


def router_setup(app: FastAPI, ctx: Context) -> None:
    app.include_router(consent_router, prefix="/api/consent")
    app.dependency_overrides[get_consent_settings] = lambda: ctx.settings
