"""Consent benchmarks: release filtering, concurrent API appends on PostgreSQL, withdrawal propagation.

Generates its own data and prints every figure beside a baseline measured in the same run.
``--quick`` runs small sizes; ``--cases`` sets the release-filter size (default 10,000,000).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pyarrow as pa

from consent.decide import Use
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release_filter import STATE_SCHEMA, arrow_of, configure, filter_release
from consent.settings import ConsentSettings
from consent.state import StateEntry, StateKey, decide_current
from schemas.consent import Category, Enrolment, EventKind, EventRequest, Policy, format_instant, parse_instant

DATASET = "dg.BENCH/00000000-0000-4000-8000-000000000001"
NOW = datetime(2020, 1, 1, tzinfo=UTC)


class PeakMemory:
    """Peak RSS above the starting RSS while the block runs (sampled every 10 ms)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakMemory:
        self.start = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss - self.start)
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss - self.start)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# --- 1. release filter ----------------------------------------------------------------------------------


def release_data(n: int) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """n subjects with one case each; A 10% (80% consented), B 30%, C 60% (notified 60 days ago, 5% of
    letters returned); 1.4% opt-outs or withdrawals."""
    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count() or 2}")
    con.execute(
        f"""CREATE TABLE s AS SELECT i, sha256(CAST(i AS VARCHAR)) AS subject, 'case-' || i AS case_id,
            hash(i * 7919) % 1000 AS r, hash(i * 104729) % 1000 AS q
            FROM range({n}) t(i)"""
    )
    enrolled = format_instant(NOW - timedelta(days=365))
    membership = arrow_of(con.sql("SELECT case_id, subject FROM s"))
    enrolments = arrow_of(
        con.sql(
            f"""SELECT subject, CASE WHEN r < 100 THEN 'A' WHEN r < 400 THEN 'B' ELSE 'C' END AS category,
                '{enrolled}' AS enrolled_at FROM s"""
        )
    )
    sent = format_instant(NOW - timedelta(days=60))
    back = format_instant(NOW - timedelta(days=50))
    opted = format_instant(NOW - timedelta(days=10))
    state = arrow_of(
        con.sql(
            f"""
            SELECT subject, 'choice' AS facet, '*' AS scope_dataset, '*' AS scope_purpose,
                   'consent_given' AS kind, '{enrolled}' AS effective_at, 1::BIGINT AS seq
              FROM s WHERE r < 80
            UNION ALL
            SELECT subject, 'notice_sent', '*', '*', 'notice_sent', '{sent}', 1 FROM s WHERE r >= 400
            UNION ALL
            SELECT subject, 'notice_undelivered', '*', '*', 'notice_undelivered', '{back}', 2
              FROM s WHERE r >= 400 AND q < 50
            UNION ALL
            SELECT subject, 'choice', '{DATASET}', '*', CASE WHEN r < 400 THEN 'withdrawn' ELSE 'opted_out' END,
                   '{opted}', 3 FROM s WHERE q >= 986
            """
        )
    ).cast(STATE_SCHEMA)
    cases = arrow_of(con.sql("SELECT case_id FROM s"))
    con.close()
    return cases, membership, enrolments, state


