"""The catalog's one engine and session factory (SQLite with WAL by default, PostgreSQL supported)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class CanonicalJSON(str):
    """JSON text that is already serialised; written to JSON columns as it is."""


def _json_serializer(value: Any) -> str:
    # Records are hashed over their canonical JSON; handing the same text to the database
    # saves serialising every record twice more (dataset row and revision row).
    if isinstance(value, CanonicalJSON):
        return value
    return json.dumps(value, ensure_ascii=False)


class Base(DeclarativeBase):
    """Declarative base of every catalog table (the consent registry has its own)."""


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``; SQLite files get WAL and a busy timeout."""
    url = normalise_url(url)
    kwargs: dict[str, Any] = {"future": True, "json_serializer": _json_serializer}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        # Custom plans: psycopg prepares a statement after five runs and PostgreSQL would keep one generic
        # plan for the connection's life, made on the tables as they were. A harvest grows them from empty
        # within one connection, and the generic plan of its look-up of stored upstream ids filtered every
        # row of the source (316 ms a batch at 17,000 records; a 20,000-record harvest took 17.1 s, 11.2 s
        # with custom plans). No JIT: the catalog's statements are short.
        options = str(make_url(url).query.get("options") or "")
        kwargs["connect_args"] = {"options": f"{options} -c plan_cache_mode=force_custom_plan -c jit=off".strip()}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the web server read while a harvest writes; NORMAL sync is durable in WAL mode
    # against process crashes, which is the failure the catalog (derived, re-harvestable) cares about.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, future=True)
