"""Online backup while serving: ``fairgate backup`` of a registry of N ledger events (default 1,000,000)
while clients append consent events over HTTP to ``fairgate serve --workers 2``.

Prints the backup's time and size, and the append p50/p99 of the requests that ran while the backup ran,
beside the p50/p99 of the same load on the same server with no backup, measured first in the same run.
Then restores the backup into a new folder and checks every event acknowledged before the backup began
is there and the restored ledger verifies.

``python -m bench bench_backup [-- --events N --database sqlite|postgresql]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from sqlalchemy import text

from bench.bench_consent import DATASET, NOW, _drop_pg_database, _fresh_pg_database, _serve
from consent.database import make_engine
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.settings import ConsentSettings
from schemas.consent import Category, EventKind, EventRequest

ROOT = Path(__file__).resolve().parent.parent
BATCH = 5_000
CLI = "import sys; from catalog.cli import app; app(sys.argv[1:])"  # `fairgate ...` in this interpreter


def fill(registry: ConsentRegistry, events: int) -> tuple[list[str], float]:
    """Subjects enrolled in C, then notices appended through the real append path (chains, state) in batches."""
    subjects = [f"{i:064x}" for i in range(1, max(events // 10, 1) + 1)]
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.C, NOW - timedelta(days=400)) for s in subjects])
    start = time.perf_counter()
    done = 0
    while done < events:
        n = min(BATCH, events - done)
        registry.append(
            [EventRequest(subject=subjects[(done + i) % len(subjects)], kind=EventKind.NOTICE_SENT) for i in range(n)]
        )
        done += n
    return subjects, events / (time.perf_counter() - start)


async def _load(
    base_url: str, subjects: list[str], clients: int, stop_file: str, seconds: float, tag: str
) -> list[tuple[float, float, int]]:
    """``clients`` keep-alive connections posting notices until ``stop_file`` exists or ``seconds`` pass;
    each answer as (wall-clock start, latency, status)."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    out: list[tuple[float, float, int]] = []
    deadline = time.time() + seconds
    head = (
        f"POST /api/consent/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer bench\r\n"
        "Content-Type: application/json\r\n"
    )

    async def client(c: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        k = 0
        try:
            while time.time() < deadline and not os.path.exists(stop_file):
                subject = subjects[(c * 7919 + k) % len(subjects)]
                body = json.dumps({"subject": subject, "kind": "notice_sent", "channel": "steward"}).encode()
                request = f"{head}Idempotency-Key: {tag}-{c}-{k}\r\nContent-Length: {len(body)}\r\n\r\n"
                began, start = time.time(), time.perf_counter()
                writer.write(request.encode() + body)
                response = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in response.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                out.append((began, time.perf_counter() - start, int(response[9:12])))
                k += 1
        finally:
            writer.close()

    await asyncio.gather(*(client(c) for c in range(clients)))
    return out


def run_load(
    base_url: str, subjects: list[str], clients: int, stop_file: str, seconds: float, tag: str
) -> tuple[list[tuple[float, float, int]], str | None]:
    """Entry point of the load-generator process (spawned: it shares no interpreter with the server)."""
    try:
        return asyncio.run(_load(base_url, subjects, clients, stop_file, seconds, tag)), None
    except Exception as exc:
        return [], f"{type(exc).__name__}: {exc}"


def _quantiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    if not ordered:
        return float("nan"), float("nan")
    return ordered[len(ordered) // 2] * 1000, ordered[max(int(len(ordered) * 0.99) - 1, 0)] * 1000


def _restore_database(url: str) -> str:
    """A new, empty PostgreSQL database beside the one backed up (same server), to restore into."""
    name = url.rsplit("/", 1)[1] + "_restored"
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def _env(url: str, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "FAIRGATE_CONSENT_DATABASE_URL": url, "FAIRGATE_DATA_DIR": str(data_dir)}


def bench(events: int, clients: int, baseline_seconds: float, url: str | None, work: Path) -> None:
    data_dir = work / "var"
    consent_url = url or f"sqlite:///{data_dir / 'consent.db'}"
    settings = ConsentSettings(data_dir=data_dir, consent_database_url=consent_url, steward_token="bench")
    registry = ConsentRegistry.from_settings(settings)
    subjects, fill_rate = fill(registry, events)
    database = "postgresql" if url else "sqlite"
    server, port = _serve(consent_url, data_dir, 2, "full")
    base = f"http://127.0.0.1:{port}"
    stop = work / "stop"
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            _warm, error = pool.apply(run_load, (base, subjects, clients, str(stop), 3.0, "warm"))
            if error:
                raise RuntimeError(f"load generator failed: {error}")
            quiet, error = pool.apply(run_load, (base, subjects, clients, str(stop), baseline_seconds, "quiet"))
            if error:
                raise RuntimeError(f"load generator failed: {error}")
            with registry.engine.connect() as conn:
                acknowledged_before = int(conn.execute(text("SELECT count(*) FROM consent_events")).scalar_one())
            loaded = pool.apply_async(run_load, (base, subjects, clients, str(stop), 3600.0, "during"))
            time.sleep(1.0)  # the load is running before the backup starts
            began = time.time()
            done = subprocess.run(
                [sys.executable, "-c", CLI, "backup", str(work / "backup")],
                env=_env(consent_url, data_dir),
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            ended = time.time()
            stop.touch()
            during, error = loaded.get(timeout=120)
            if error:
                raise RuntimeError(f"load generator failed: {error}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    if done.returncode:
        raise RuntimeError(f"fairgate backup failed (exit {done.returncode}): {done.stderr[-2000:]}")
    failed = sum(1 for _, _, status in quiet + during if status != 201)
    in_window = [lat for at, lat, status in during if began <= at <= ended and status == 201]
    quiet_ok = [lat for _, lat, status in quiet if status == 201]
    p50q, p99q = _quantiles(quiet_ok)
    p50b, p99b = _quantiles(in_window)
    size = sum(p.stat().st_size for p in (work / "backup").iterdir())
    registry.engine.dispose()

    restored = work / "restored"
    restored.mkdir()
    # The keys are kept out of backups by design; an operator restores them from their own copy.
    shutil.copytree(data_dir / "keys", restored / "keys")
    restore_url = f"sqlite:///{restored / 'consent.db'}" if url is None else _restore_database(url)
    try:
        run = subprocess.run(
            [sys.executable, "-c", CLI, "restore", str(work / "backup")],
            env=_env(restore_url, restored),
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if run.returncode:
            output = (run.stdout + run.stderr)[-2000:]
            raise RuntimeError(f"fairgate restore failed (exit {run.returncode}): {output}")
        engine = make_engine(restore_url)
        with engine.connect() as conn:
            found = int(conn.execute(text("SELECT count(*) FROM consent_events")).scalar_one())
        engine.dispose()
    finally:
        if url is not None:
            _drop_pg_database(url, restore_url)
    print(
        f"backup while serving {database}: {events:,}-event registry (filled at {fill_rate:,.0f} events/s) backed up "
        f"in {ended - began:.1f} s ({size / 1e6:,.0f} MB) while {clients} clients appended over HTTP to 2 workers; "
        f"append p50 {p50b:.0f} ms, p99 {p99b:.0f} ms during the backup ({len(in_window):,} appends) | baseline "
        f"same load, no backup: p50 {p50q:.0f} ms, p99 {p99q:.0f} ms ({len(quiet_ok):,} appends in "
        f"{baseline_seconds:.0f} s); non-2xx answers {failed}; restored and verified; acknowledged before "
        f"the backup {acknowledged_before:,}, found after restore {found:,}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 events: a smoke run")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--baseline-seconds", type=float, default=15.0)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FAIRGATE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args(argv)
    events = 20_000 if args.quick else args.events
    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "sqlite":
            bench(events, args.clients, 5.0 if args.quick else args.baseline_seconds, None, Path(tmp))
            return
        url = _fresh_pg_database(args.pg_url)
        try:
            bench(events, args.clients, 5.0 if args.quick else args.baseline_seconds, url, Path(tmp))
        finally:
            _drop_pg_database(args.pg_url, url)


if __name__ == "__main__":
    main()
