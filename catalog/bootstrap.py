"""Open a deployment's catalog store: create the data folder and bring the schema to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from catalog.db import make_engine
from catalog.settings import Settings
from catalog.store import Store

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def migrate(engine: Engine) -> None:
    """Upgrade the catalog database to the newest migration (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_store(settings: Settings, *, url: str | None = None) -> Store:
    """The catalog store of ``settings``, migrated and ready."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url or settings.resolved_database_url())
    migrate(engine)
    return Store(engine, settings.guid_prefix)
