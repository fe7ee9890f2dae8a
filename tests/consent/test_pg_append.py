"""PostgreSQL's lean append path (raw psycopg, two statements per batch) against the general SQLAlchemy path
that SQLite keeps: the same events, the same chains and state, the same idempotency and locking rules."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from consent import pg_append
from consent.case_facts import CaseFacts
from consent.database import make_engine
from consent.errors import ConsentError, IdempotencyConflict
from consent.ledger import event_hash
from consent.pseudonyms import release_pseudonym
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.settings import ConsentSettings
from consent.state import fold
from schemas.consent import Category, ConsentEvent, EventKind, EventRequest
from tests.consent.subjects import DATASET, OTHER_DATASET, T0, national_id
from tests.consent.test_decide import day
from tests.consent.test_release import _registry_with_release
from tests.consent.test_release_current import Event, _expected_facts, _stored_facts, ledgers

pytestmark = pytest.mark.postgres

NOW = T0 + timedelta(days=400)


def _registry(data_dir: Path, url: str | None) -> ConsentRegistry:
    return ConsentRegistry.from_settings(ConsentSettings(data_dir=data_dir, consent_database_url=url))


@pytest.fixture
def pg(pg_url: str, tmp_path: Path) -> Iterator[ConsentRegistry]:
    registry = _registry(tmp_path / "pg", pg_url)
    yield registry
    registry.engine.dispose()


def _enrol(registry: ConsentRegistry, count: int) -> list[str]:
    subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, count + 1)]
    rows = [EnrolmentInput(s, DATASET, "NTU", Category.C, T0) for s in subjects]
    rows += [EnrolmentInput(subjects[0], OTHER_DATASET, "NTUH", Category.A, T0 + timedelta(days=10))]
    registry.enrol(rows)
    return subjects


def _varied(subjects: list[str]) -> list[EventRequest]:
    """Every field in use: scopes, purposes by abbreviation, effective times, evidence, explicit institution."""
    a, b, c = subjects
    return [
        EventRequest(subject=a, kind=EventKind.NOTICE_SENT, scope_dataset=DATASET, effective_at=T0 + timedelta(days=1)),
        EventRequest(subject=a, kind=EventKind.CONSENT_GIVEN, scope_dataset=OTHER_DATASET, scope_purpose="HMB"),
        EventRequest(subject=b, kind=EventKind.OPTED_OUT, scope_purpose="NCU", channel="paper", evidence="form 7"),
        EventRequest(subject=a, kind=EventKind.WITHDRAWN, actor="clerk 12", evidence="電話紀錄 3"),
        EventRequest(subject=c, kind=EventKind.NOTICE_UNDELIVERED, institution="NTU branch"),
        EventRequest(subject=b, kind=EventKind.RECONSENTED, scope_purpose="DUO:0000046", channel="portal"),
        EventRequest(subject=c, kind=EventKind.DECEASED, effective_at=NOW - timedelta(days=2)),
    ]


def _content(event: ConsentEvent) -> dict[str, object]:
    """What an event says, without what differs by construction (random id, hashes that cover it)."""
    return event.model_dump(exclude={"event_id", "hash", "prev_hash"})


def test_postgresql_and_sqlite_seal_the_same_events_chains_and_state(pg: ConsentRegistry, tmp_path: Path) -> None:
    lite = _registry(tmp_path / "lite", None)
    lite.pseudonymiser = pg.pseudonymiser  # one key, so both registries see the same pseudonyms
    requests = _varied(_enrol(pg, 3))
    _enrol(lite, 3)
    keys = [f"k{i}" if i % 2 else None for i in range(len(requests))]
    on_pg = pg.append(requests[:3], keys[:3], now=NOW) + pg.append(requests[3:], keys[3:], now=NOW)
    on_lite = lite.append(requests[:3], keys[:3], now=NOW) + lite.append(requests[3:], keys[3:], now=NOW)
    assert [_content(e) for e in on_pg] == [_content(e) for e in on_lite]
    for registry, answered in ((pg, on_pg), (lite, on_lite)):
        stored = {e.event_id: e for s in {e.subject for e in answered} for e in registry.events_of(s)}
        assert [stored[e.event_id] for e in answered] == answered  # the answer is what was stored
        assert all(event_hash(e) == e.hash for e in answered)
        assert registry.verify().ok
    assert all(pg.state_of(e.subject) == lite.state_of(e.subject) for e in on_pg)
    lite.engine.dispose()


def test_a_retried_key_on_postgresql_returns_the_stored_event_and_a_changed_request_is_refused(
    pg: ConsentRegistry,
) -> None:
    a, b = _enrol(pg, 2)
    request = EventRequest(subject=a, kind=EventKind.OPTED_OUT, channel="portal")
    (first,) = pg.append([request], ["retry-1"])
    again, other = pg.append([request, EventRequest(subject=b, kind=EventKind.NOTICE_SENT)], ["retry-1", None])
    assert again == first and other.seq == 1
    with pytest.raises(IdempotencyConflict):
        pg.append([EventRequest(subject=a, kind=EventKind.WITHDRAWN)], ["retry-1"])
    assert len(pg.events_of(a)) == 1


def test_a_refused_batch_on_postgresql_leaves_no_chain_head_or_event_behind(pg: ConsentRegistry) -> None:
    (subject,) = _enrol(pg, 1)[:1]
    stranger = pg.pseudonymiser.subject(national_id(99))
    batch = [EventRequest(subject=subject, kind=EventKind.OPTED_OUT), EventRequest(subject=stranger, kind="opted_out")]
    with pytest.raises(ConsentError, match="not enrolled"):
        pg.append(batch)
    with pg.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM consent_chain_heads")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM consent_events")).scalar_one() == 0


def test_writers_with_their_own_pools_keep_every_chain_whole(pg: ConsentRegistry, pg_url: str, tmp_path: Path) -> None:
    """Two registries (two engines: as two uvicorn workers, or a worker and a CLI import) append to the same
    subjects at once, in batches that overlap in different orders."""
    subjects = _enrol(pg, 5)
    other = _registry(tmp_path / "pg", pg_url)  # same key file, its own engine and pool
    kinds = [EventKind.NOTICE_SENT, EventKind.OPTED_OUT, EventKind.RECONSENTED]

    def write(i: int) -> None:
        registry = pg if i % 2 else other
        batch = [EventRequest(subject=subjects[(i + j) % 5], kind=kinds[(i + j) % 3]) for j in range(4)]
        registry.append(batch[::-1] if i % 3 else batch)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(write, range(50)))
    events = [e for s in subjects for e in pg.events_of(s)]
    assert len(events) == 200
    assert all([e.seq for e in pg.events_of(s)] == list(range(1, 41)) for s in subjects)
    pg.checkpoint()
    assert pg.verify().ok
    other.engine.dispose()


def test_one_key_sent_by_two_writers_at_once_is_stored_once(pg: ConsentRegistry, pg_url: str, tmp_path: Path) -> None:
    (subject,) = _enrol(pg, 1)[:1]
    other = _registry(tmp_path / "pg", pg_url)
    request = EventRequest(subject=subject, kind=EventKind.OPTED_OUT)
    start = threading.Barrier(8)

    def send(i: int) -> str:
        start.wait()
        (event,) = (pg if i % 2 else other).append([request], ["same-key"])
        return event.event_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(send, range(8)))
    assert len(ids) == 1 and [e.event_id for e in pg.events_of(subject)] == list(ids)
    other.engine.dispose()


def test_an_append_on_a_connection_the_server_dropped_is_retried_on_a_fresh_one(pg: ConsentRegistry) -> None:
    a, b = _enrol(pg, 2)
    pg.append([EventRequest(subject=a, kind=EventKind.NOTICE_SENT)])  # leaves a pooled connection behind
    url = pg.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:  # outside the pool: only the pooled one is dropped
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert dropped == (1,)
    (event,) = pg.append([EventRequest(subject=b, kind=EventKind.OPTED_OUT)])
    assert [e.event_id for e in pg.events_of(b)] == [event.event_id] and pg.verify().ok


# --- state and case facts: PostgreSQL's one-statement write against SQLite's general path and the fold -----


@st.composite
def batched(draw: st.DrawFn) -> list[list[Event]]:
    """A random ledger of three subjects cut into batches (several events of one subject may share one)."""
    ledger = draw(ledgers())
    cuts = sorted(draw(st.sets(st.integers(1, max(len(ledger) - 1, 1)), max_size=len(ledger))))
    bounds = [0, *(c for c in cuts if c < len(ledger)), len(ledger)]
    return [ledger[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _case_facts_of(registry: ConsentRegistry, subjects: list[str]) -> dict[tuple[str, str, str], CaseFacts]:
    return {k: f for k, f in _stored_facts(registry).items() if k[0] in subjects}


def _folded_facts_of(registry: ConsentRegistry, subjects: list[str]) -> dict[tuple[str, str, str], CaseFacts]:
    return {k: f for k, f in _expected_facts(registry).items() if k[0] in subjects}


def test_state_and_case_facts_written_in_one_statement_equal_the_general_path_and_the_fold(
    pg_url: str, tmp_path: Path
) -> None:
    pg = _registry(tmp_path / "pg", pg_url)
    lite = _registry(tmp_path / "lite", None)
    lite.pseudonymiser = pg.pseudonymiser
    examples = iter(range(10**6))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(batched())
    def check(batches: list[list[Event]]) -> None:
        base = 3 * next(examples)
        subjects = [pg.pseudonymiser.subject(national_id(base + n + 1)) for n in range(3)]
        for registry in (pg, lite):
            registry.enrol(
                [EnrolmentInput(s, DATASET, "NTU", Category.B, T0, (f"{s[:8]}-a", f"{s[:8]}-b")) for s in subjects]
                + [EnrolmentInput(subjects[0], OTHER_DATASET, "NTUH", Category.A, T0, (f"{subjects[0][:8]}-o",))],
                now=T0,
            )
            for batch in batches:
                requests = [
                    EventRequest(
                        subject=subjects[n],
                        kind=kind,
                        scope_dataset=DATASET if dataset == OTHER_DATASET and n != 0 else dataset,
                        scope_purpose=purpose,
                        effective_at=day(when),
                    )
                    for n, kind, dataset, purpose, when in batch
                ]
                registry.append(requests, now=day(max(when for *_, when in batch) + 0.5))
            # Enrolled after the events: the new cases take the facts the ledger already holds.
            registry.enrol(
                [EnrolmentInput(subjects[1], OTHER_DATASET, "NTUH", Category.C, T0, (f"{subjects[1][:8]}-o",))]
            )
        for s in subjects:
            assert pg.state_of(s) == lite.state_of(s) == fold(pg.events_of(s))
        facts = _case_facts_of(pg, subjects)
        assert len(facts) == 8
        assert facts == _case_facts_of(lite, subjects) == _folded_facts_of(pg, subjects)

    try:
        check()
    finally:
        pg.engine.dispose()
        lite.engine.dispose()


def test_withdrawals_owed_by_a_batch_are_found_in_its_write_as_on_the_general_path(
    pg: ConsentRegistry, tmp_path: Path
) -> None:
    """Refusals of several subjects in one batch, with scopes that do and do not cover a GRU release, a grant
    beside them, a repeated refusal and a later batch refusing again: the same notices as SQLite's path."""
    for registry in (pg, _registry(tmp_path / "lite", None)):
        release_id, _cases = _registry_with_release(registry, tmp_path / registry.engine.dialect.name, "r1")
        s = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, 7)]
        registry.append(
            [
                EventRequest(subject=s[1], kind=EventKind.OPTED_OUT, scope_purpose="DUO:0000007"),  # DS: not GRU
                EventRequest(subject=s[2], kind=EventKind.WITHDRAWN, scope_dataset=DATASET),
                EventRequest(subject=s[3], kind=EventKind.CONSENT_GIVEN),
                EventRequest(subject=s[2], kind=EventKind.OPTED_OUT),  # owes case-2 once only
                EventRequest(subject=s[4], kind=EventKind.CONSENT_DECLINED, scope_purpose="DUO:0000042"),
            ]
        )
        first = registry.withdrawal_notices(release_id)
        registry.append(
            [EventRequest(subject=s[4], kind=EventKind.OPTED_OUT), EventRequest(subject=s[5], kind="opted_out")]
        )
        second = registry.withdrawal_notices(release_id)
        secret = registry.pseudonymiser.release_secret(release_id)
        two, four, five = (release_pseudonym(secret, f"case-{i}") for i in (2, 4, 5))
        assert [n.release_pseudonyms for n in first] == [sorted([two, four])]
        assert [n.release_pseudonyms for n in second] == [sorted([two, four]), [five]]
        if registry is not pg:
            registry.engine.dispose()


