"""Store upsert speed on SQLite and PostgreSQL beside a bare SQLAlchemy Core bulk insert."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from bench.datagen import generated_datasets
from catalog.bootstrap import open_store
from catalog.settings import Settings
from catalog.store import NewRecord, content_hash
from catalog.tables import DatasetRow

PG_ADMIN = os.environ.get("FAIRGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_database() -> tuple[str, str] | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            name = f"fairgate_bench_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"   postgres: skipped, not reachable at {PG_ADMIN} ({exc})")
        return None
    return name, "postgresql+psycopg://" + PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(label: str, url_for: Callable[[str], str], n: int) -> None:
    datasets = list(generated_datasets(n))
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=tmp)
    # ours: the store's batched upsert (hashing, revisions, unchanged detection)
    store = open_store(settings, url=url_for("store"))
    source = f"{settings.guid_prefix}/{uuid.uuid4()}"
    started = time.perf_counter()
    for i in range(0, n, 1000):
        batch = [NewRecord(d, d.identifier) for d in datasets[i : i + 1000]]
        store.save_many(batch, actor="bench", activity="bench", source_guid=source)
    ours = time.perf_counter() - started
    # baseline: the same rows through SQLAlchemy Core's bulk insert, no revisions, no checks
    base_store = open_store(settings, url=url_for("baseline"))
    now = datetime.now(UTC)
    rows = []
    for d in datasets:
        content = d.content()
        rows.append(
            {
                "guid": f"x/{uuid.uuid4()}",
                "revision": 1,
                "content_hash": content_hash(content),
                "content": content,
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
        )
    started = time.perf_counter()
    with base_store.engine.begin() as conn:
        for i in range(0, n, 1000):
            conn.execute(insert(DatasetRow), rows[i : i + 1000])
    base = time.perf_counter() - started
    print(
        f"store upsert {label}: {n} records in {ours:.2f} s = {n / ours:,.0f} rec/s | "
        f"baseline Core bulk insert {n / base:,.0f} rec/s | ratio {base / ours:.2f}x of baseline speed"
    )
    started = time.perf_counter()
    for i in range(0, n, 1000):
        batch = [NewRecord(d, d.identifier) for d in datasets[i : i + 1000]]
        store.save_many(batch, actor="bench", activity="bench", source_guid=source)
    again = time.perf_counter() - started
    print(f"store re-upsert unchanged {label}: {n / again:,.0f} rec/s ({ours / again:.1f}x faster than first)")
    store.engine.dispose()
    base_store.engine.dispose()


def main(argv: list[str]) -> None:
    n = 1000 if "--quick" in argv else 10_000
    tmp = Path(tempfile.mkdtemp())
    _run("sqlite", lambda name: f"sqlite:///{tmp / name}.db", n)
    pg = [_pg_database(), _pg_database()]
    if all(pg):
        urls = {"store": pg[0][1], "baseline": pg[1][1]}  # type: ignore[index]
        try:
            _run("postgresql", lambda name: urls[name], n)
        finally:
            for item in pg:
                _drop(item[0])  # type: ignore[index]