def bench_release_filter(n: int) -> None:
    cases, membership, enrolments, state = release_data(n)
    use = Use(DATASET, "DUO:0000006")
    policy = Policy()
    secret = b"k" * 32
    con = duckdb.connect()
    configure(con, threads=os.cpu_count() or 2)
    with PeakMemory() as mem:
        seconds, out = timed(
            lambda: filter_release(
                cases, membership, enrolments, state, DATASET, use.covering_scopes(), policy, NOW, secret, con
            )
        )
    released = int(pa.compute.sum(out.column("permit")).as_py())
    con.register("cases", cases)
    con.register("membership", membership)
    con.register("state", state)
    baseline_sql = """
        SELECT c.case_id FROM cases c JOIN membership m ON m.case_id = c.case_id
        WHERE m.subject NOT IN (SELECT subject FROM state WHERE kind IN ('opted_out', 'withdrawn'))"""
    with PeakMemory() as base_mem:
        base_seconds, base = timed(lambda: arrow_of(con.sql(baseline_sql)))
    # Naive per-row Python on 1% of the cases: dict look-ups and decide_current per case.
    sample = max(n // 100, 1)
    by_subject_state: dict[str, dict[StateKey, StateEntry]] = {}
    sample_subjects = membership.slice(0, sample).column("subject")
    sample_state = state.filter(pa.compute.is_in(state.column("subject"), value_set=sample_subjects))
    for row in sample_state.to_pylist():
        by_subject_state.setdefault(row["subject"], {})[
            StateKey(row["facet"], row["scope_dataset"], row["scope_purpose"])
        ] = StateEntry(EventKind(row["kind"]), parse_instant(row["effective_at"]), row["seq"])
    members = dict(
        zip(*(membership.slice(0, sample).column(c).to_pylist() for c in ("case_id", "subject")), strict=True)
    )
    cats = dict(zip(*(enrolments.slice(0, sample).column(c).to_pylist() for c in ("subject", "category")), strict=True))

    def naive() -> int:
        kept = 0
        for case_id in cases.slice(0, sample).column("case_id").to_pylist():
            subject = members[case_id]
            enrolment = Enrolment(
                subject=subject,
                dataset=DATASET,
                institution="X",
                category=Category(cats[subject]),
                enrolled_at=NOW - timedelta(days=365),
            )
            kept += decide_current(by_subject_state.get(subject, {}), enrolment, policy, use, NOW).permit
        return kept

    naive_seconds, _ = timed(naive)
    print(
        f"release filter duckdb: {n:,} cases x {n:,} subjects in {seconds:.2f} s, peak +{mem.peak / 2**20:,.0f} MiB, "
        f"{released:,} released | baseline plain duckdb anti-join {base_seconds:.2f} s "
        f"(peak +{base_mem.peak / 2**20:,.0f} MiB, {base.num_rows:,} rows) | ratio {seconds / base_seconds:.2f}"
    )
    print(
        f"release filter naive python loop: {sample:,} cases (1%) in {naive_seconds:.2f} s = "
        f"{sample / naive_seconds:,.0f} cases/s | set-based {n / seconds:,.0f} cases/s | "
        f"ratio {(n / seconds) / (sample / naive_seconds):.0f}x faster"
    )


# --- 2. concurrent appends over the API on PostgreSQL ----------------------------------------------------


def bench_api_appends(pg_url: str, clients: int, per_client: int, data_dir: Path) -> None:
    import httpx
    import uvicorn
    from fastapi import FastAPI

    from consent.api import get_consent_settings, router

    settings = ConsentSettings(data_dir=data_dir, consent_database_url=pg_url, steward_token="bench")
    registry = ConsentRegistry.from_settings(settings)
    subjects = [f"{i:064x}" for i in range(1, clients * 50 + 1)]
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.C, NOW - timedelta(days=30)) for s in subjects])
    direct = [EventRequest(subject=subjects[i % len(subjects)], kind=EventKind.NOTICE_SENT) for i in range(500)]
    direct_seconds, _ = timed(lambda: [registry.append([r]) for r in direct])

    app = FastAPI()
    app.include_router(router, prefix="/api/consent")
    app.dependency_overrides[get_consent_settings] = lambda: settings
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    latencies: list[float] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer bench"}) as h:
            for k in range(per_client):
                body = {"subject": subjects[(c * 50 + k) % len(subjects)], "kind": "opted_out", "channel": "portal"}
                start = time.perf_counter()
                response = h.post("/api/consent/events", json=body, headers={"Idempotency-Key": f"{c}-{k}"})
                mine.append(time.perf_counter() - start)
                response.raise_for_status()
        with lock:
            latencies.extend(mine)

    seconds, _ = timed(lambda: list(ThreadPoolExecutor(clients).map(client, range(clients))))
    server.should_exit = True
    thread.join(timeout=10)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    total = clients * per_client
    verify_seconds, result = timed(registry.verify)
    print(
        f"api appends postgresql: {clients} clients x {per_client} = {total:,} events in {seconds:.2f} s = "
        f"{total / seconds:,.0f} events/s, p99 {p99 * 1000:.0f} ms, verify {'ok' if result.ok else 'FAILED'} "
        f"({result.events_checked:,} events, {verify_seconds:.2f} s) | baseline direct registry.append, 1 writer: "
        f"{len(direct) / direct_seconds:,.0f} events/s | ratio {(total / seconds) / (len(direct) / direct_seconds):.2f}"
    )
    registry.engine.dispose()


