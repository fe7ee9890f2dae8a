"""Consent benchmarks: release filtering, concurrent API appends on PostgreSQL, withdrawal propagation.

Generates its own data and prints every figure beside a baseline measured in the same run.
``--quick`` runs small sizes; ``--cases`` sets the release-filter size (default 10,000,000);
``python -m bench.bench_consent --only release`` runs the release filter alone (``python -m bench``
passes only ``--quick`` on).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psutil
import psycopg
import pyarrow as pa
from sqlalchemy import bindparam, select

from consent import membership
from consent import tables as consent_tables
from consent.case_facts import micros
from consent.database import bulk_insert, make_engine
from consent.decide import Use
from consent.membership import MembershipBuilder
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release_filter import CASE_FACTS_SCHEMA, STATE_SCHEMA, arrow_of, batched, configure, filter_current
from consent.settings import ConsentSettings
from consent.state import StateEntry, StateKey, decide_current
from schemas.consent import Category, Enrolment, EventKind, EventRequest, Policy, format_instant, parse_instant

DATASET = "dg.BENCH/00000000-0000-4000-8000-000000000001"
RELEASE_ROUNDS = 3
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
    letters returned); 1.4% opt-outs or withdrawals of the dataset, 0.6% refusals of commercial use.

    Shaped as a release loads them from the registry (``consent.release.load_current``): the request,
    the dataset's ``consent_cases`` rows with their facts, and the ``consent_state`` rows of facet
    ``choice``; plus all state rows, for the naive loop."""
    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count() or 2}")
    con.execute(
        f"""CREATE TABLE s AS SELECT i, sha256(CAST(i AS VARCHAR)) AS subject, 'case-' || i AS case_id,
            hash(i * 7919) % 1000 AS r, hash(i * 104729) % 1000 AS q
            FROM range({n}) t(i)"""
    )
    enrolled = format_instant(NOW - timedelta(days=365))
    sent = format_instant(NOW - timedelta(days=60))
    back = format_instant(NOW - timedelta(days=50))
    opted = format_instant(NOW - timedelta(days=10))
    us = {k: micros(parse_instant(v)) for k, v in dict(enrolled=enrolled, sent=sent, back=back, opted=opted).items()}
    members = arrow_of(
        con.sql(
            f"""SELECT case_id, subject, CASE WHEN r < 100 THEN 'A' WHEN r < 400 THEN 'B' ELSE 'C' END AS category,
                {us["enrolled"]}::BIGINT AS enrolled_us,
                CASE WHEN r >= 400 THEN {us["sent"]}::BIGINT END AS notice_sent_us,
                CASE WHEN r >= 400 AND q < 50 THEN {us["back"]}::BIGINT END AS notice_undelivered_us,
                false AS deceased,
                CASE WHEN q >= 986 THEN CASE WHEN r < 400 THEN 'withdrawn' ELSE 'opted_out' END
                     WHEN r < 80 THEN 'consent_given' END AS choice_kind,
                CASE WHEN q >= 986 THEN {us["opted"]} WHEN r < 80 THEN {us["enrolled"]} END AS choice_us,
                CASE WHEN q >= 986 THEN 1 WHEN r < 80 THEN 2 END AS choice_rank,
                CASE WHEN q >= 986 THEN 3 WHEN r < 80 THEN 1 END AS choice_seq,
                q >= 980 AND q < 986 AS purpose_choice
                FROM s"""
        )
    ).cast(CASE_FACTS_SCHEMA)
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
            UNION ALL
            SELECT subject, 'choice', '*', 'DUO:0000046', 'opted_out', '{opted}', 4 FROM s WHERE q >= 980 AND q < 986
            """
        )
    ).cast(STATE_SCHEMA)
    cases = arrow_of(con.sql("SELECT case_id FROM s"))
    con.close()
    # One chunk per column, as the registry's loader builds them.
    choices = state.filter(pa.compute.equal(state.column("facet"), "choice")).combine_chunks()
    return cases.combine_chunks(), members.combine_chunks(), choices, state.combine_chunks()


def bench_release_filter(n: int, memory_limit: str | None = None) -> None:
    cases, members, choices, state = release_data(n)
    use = Use(DATASET, "DUO:0000006")
    policy = Policy()
    secret = b"k" * 32
    con = duckdb.connect()
    configure(con, memory_limit=memory_limit, threads=os.cpu_count() or 2)
    # Timed: everything a release does per request once its inputs are in memory (deciding every case,
    # pseudonymising the released ones). Not timed: loading consent_cases and consent_state from
    # SQLite/PostgreSQL into Arrow, and writing the release files and stored membership afterwards.
    # The same zero-copy batches filter_current hands DuckDB, so the baseline's scans use every thread too.
    # (Names of their own: filter_current registers and drops "cases" and "members" on this connection.)
    con.register("base_cases", batched(cases))
    con.register("base_membership", batched(members))
    con.register("base_state", batched(choices))
    baseline_sql = """
        SELECT c.case_id FROM base_cases c JOIN base_membership m ON m.case_id = c.case_id
        WHERE m.subject NOT IN (SELECT subject FROM base_state WHERE kind IN ('opted_out', 'withdrawn'))"""
    # Three rounds, ours then the baseline in each; each figure is the median of its three, each peak
    # the largest (the first round's, with every page fresh from the kernel: costly on these machines,
    # and whoever runs second in a round reuses what the first freed).
    ours_runs: list[tuple[float, int]] = []
    base_runs: list[tuple[float, int]] = []
    for _ in range(RELEASE_ROUNDS):
        with PeakMemory() as mem:
            seconds, out = timed(
                lambda: filter_current(
                    cases, members, choices, DATASET, use.covering_scopes(), policy, NOW, secret, con
                )
            )
        ours_runs.append((seconds, mem.peak))
        released = int(pa.compute.sum(out.column("permit")).as_py())
        del out  # not kept alive across the next round
        with PeakMemory() as base_mem:
            base_seconds, base = timed(lambda: arrow_of(con.sql(baseline_sql)))
        base_runs.append((base_seconds, base_mem.peak))
    seconds = statistics.median(s for s, _ in ours_runs)
    base_seconds = statistics.median(s for s, _ in base_runs)
    peak = max(p for _, p in ours_runs)
    base_peak = max(p for _, p in base_runs)
    # Naive per-row Python on 1% of the cases: dict look-ups and decide_current per case.
    sample = max(n // 100, 1)
    by_subject_state: dict[str, dict[StateKey, StateEntry]] = {}
    sample_subjects = members.slice(0, sample).column("subject")
    sample_state = state.filter(pa.compute.is_in(state.column("subject"), value_set=sample_subjects))
    for row in sample_state.to_pylist():
        by_subject_state.setdefault(row["subject"], {})[
            StateKey(row["facet"], row["scope_dataset"], row["scope_purpose"])
        ] = StateEntry(EventKind(row["kind"]), parse_instant(row["effective_at"]), row["seq"])
    owners = dict(zip(*(members.slice(0, sample).column(c).to_pylist() for c in ("case_id", "subject")), strict=True))
    cats = dict(zip(*(members.slice(0, sample).column(c).to_pylist() for c in ("subject", "category")), strict=True))

    def naive() -> int:
        kept = 0
        for case_id in cases.slice(0, sample).column("case_id").to_pylist():
            subject = owners[case_id]
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
        f"release filter duckdb{f' (memory_limit {memory_limit})' if memory_limit else ''}: "
        f"{n:,} cases x {n:,} subjects in {seconds:.2f} s (median of {RELEASE_ROUNDS}), peak +{peak / 2**20:,.0f} MiB, "
        f"{released:,} released | baseline plain duckdb anti-join {base_seconds:.2f} s "
        f"(peak +{base_peak / 2**20:,.0f} MiB, {base.num_rows:,} rows) | ratio {seconds / base_seconds:.2f}"
    )
    print(
        f"release filter naive python loop: {sample:,} cases (1%) in {naive_seconds:.2f} s = "
        f"{sample / naive_seconds:,.0f} cases/s | set-based {n / seconds:,.0f} cases/s | "
        f"ratio {(n / seconds) / (sample / naive_seconds):.0f}x faster"
    )


# --- 2. concurrent appends over the API on PostgreSQL ----------------------------------------------------


def create_full_app() -> Any:
    """fairgate's whole app, as ``fairgate serve`` builds it (catalog, search and consent routes), configured
    from ``FAIRGATE_*`` variables (the catalog in its embedded default under the data directory)."""
    from catalog.app import create_app
    from catalog.settings import Settings

    return create_app(Settings())


def create_router_app() -> Any:
    """The consent router alone, configured from ``FAIRGATE_*`` variables (uvicorn ``--factory`` target)."""
    from fastapi import FastAPI

    from consent.api import router, use_settings

    app = FastAPI()
    app.include_router(router, prefix="/api/consent")
    use_settings(app, ConsentSettings())  # read once from FAIRGATE_*, as an app does, not per request
    return app


async def _load(
    base_url: str, subjects: list[str], clients: int, per_client: int, limit_s: float, tag: str
) -> list[float]:
    """``clients`` concurrent keep-alive connections, each posting ``per_client`` opt-outs one after another.

    Plain HTTP/1.1 over asyncio streams (request written whole, status line and Content-Length read back):
    httpx's client cost about 7 ms of CPU per request here, more than the server, and capped the figure
    at the load generator on this 2-core machine."""
    import asyncio
    import json
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    latencies: list[float] = []
    deadline = time.perf_counter() + limit_s
    head = (
        f"POST /api/consent/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer bench\r\n"
        "Content-Type: application/json\r\n"
    )

    async def client(c: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for k in range(per_client):
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"load did not finish within {limit_s:.0f} s")
                subject = subjects[(c * 50 + k) % len(subjects)]
                body = json.dumps({"subject": subject, "kind": "opted_out", "channel": "portal"}).encode()
                request = f"{head}Idempotency-Key: {tag}-{c}-{k}\r\nContent-Length: {len(body)}\r\n\r\n"
                start = time.perf_counter()
                writer.write(request.encode() + body)
                response = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in response.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                payload = await reader.readexactly(length)
                latencies.append(time.perf_counter() - start)
                status_code = int(response[9:12])
                if status_code != 201:
                    raise RuntimeError(f"POST /events answered {status_code}: {payload[:300]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(client(c) for c in range(clients)))
    return latencies


def run_load(
    base_url: str, subjects: list[str], clients: int, per_client: int, limit_s: float, tag: str
) -> tuple[list[float], float, str | None]:
    """Entry point of the load-generator process (spawned, so it shares no interpreter with the server):
    latencies, the CPU seconds the generator itself used, and a failure as text (exception objects do not
    always survive the trip between processes)."""
    import asyncio

    cpu = time.process_time()
    try:
        latencies = asyncio.run(_load(base_url, subjects, clients, per_client, limit_s, tag))
        return latencies, time.process_time() - cpu, None
    except Exception as exc:
        return [], 0.0, f"{type(exc).__name__}: {exc}"


def _loaded(pool: Any, *args: Any) -> tuple[list[float], float]:
    latencies, cpu, error = pool.apply(run_load, args)
    if error:
        raise RuntimeError(f"load generator failed: {error}")
    return latencies, cpu


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (those still alive)."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _backend_pids(pg_url: str) -> list[int]:
    """PostgreSQL server processes serving connections to the bench database (other users' excluded)."""
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url.replace("+psycopg", "").rsplit("/", 1)[0] + "/" + name) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def bare_insert_rate(pg_url: str, connections: int, per_connection: int) -> float:
    """Ceiling of durable single-row transactions: ``connections`` threads each INSERT + COMMIT one small
    row at a time (synchronous_commit on, so each COMMIT waits for its WAL flush; PostgreSQL flushes the
    commits that wait together at once). No application code at all."""
    url = pg_url.replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_bare_insert (id bigserial PRIMARY KEY, body text)")
    links = [psycopg.connect(url) for _ in range(connections)]

    def write(conn: Any) -> None:
        for _ in range(per_connection):
            conn.execute("INSERT INTO bench_bare_insert (body) VALUES (%s)", ("x" * 200,))
            conn.commit()

    threads = [threading.Thread(target=write, args=(c,)) for c in links]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    for conn in links:
        conn.close()
    return connections * per_connection / seconds


