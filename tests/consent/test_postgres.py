"""The registry on real PostgreSQL: append-only trigger, many concurrent writers, idempotent retries over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text

from consent.api import get_consent_settings, router
from consent.pseudonyms import release_pseudonym
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release import create_release
from consent.settings import ConsentSettings
from schemas.consent import Category, EventKind, EventRequest
from tests.consent.subjects import DATASET, T0, national_id

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> ConsentSettings:
    return ConsentSettings(data_dir=tmp_path / "var", consent_database_url=pg_url, steward_token="tok")


@pytest.fixture
def pg_registry(pg_settings: ConsentSettings) -> Iterator[ConsentRegistry]:
    registry = ConsentRegistry.from_settings(pg_settings)
    yield registry
    registry.engine.dispose()


def enrol(registry: ConsentRegistry, count: int) -> list[str]:
    subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, count + 1)]
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.C, T0) for s in subjects])
    return subjects


def test_postgresql_refuses_update_delete_and_truncate_of_events(pg_registry: ConsentRegistry) -> None:
    (subject,) = enrol(pg_registry, 1)
    pg_registry.append([EventRequest(subject=subject, kind=EventKind.NOTICE_SENT)])
    for statement in ("UPDATE consent_events SET kind = 'x'", "DELETE FROM consent_events", "TRUNCATE consent_events"):
        with pytest.raises(Exception, match="append-only"), pg_registry.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(pg_registry.events_of(subject)) == 1


def test_postgresql_refuses_update_delete_and_truncate_of_the_audit_log(pg_registry: ConsentRegistry) -> None:
    (subject,) = enrol(pg_registry, 1)
    pg_registry.enrolments_of(subject)
    for statement in (
        "UPDATE consent_audit_log SET actor = 'x'",
        "DELETE FROM consent_audit_log",
        "TRUNCATE consent_audit_log",
    ):
        with pytest.raises(Exception, match="append-only"), pg_registry.engine.begin() as conn:
            conn.execute(text(statement))
    assert [e.action for e in pg_registry.audit_log(subject=subject)] == ["subject.lookup"]


def test_concurrent_writers_lose_no_event_and_break_no_chain(pg_registry: ConsentRegistry) -> None:
    subjects = enrol(pg_registry, 4)
    kinds = [EventKind.NOTICE_SENT, EventKind.OPTED_OUT, EventKind.RECONSENTED]

    def write(i: int) -> None:
        # Batches touch several subjects in different orders: the lock order must avoid deadlock.
        batch = [EventRequest(subject=subjects[(i + j) % 4], kind=kinds[(i + j) % 3]) for j in range(3)]
        pg_registry.append(batch if i % 2 else batch[::-1])

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(write, range(60)))
    assert sum(len(pg_registry.events_of(s)) for s in subjects) == 180
    pg_registry.checkpoint()
    result = pg_registry.verify()
    assert result.ok and result.events_checked == 180 and result.chains == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(pg_settings: ConsentSettings, pg_registry: ConsentRegistry) -> Iterator[str]:
    app = FastAPI()
    app.include_router(router, prefix="/api/consent")
    app.dependency_overrides[get_consent_settings] = lambda: pg_settings
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_retried_requests_over_http_never_duplicate_events(server: str, pg_registry: ConsentRegistry) -> None:
    subjects = enrol(pg_registry, 8)
    headers = {"Authorization": "Bearer tok"}

    def send(i: int) -> str:
        body = {"subject": subjects[i % 8], "kind": "opted_out" if i % 2 else "notice_sent"}
        with httpx.Client(base_url=server, headers=headers, timeout=60) as client:
            ids = set()
            for _ in range(3):  # the client retries, as after a lost response
                response = client.post("/api/consent/events", json=body, headers={"Idempotency-Key": f"req-{i}"})
                assert response.status_code == 201, response.text
                ids.add(response.json()["event"]["event_id"])
            assert len(ids) == 1
            return ids.pop()

    with ThreadPoolExecutor(max_workers=16) as pool:
        event_ids = list(pool.map(send, range(64)))
    assert len(set(event_ids)) == 64
    assert sum(len(pg_registry.events_of(s)) for s in subjects) == 64
    assert pg_registry.verify().ok


def test_a_release_on_postgresql_stores_membership_and_later_opt_outs_reach_the_holder(
    pg_registry: ConsentRegistry, tmp_path: Path
) -> None:
    subjects = [pg_registry.pseudonymiser.subject(national_id(n)) for n in range(1, 5)]
    pg_registry.enrol(
        [EnrolmentInput(s, DATASET, "NTU", Category.B, T0, (f"case,{i}",)) for i, s in enumerate(subjects)]
    )
    cases = pa.table({"case_id": [f"case,{i}" for i in range(4)]})
    manifest = create_release(pg_registry, "APP-1", DATASET, "GRU", cases, tmp_path / "r", date.today())
    assert manifest.cases_out == 4
    pg_registry.append([EventRequest(subject=subjects[2], kind=EventKind.OPTED_OUT)])
    (notice,) = pg_registry.withdrawal_notices(manifest.release_id)
    secret = pg_registry.pseudonymiser.release_secret(manifest.release_id)
    assert notice.release_pseudonyms == [release_pseudonym(secret, "case,2")]
