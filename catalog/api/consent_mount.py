"""Mount the consent registry's own router under ``/api/consent`` with this deployment's settings.

``consent`` never imports ``catalog``; the app hands the registry its settings through
``consent.api.use_settings`` (read once per app, not per request).
"""

from __future__ import annotations

from fastapi import FastAPI

from catalog.context import Context
from consent.api import router as consent_router
from consent.api import use_settings


def router_setup(app: FastAPI, ctx: Context) -> None:
    app.include_router(consent_router, prefix="/api/consent")
    use_settings(app, ctx.settings)