def _serve(pg_url: str, data_dir: Path, workers: int, app: str) -> tuple[subprocess.Popen[bytes], int]:
    """Real uvicorn workers in their own process tree serving ``app`` (full: fairgate's whole app; router: the
    consent router alone) on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "FAIRGATE_CONSENT_DATABASE_URL": pg_url,
        "FAIRGATE_DATA_DIR": str(data_dir),
        "FAIRGATE_STEWARD_TOKEN": "bench",
    }
    # fairgate's own multi-worker server (``fairgate serve --workers``): one SO_REUSEPORT socket per worker, so
    # the 32 connections are spread over the workers; uvicorn's --workers let one worker accept nearly all.
    command = [
        sys.executable,
        "-c",
        f"import sys; from catalog.serving import serve_workers; from bench.bench_consent import create_{app}_app; "
        f"serve_workers(create_{app}_app, '127.0.0.1', int(sys.argv[1]), int(sys.argv[2]), log_level='warning')",
        str(port),
        str(workers),
    ]
    root = Path(__file__).resolve().parent.parent
    if app == "full":  # as `fairgate serve` does before its workers start: they would race to create the schema
        init = "from catalog.cli import app; app(['init'])"
        done = subprocess.run([sys.executable, "-c", init], env=env, cwd=root, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"fairgate init failed (exit {done.returncode}): {done.stderr[-2000:]}")
    server = subprocess.Popen(command, env=env, cwd=root)
    deadline = time.monotonic() + 60
    import httpx

    def listening() -> int:
        found = 0
        for child in psutil.Process(server.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                found += any(c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp"))
        return found

    while True:
        try:
            # Every worker must be listening (each has its own socket), and the 401 answer proves an app is
            # loaded, without writing anything.
            if (
                listening() == workers
                and httpx.get(f"http://127.0.0.1:{port}/api/consent/report", timeout=2).status_code == 401
            ):
                return server, port
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"uvicorn did not start on port {port} (exit {server.poll()})")
        time.sleep(0.2)


def _mean_batch(registry: ConsentRegistry, tag: str) -> float:
    """Events per group-committed transaction in the timed run: a batch's events share one recorded_at."""
    from sqlalchemy import text

    with registry.engine.connect() as conn:
        events, batches = conn.execute(
            text("SELECT count(*), count(DISTINCT recorded_at) FROM consent_events WHERE idempotency_key LIKE :k"),
            {"k": f"{tag}-%"},
        ).one()
    return int(events) / max(int(batches), 1)