def _numbered(statement: str) -> tuple[str, int]:
    """psycopg's ``%(name)s`` placeholders as PREPARE's ``$n`` (one number per distinct name), and how many."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", number, statement), len(names)


@pytest.mark.parametrize("name", ["_PREPARE", "_WRITE"])
def test_plans_made_on_empty_tables_probe_indexes_instead_of_scanning(pg: ConsentRegistry, name: str) -> None:
    """psycopg prepares a statement after a few runs and PostgreSQL keeps that generic plan for the
    connection's life. A worker that starts on a new registry plans on empty tables; a scan chosen then runs on
    every batch when the tables have grown (the idempotency-key look-up once took 16 ms a batch at 30,000
    events). Every table a batch reads must be reached through an index in the generic plan."""
    statement, count = _numbered(getattr(pg_append, name))
    with psycopg.connect(pg.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE probe ({', '.join(['text'] * count)}) AS {statement}")
        empty = ", ".join(["'[]'"] * count)  # every parameter is a JSON array
        plan = "\n".join(str(line) for (line,) in conn.execute(f"EXPLAIN EXECUTE probe ({empty})"))
        conn.rollback()
    assert "consent_" in plan
    assert re.findall(r"Seq Scan on (consent_\w+)", plan) == [], plan


def test_registry_connections_have_jit_off_and_keep_the_urls_own_options(pg_url: str) -> None:
    """JIT compiling a batch's statement once cost 54 ms of a 57 ms write (a generic plan on tables without
    statistics is costed above jit_above_cost); options given in the URL still apply."""
    engine = make_engine(f"{pg_url}?options=-c%20work_mem%3D7MB")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            assert conn.execute(text("SHOW work_mem")).scalar() == "7MB"
    finally:
        engine.dispose()