# --- 3. withdrawal propagation ----------------------------------------------------------------------------


def _propagation_registry(path: Path, releases: int, members: int, pool: int, opt_outs: list[str]) -> ConsentRegistry:
    settings = ConsentSettings(data_dir=path)
    registry = ConsentRegistry.from_settings(settings)
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.C, NOW - timedelta(days=400)) for s in opt_outs])
    if releases:
        db = sqlite3.connect(path / "consent.db")
        # Bench setup only: bulk-load without per-row index upkeep or fsyncs, then index once.
        db.execute("PRAGMA synchronous=OFF")
        db.execute("DROP INDEX IF EXISTS ix_consent_release_members_subject")
        until = format_instant(NOW + timedelta(days=3650))
        created = format_instant(NOW - timedelta(days=100))
        rows = [(f"rel-{r}", "app", DATASET, "DUO:0000006", until, created, "{}") for r in range(releases)]
        db.executemany("INSERT INTO consent_releases VALUES (?,?,?,?,?,?,?)", rows)
        db.executemany(
            "INSERT INTO consent_release_scopes VALUES (?,?)",
            [(f"rel-{r}", c) for r in range(releases) for c in ("DUO:0000006", "DUO:0000042", "DUO:0000004")],
        )
        rnd = random.Random(7)
        for r in range(releases):
            picked = rnd.sample(range(pool), members)
            db.executemany(
                "INSERT INTO consent_release_members VALUES (?,?,?,?)",
                ((f"rel-{r}", f"case-{p}", f"{p:064x}", f"{r:08x}{p:024x}") for p in picked),
            )
        db.commit()
        db.execute("CREATE INDEX ix_consent_release_members_subject ON consent_release_members (subject)")
        db.commit()
        db.close()
    return registry


def bench_withdrawals(releases: int, members: int, opt_out_count: int, data_dir: Path) -> None:
    pool = max(releases * members // 10, opt_out_count)
    opt_outs = [f"{p:064x}" for p in random.Random(3).sample(range(pool), opt_out_count)]
    build_seconds, registry = timed(lambda: _propagation_registry(data_dir / "with", releases, members, pool, opt_outs))
    requests = [EventRequest(subject=s, kind=EventKind.OPTED_OUT, channel="portal") for s in opt_outs]
    seconds, _ = timed(lambda: registry.append(requests))
    notices = registry.withdrawal_notices()
    items = sum(len(n.release_pseudonyms) for n in notices)
    baseline = _propagation_registry(data_dir / "without", 0, 0, pool, opt_outs)
    base_seconds, _ = timed(lambda: baseline.append(requests))
    print(
        f"withdrawal propagation sqlite: {opt_out_count:,} opt-outs vs {releases:,} releases x {members:,} members "
        f"-> {len(notices):,} notices / {items:,} pseudonyms, append+propagate {seconds:.2f} s "
        f"(propagation ~{max(seconds - base_seconds, 0):.2f} s; setup {build_seconds:.0f} s) | baseline same append "
        f"without releases {base_seconds:.2f} s | ratio {seconds / base_seconds:.2f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--cases", type=int, default=None, help="release filter size (default 10,000,000)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FAIRGATE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args(argv)
    quick = args.quick
    bench_release_filter(args.cases or (100_000 if quick else 10_000_000))
    with tempfile.TemporaryDirectory() as tmp:
        bench_withdrawals(*((50, 1_000, 1_000) if quick else (1_000, 10_000, 10_000)), Path(tmp))
        try:
            pg_url = _fresh_pg_database(args.pg_url)
        except Exception as exc:  # no server: say so instead of a bare failure
            print(f"api appends postgresql: skipped, PostgreSQL not reachable at {args.pg_url}: {exc}")
            return
        try:
            bench_api_appends(pg_url, 32, 10 if quick else 100, Path(tmp) / "api")
        finally:
            _drop_pg_database(args.pg_url, pg_url)


def _fresh_pg_database(admin_url: str) -> str:
    import psycopg

    name = f"fairgate_bench_{os.getpid()}"
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(admin_url: str, url: str) -> None:
    import psycopg

    from consent.api import _registries

    for registry in _registries.values():
        registry.engine.dispose()
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