def bench_api_appends(
    pg_url: str, clients: int, per_client: int, data_dir: Path, workers: int = 2, app: str = "full"
) -> None:
    import multiprocessing

    settings = ConsentSettings(data_dir=data_dir, consent_database_url=pg_url, steward_token="bench")
    registry = ConsentRegistry.from_settings(settings)  # also creates the key file the workers share
    subjects = [f"{i:064x}" for i in range(1, clients * 50 + 1)]
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.C, NOW - timedelta(days=30)) for s in subjects])
    direct = [EventRequest(subject=subjects[i % len(subjects)], kind=EventKind.NOTICE_SENT) for i in range(500)]
    direct_seconds, _ = timed(lambda: [registry.append([r]) for r in direct])
    bare = bare_insert_rate(pg_url, clients, max(per_client // 2, 5))

    server, port = _serve(pg_url, data_dir, workers, app)
    try:
        # Warm every worker's connection pool before timing, so the figure is the steady state.
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            _loaded(pool, f"http://127.0.0.1:{port}", subjects, clients, 2, 60.0, "warm")
            served = [server.pid] + [c.pid for c in psutil.Process(server.pid).children(recursive=True)]
            backends = _backend_pids(pg_url)
            before = (_cpu_seconds(served), _cpu_seconds(backends), psutil.cpu_times())
            seconds, (latencies, load_cpu) = timed(
                lambda: _loaded(pool, f"http://127.0.0.1:{port}", subjects, clients, per_client, 300.0, "run")
            )
            server_cpu = _cpu_seconds(served) - before[0]
            # Workers open pool connections as load grows: backends that appeared during the run count whole.
            pg_cpu = _cpu_seconds(sorted(set(backends) | set(_backend_pids(pg_url)))) - before[1]
            machine = psutil.cpu_times()
            busy = sum(machine) - machine.idle - (sum(before[2]) - before[2].idle)
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies.sort()
    p99 = latencies[max(int(len(latencies) * 0.99) - 1, 0)]
    total = clients * per_client
    batch = _mean_batch(registry, "run")
    verify_seconds, result = timed(registry.verify)
    served_app = "the whole fairgate app" if app == "full" else "the consent router alone"
    print(
        f"api appends postgresql: {clients} clients (separate process, asyncio HTTP/1.1 keep-alive) x {per_client} "
        f"= {total:,} events to {workers} uvicorn workers ({served_app}) on one SO_REUSEPORT port "
        f"(mean batch {batch:.1f}) "
        f"in {seconds:.2f} s = {total / seconds:,.0f} events/s, p50 "
        f"{latencies[len(latencies) // 2] * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, verify "
        f"{'ok' if result.ok else 'FAILED'} ({result.events_checked:,} events, {verify_seconds:.2f} s); CPU per "
        f"event: server {server_cpu / total * 1000:.2f} ms, postgres {pg_cpu / total * 1000:.2f} ms, load "
        f"generator {load_cpu / total * 1000:.2f} ms; machine busy {busy / seconds:.2f} of {psutil.cpu_count()} "
        f"cores | baseline direct registry.append, 1 writer: {len(direct) / direct_seconds:,.0f} events/s "
        f"(ratio {(total / seconds) / (len(direct) / direct_seconds):.2f}); bare INSERT+COMMIT, {clients} "
        f"connections, no app: {bare:,.0f} rows/s (ratio {(total / seconds) / bare:.2f})"
    )
    registry.engine.dispose()


# --- 3. withdrawal propagation ----------------------------------------------------------------------------


def _load_releases(url: str, releases: int, members: int, pool: int, holders: np.ndarray) -> int:
    """``releases`` active releases of ``members`` random case numbers of ``pool`` each, their membership
    written straight into the registry's tables as a release stores it (per case up to
    ``PER_CASE_UP_TO``, bitmaps beyond; ``FAIRGATE_BENCH_MEMBERSHIP=bitmaps`` forces bitmaps). Bench
    setup: no release is decided, and per-case rows go in in key order, which 1,000 releases made one by
    one would not. ``holders`` are the case numbers of the opted-out people; returns how many (release,
    case) pairs they owe, counted in numpy."""
    bitmaps = os.environ.get("FAIRGATE_BENCH_MEMBERSHIP") == "bitmaps" or members > membership.PER_CASE_UP_TO
    rows, scopes = _release_rows(releases)
    rnd = np.random.default_rng(7)
    owed = 0
    numbers: list[np.ndarray] = []
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                consent_tables.releases.insert(),
                [
                    dict(zip(_RELEASE_COLUMNS, r, strict=True))
                    | {"manifest": {}, "release_no": None if bitmaps else n + 1}
                    for n, r in enumerate(rows)
                ],
            )
            conn.execute(
                consent_tables.release_scopes.insert(), [{"release_id": r, "scope_purpose": c} for r, c in scopes]
            )
            for r in range(releases):
                picked = rnd.choice(pool, members, replace=False)
                owed += int(np.count_nonzero(np.isin(picked, holders, assume_unique=True)))
                if bitmaps:
                    builder = MembershipBuilder(pool)
                    builder.add(picked)
                    membership.store(conn, f"rel-{r}", None, DATASET, builder)
                else:
                    numbers.append(picked.astype(np.int64))
            if numbers:
                _store_per_case(conn, numbers)
    finally:
        engine.dispose()
    return owed


def _store_per_case(conn: Any, numbers: list[np.ndarray]) -> None:
    """Release ``k + 1`` holds ``numbers[k]``: every row, in primary-key order, in slices."""
    case_no = np.concatenate(numbers)
    release_no = np.repeat(np.arange(1, len(numbers) + 1, dtype=np.int32), [len(n) for n in numbers])
    del numbers[:]
    order = np.lexsort((release_no, case_no))
    case_no, release_no = case_no[order], release_no[order]
    key = membership.dataset_key(DATASET)
    for start in range(0, len(case_no), 5_000_000):
        part = slice(start, start + 5_000_000)
        table = pa.table(
            {
                "dataset_key": pa.array(np.full(len(case_no[part]), key, dtype=np.int32)),
                "case_no": pa.array(case_no[part]),
                "release_no": pa.array(release_no[part]),
            }
        )
        bulk_insert(conn, consent_tables.release_cases.name, table)


_RELEASE_COLUMNS = ("release_id", "application", "dataset", "purpose", "active_until", "created_at", "manifest")


def _bare_reads(url: str, subjects: list[str]) -> float:
    """Baseline: the rows propagation has to read, by plain SQL: the refusing people's case rows (their
    subject index), the per-case membership rows of those cases, and every bitmap row of the releases (all
    runs hold one of their cases here)."""
    engine = make_engine(url)
    m = consent_tables.release_cases.c
    try:
        with engine.connect() as conn:
            start = time.perf_counter()
            numbers: list[int] = []
            for first in range(0, len(subjects), 5000):
                numbers += conn.execute(
                    select(consent_tables.cases.c.case_no).where(
                        consent_tables.cases.c.subject.in_(subjects[first : first + 5000])
                    )
                ).scalars()
            numbers.sort()
            for first in range(0, len(numbers), 5000):
                q = select(m.case_no, m.release_no).where(
                    m.dataset_key == membership.dataset_key(DATASET), m.case_no.in_(numbers[first : first + 5000])
                )
                conn.execute(q).all()
            conn.execute(select(consent_tables.release_chunks.c.release_id, consent_tables.release_chunks.c.bits)).all()
            return time.perf_counter() - start
    finally:
        engine.dispose()


def _enrol_holders(registry: ConsentRegistry, subjects: list[str], pool: int) -> np.ndarray:
    """Each refusing person enrolled with one case; the cases then renumbered to random numbers of ``pool``
    (as a national registry's opt-outs fall anywhere in it) and the dataset's counter set past the pool.
    Returns the numbers, in ``subjects``' order."""
    for first in range(0, len(subjects), 20_000):
        registry.enrol(
            [
                EnrolmentInput(s, DATASET, "NTU", Category.C, NOW - timedelta(days=400), (f"case-{first + i}",))
                for i, s in enumerate(subjects[first : first + 20_000])
            ]
        )
    numbers = np.random.default_rng(5).choice(pool, len(subjects), replace=False)
    cases = consent_tables.cases.c
    with registry.engine.begin() as conn:
        conn.execute(consent_tables.cases.update().where(cases.dataset == DATASET).values(case_no=-1 - cases.case_no))
        conn.execute(
            consent_tables.cases.update()
            .where(cases.dataset == DATASET, cases.case_id == bindparam("c"))
            .values(case_no=bindparam("n")),
            [{"c": f"case-{i}", "n": int(n)} for i, n in enumerate(numbers)],
        )
        conn.execute(consent_tables.case_numbers.update().values(next_case_no=pool))
    return numbers


def bench_withdrawals(releases: int, members: int, opt_out_count: int, data_dir: Path) -> None:
    """The opt-outs are appended first (that append, without releases, is one baseline), then the releases
    are loaded and the registry produces every owed notice from the stored opt-outs: the same set-based
    propagation an append runs, timed alone in one transaction including its commit."""
    pool = max(releases * members // 10, opt_out_count)
    opt_outs = [f"{p:064x}" for p in random.Random(3).sample(range(10 * pool), opt_out_count)]
    registry = ConsentRegistry.from_settings(ConsentSettings(data_dir=data_dir))
    holders = _enrol_holders(registry, opt_outs, pool)
    # The last few refuse one at a time after the bulk, as people in the portal do (timed apart).
    alone = opt_outs[-SINGLES:] if opt_out_count > 4 * SINGLES else []
    bulk = opt_outs[: len(opt_outs) - len(alone)]
    requests = [EventRequest(subject=s, kind=EventKind.OPTED_OUT, channel="portal") for s in bulk]
    append_seconds, events = timed(lambda: registry.append(requests))
    url = str(registry.engine.url)
    build_seconds, owed = timed(lambda: _load_releases(url, releases, members, pool, holders))
    seconds, _ = timed(lambda: registry.propagate_withdrawals([e.event_id for e in events]))
    bare_seconds = _bare_reads(url, bulk)  # after ours, so the baseline gets the warmer cache
    singles = _one_at_a_time(registry, alone, EventKind.OPTED_OUT)
    notices_alone = _one_at_a_time(registry, alone, EventKind.NOTICE_SENT)
    notices = registry.withdrawal_notices()
    items = sum(len(n.release_pseudonyms) for n in notices)
    if items != owed:
        raise AssertionError(f"{items:,} pseudonyms notified, {owed:,} owed")
    print(
        f"withdrawal propagation sqlite: {opt_out_count:,} opt-outs vs {releases:,} releases x {members:,} members "
        f"-> {len(notices):,} notices / {items:,} pseudonyms in {seconds:.2f} s (setup {build_seconds:.0f} s) | "
        f"baseline bare SQL read of the rows it needs (case rows, bitmaps) {bare_seconds:.2f} s "
        f"(ratio {seconds / bare_seconds:.2f}); append of the {len(bulk):,} opt-outs {append_seconds:.2f} s"
    )
    if alone:
        print(
            f"single opt-out append sqlite vs {releases:,} active releases x {members:,}: {len(alone)} appends, "
            f"p50 {_ms(singles, 0.5):.1f} ms, p99 {_ms(singles, 0.99):.1f} ms | baseline a notice appended "
            f"alone (no propagation) p50 {_ms(notices_alone, 0.5):.1f} ms, p99 {_ms(notices_alone, 0.99):.1f} ms"
        )
    registry.engine.dispose()


SINGLES = 200  # opt-outs of the withdrawal figure appended one at a time


def _one_at_a_time(registry: ConsentRegistry, subjects: list[str], kind: EventKind) -> list[float]:
    """Seconds of each append of one event of ``kind`` by each of ``subjects``, sorted."""
    took: list[float] = []
    for subject in subjects:
        request = EventRequest(subject=subject, kind=kind)
        start = time.perf_counter()
        registry.append([request])
        took.append(time.perf_counter() - start)
    return sorted(took)


def _ms(sorted_seconds: list[float], q: float) -> float:
    return 1000 * sorted_seconds[min(int(len(sorted_seconds) * q), len(sorted_seconds) - 1)]


def _release_rows(releases: int) -> tuple[list[tuple[str, str, str, str, str, str, str]], list[tuple[str, str]]]:
    """The bench's releases (all active, HMB with GRU and NRES scopes) and their scope rows."""
    until = format_instant(NOW + timedelta(days=3650))
    created = format_instant(NOW - timedelta(days=100))
    rows = [(f"rel-{r}", "app", DATASET, "DUO:0000006", until, created, "{}") for r in range(releases)]
    scopes = [(f"rel-{r}", c) for r in range(releases) for c in ("DUO:0000006", "DUO:0000042", "DUO:0000004")]
    return rows, scopes


def bench_withdrawals_pg(admin_url: str, releases: int, members: int, opt_out_count: int, data_dir: Path) -> None:
    """The path an append takes on PostgreSQL: ``opt_out_count`` opt-outs appended in batches of 64 (as the
    API's group commit forms them), then as many others in one transaction (as a bulk import appends them),
    to a registry holding the releases. Baseline: the same appends to a registry without releases, same run."""
    pool = max(releases * members // 10, 2 * opt_out_count)
    picked = random.Random(3).sample(range(10 * pool), 2 * opt_out_count)
    opt_outs = [f"{p:064x}" for p in picked]
    plain = _appended_pg(admin_url, opt_outs, None, data_dir / "plain")
    build_seconds, batched, bulk, notices, items = _appended_pg(
        admin_url, opt_outs, (releases, members, pool), data_dir / "releases"
    )
    print(
        f"withdrawal propagation postgresql: {opt_out_count:,} opt-outs in one transaction vs {releases:,} "
        f"releases x {members:,} members: {bulk:.2f} s, of which propagation {bulk - plain[2]:.2f} s; another "
        f"{opt_out_count:,} in batches of 64: {batched:.2f} s, of which propagation {batched - plain[1]:.2f} s; "
        f"{notices:,} notices / {items:,} pseudonyms in all (setup {build_seconds:.0f} s) | baseline the same "
        f"appends without releases {plain[2]:.2f} s and {plain[1]:.2f} s"
    )


def _appended_pg(
    admin_url: str, opt_outs: list[str], releases: tuple[int, int, int] | None, data_dir: Path
) -> tuple[float, float, float, int, int]:
    """In a fresh database (holding ``releases`` if given): seconds to load the releases, to append the first
    half of ``opt_outs`` in batches of 64 and the second half in one transaction; the notices filed and the
    pseudonyms they list, checked against the pairs the releases were made to owe."""
    url = _fresh_pg_database(admin_url)
    try:
        registry = ConsentRegistry.from_settings(ConsentSettings(data_dir=data_dir, consent_database_url=url))
        pool = releases[2] if releases else len(opt_outs)
        holders = _enrol_holders(registry, opt_outs, pool)
        owed = 0
        build_seconds = 0.0
        if releases:
            build_seconds, owed = timed(lambda: _load_releases(url, *releases, holders))
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")  # as autovacuum leaves tables some time after a bulk load
        requests = [EventRequest(subject=s, kind=EventKind.OPTED_OUT, channel="portal") for s in opt_outs]
        half = len(requests) // 2
        batches = [requests[i : min(i + 64, half)] for i in range(0, half, 64)]
        batched, _ = timed(lambda: [registry.append(batch) for batch in batches])
        bulk, _ = timed(lambda: registry.append(requests[half:]))
        notices = registry.withdrawal_notices()
        items = sum(len(n.release_pseudonyms) for n in notices)
        if items != owed:
            raise AssertionError(f"{items:,} pseudonyms notified, {owed:,} owed")
        registry.engine.dispose()
    finally:
        _drop_pg_database(admin_url, url)
    return build_seconds, batched, bulk, len(notices), items


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--cases", type=int, default=None, help="release filter size (default 10,000,000)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FAIRGATE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--only",
        choices=("release", "filter", "withdrawals", "withdrawals-pg", "api"),
        help="run one figure only (release = filter)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn workers for the API figure (2: one per core here)"
    )
    parser.add_argument(
        "--per-client", type=int, default=300, help="events each of the 32 API clients posts (p99 needs a few thousand)"
    )
    parser.add_argument(
        "--app",
        choices=("full", "router"),
        default="full",
        help="API figure: fairgate's whole app as `fairgate serve` runs it (full) or the consent router alone",
    )
    parser.add_argument("--releases", type=int, default=1_000, help="withdrawal figures: active releases")
    parser.add_argument("--members", type=int, default=100_000, help="withdrawal figures: cases per release")
    parser.add_argument("--opt-outs", type=int, default=100_000, help="withdrawal figures: opt-outs propagated")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit of the release filter (e.g. 1GB; spills beyond)")
    args = parser.parse_args(argv)
    if args.only is None:
        # Each figure in a fresh interpreter: after the release filter's and the withdrawal setup's heaps (and
        # DuckDB's threads) in the same process, the API figure's p99 read 84-114 ms; alone, 24-47 ms.
        given = list(sys.argv[1:] if argv is None else argv)
        for figure in ("release", "withdrawals", "withdrawals-pg", "api"):
            sys.stdout.flush()
            subprocess.run(
                [sys.executable, "-m", "bench.bench_consent", *given, "--only", figure],
                check=True,
                cwd=Path(__file__).resolve().parent.parent,
            )
        return
    quick = args.quick
    if args.only in ("filter", "release"):
        bench_release_filter(args.cases or (100_000 if quick else 10_000_000), args.memory_limit)
    with tempfile.TemporaryDirectory() as tmp:
        sizes: tuple[int, int, int] = (50, 1_000, 1_000) if quick else (args.releases, args.members, args.opt_outs)
        if args.only == "withdrawals":
            bench_withdrawals(*sizes, Path(tmp) / "with")
        if args.only == "withdrawals-pg":
            try:
                bench_withdrawals_pg(args.pg_url, *sizes, Path(tmp) / "with-pg")
            except psycopg.OperationalError as exc:  # no server: say so instead of a bare failure
                print(f"withdrawal propagation postgresql: skipped, PostgreSQL not reachable at {args.pg_url}: {exc}")
        if args.only != "api":
            return
        try:
            pg_url = _fresh_pg_database(args.pg_url)
        except Exception as exc:  # no server: say so instead of a bare failure
            print(f"api appends postgresql: skipped, PostgreSQL not reachable at {args.pg_url}: {exc}")
            return
        try:
            bench_api_appends(pg_url, 32, 10 if quick else args.per_client, Path(tmp) / "api", args.workers, args.app)
        finally:
            _drop_pg_database(args.pg_url, pg_url)


def _fresh_pg_database(admin_url: str) -> str:

    name = f"fairgate_bench_{os.getpid()}"
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(admin_url: str, url: str) -> None:

    from consent.api import _registries

    for registry in _registries.values():
        registry.engine.dispose()
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
