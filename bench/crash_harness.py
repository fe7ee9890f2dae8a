"""Crash harness: 32 clients append consent events over HTTP to ``fairgate serve --workers 2``, the server's
whole process group is killed with SIGKILL at a random moment, the server is restarted, and every event it
acknowledged (2xx) must be found, ``verify`` must pass and no release or withdrawal notice may be
half-written. Prints acknowledged / found / lost per run and per database.

    python -m bench.crash_harness                   # 20 runs on SQLite and 20 on PostgreSQL
    python -m bench.crash_harness --runs 2 --db sqlite

PostgreSQL: ``--pg-url`` or ``FAIRGATE_BENCH_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/test);
each run creates its own database and drops it. Not a speed figure: there is nothing to set beside a baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pyarrow as pa
from sqlalchemy import text

from consent.membership import release_members
from consent.pseudonyms import taiwan_check_digit
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release import create_release
from consent.settings import ConsentSettings
from schemas.consent import Category

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "crash-harness"
DATASET = "dg.TW01/6f1c2d7e-0000-4000-8000-00000000c0de"
SUBJECTS = 200
STARTUP = 120.0


@dataclass
class Outcome:
    acknowledged: int
    found: int
    verify_ok: bool
    half_written: int
    killed_after: float
    notices: int = 0  # withdrawal notices the run's opt-outs made (so the half-written check saw some)

    @property
    def lost(self) -> int:
        return self.acknowledged - self.found


def _national_id(n: int) -> str:
    prefix = f"B1{n:07d}"
    return prefix + taiwan_check_digit(prefix)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path, consent_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "FAIRGATE_DATA_DIR": str(data_dir),
        "FAIRGATE_CONSENT_DATABASE_URL": consent_url,
        "FAIRGATE_DATABASE_URL": f"sqlite:///{data_dir / 'catalog.db'}",
        "FAIRGATE_STEWARD_TOKEN": TOKEN,
        "FAIRGATE_CHECKPOINT_EVERY_EVENTS": "500",
    }


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """``fairgate serve --workers 2`` in a process group of its own; returns once both workers answer."""
    fairgate = Path(sys.executable).with_name("fairgate")
    log = Path(env["FAIRGATE_DATA_DIR"]) / "serve.log"
    server = subprocess.Popen(
        [str(fairgate), "serve", "--workers", "2", "--port", str(port)],
        env=env,
        cwd=env["FAIRGATE_DATA_DIR"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"fairgate serve exited with {server.returncode} while starting: {log.read_text()[-3000:]}"
            )
        listening = 0
        for child in psutil.Process(server.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                listening += any(c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp"))
        with contextlib.suppress(httpx.TransportError):
            if listening == 2 and httpx.get(f"http://127.0.0.1:{port}/api/consent/report", timeout=5).status_code:
                return server
        time.sleep(0.1)
    _kill_group(server)
    raise RuntimeError("fairgate serve did not start in time")


def _kill_group(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    # Every member of the group goes (workers, their resource tracker): wait until none is left.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [p for p in psutil.process_iter(["pid"]) if _in_group(p, server.pid)]
        if not left:
            return
        time.sleep(0.05)


def _in_group(process: psutil.Process, group: int) -> bool:
    try:
        return os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.NoSuchProcess):
        return False


def _prepare(data_dir: Path, consent_url: str) -> list[str]:
    """Initialise the deployment, enrol the subjects (category B) and release all of them once, so that
    opt-outs during the run owe withdrawal notices."""
    subprocess.run(
        [str(Path(sys.executable).with_name("fairgate")), "init"],
        env=_env(data_dir, consent_url),
        cwd=data_dir,
        check=True,
        capture_output=True,
    )
    settings = ConsentSettings(data_dir=data_dir, consent_database_url=consent_url)
    registry = ConsentRegistry.from_settings(settings)
    try:
        subjects = [registry.pseudonymiser.subject(_national_id(n)) for n in range(1, SUBJECTS + 1)]
        enrolled = datetime(2019, 1, 1, tzinfo=UTC)
        registry.enrol(
            [EnrolmentInput(s, DATASET, "NTU", Category.B, enrolled, (f"case-{i}",)) for i, s in enumerate(subjects)]
        )
        cases = pa.table({"case_id": [f"case-{i}" for i in range(SUBJECTS)]})
        create_release(
            registry, "app-1", DATASET, "DUO:0000006", cases, data_dir / "release", date.today() + timedelta(days=365)
        )
    finally:
        registry.engine.dispose()
    return subjects


def _clients(port: int, subjects: list[str], stop: threading.Event, clients: int, acknowledged: list[str]) -> None:
    """``clients`` threads appending until ``stop``; each 2xx-acknowledged event id is added to ``acknowledged``."""
    lock = threading.Lock()

    def client(k: int) -> None:
        rng = random.Random(k)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            i = 0
            while not stop.is_set():
                body = {
                    "subject": subjects[rng.randrange(len(subjects))],
                    "kind": "opted_out" if i % 2 == 0 else "reconsented",
                    "channel": "portal",
                }
                headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": uuid.uuid4().hex}
                try:
                    response = http.post("/api/consent/events", json=body, headers=headers)
                except httpx.TransportError:
                    return  # the server is gone: this client's unanswered request was not acknowledged
                if 200 <= response.status_code < 300:
                    with lock:
                        acknowledged.append(response.json()["event"]["event_id"])
                i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join()


def _half_written(registry: ConsentRegistry) -> int:
    """Releases whose member rows do not match their manifest, and withdrawal notices naming no pseudonym."""
    with registry.engine.connect() as conn:
        releases = conn.execute(text("SELECT r.release_id, r.manifest FROM consent_releases r")).all()
        bad = 0
        for release_id, manifest in releases:
            cases_out = (manifest if isinstance(manifest, dict) else json.loads(manifest))["cases_out"]
            bad += int(len(release_members(conn, release_id)) != cases_out)
        bad += int(
            conn.execute(
                text("SELECT count(*) FROM consent_withdrawal_notices WHERE length(pseudonyms) = 0")
            ).scalar_one()
        )
    return bad


def run_once(consent_url: str, work: Path, rng: random.Random, clients: int = 32) -> Outcome:
    data_dir = work / "var"
    data_dir.mkdir(parents=True)
    subjects = _prepare(data_dir, consent_url)
    env = _env(data_dir, consent_url)
    port = _free_port()
    server = _start(env, port)
    stop = threading.Event()
    acknowledged: list[str] = []
    collector = threading.Thread(target=_clients, args=(port, subjects, stop, clients, acknowledged))
    collector.start()
    deadline = time.monotonic() + STARTUP
    while not acknowledged and time.monotonic() < deadline:  # the kill must come while answers are flowing
        time.sleep(0.01)
    killed_after = rng.uniform(0.1, 2.5)  # seconds after the first acknowledgement
    time.sleep(killed_after)
    _kill_group(server)  # SIGKILL to the whole group, mid-request
    stop.set()
    collector.join()
    server = _start(env, port)  # restart on the same data
    try:
        verified = httpx.post(
            f"http://127.0.0.1:{port}/api/consent/verify", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
        )
        verify_ok = verified.status_code == 200 and bool(verified.json()["ok"])
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        finally:
            _kill_group(server)
    registry = ConsentRegistry.from_settings(ConsentSettings(data_dir=data_dir, consent_database_url=consent_url))
    try:
        with registry.engine.connect() as conn:
            stored = {row[0] for row in conn.execute(text("SELECT event_id FROM consent_events"))}
        half = _half_written(registry)
        with registry.engine.connect() as conn:
            notices = int(conn.execute(text("SELECT count(*) FROM consent_withdrawal_notices")).scalar_one())
    finally:
        registry.engine.dispose()
    return Outcome(len(acknowledged), len(set(acknowledged) & stored), verify_ok, half, killed_after, notices)


@contextlib.contextmanager
def _database(kind: str, pg_url: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / 'consent.db'}"
        return
    import psycopg

    name = f"fairgate_crash_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "postgresql+psycopg://" + pg_url.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(kind: str, runs: int, pg_url: str, seed: int, clients: int = 32, quiet: bool = False) -> list[Outcome]:
    rng = random.Random(seed)
    outcomes = []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix=f"fairgate-crash-{kind}-") as tmp:
            work = Path(tmp)
            with _database(kind, pg_url, work) as url:
                outcome = run_once(url, work, rng, clients)
        outcomes.append(outcome)
        if not quiet:
            print(
                f"{kind} run {i + 1:2d}: killed {outcome.killed_after:.2f} s after the first ack, "
                f"acknowledged {outcome.acknowledged}, "
                f"found {outcome.found}, lost {outcome.lost}, verify {'ok' if outcome.verify_ok else 'FAILED'}, "
                f"half-written {outcome.half_written} (of 1 release, {outcome.notices} withdrawal notices)",
                flush=True,
            )
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FAIRGATE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    failed = False
    for kind in kinds:
        outcomes = run(kind, args.runs, args.pg_url, args.seed, args.clients)
        acked = sum(o.acknowledged for o in outcomes)
        found = sum(o.found for o in outcomes)
        bad_verify = sum(not o.verify_ok for o in outcomes)
        half = sum(o.half_written for o in outcomes)
        print(
            f"crash harness {kind}: runs {len(outcomes)}, acknowledged {acked}, found {found}, lost {acked - found}, "
            f"verify failed {bad_verify}, half-written {half}",
            flush=True,
        )
        failed |= acked != found or bad_verify > 0 or half > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
