"""The current-state release path: case facts kept on each case row equal the fold of the ledger, the
filter over them decides every case as decide() does, and its bulk pseudonyms are AES-CMAC exactly."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from consent import tables as t
from consent.aes_cmac import cmac_hex, cmac_hex_many
from consent.case_facts import COLUMNS, CaseFacts, facts_of
from consent.decide import Use, decide
from consent.pseudonyms import Pseudonymiser, release_pseudonym
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release_filter import CASE_FACTS_SCHEMA, STATE_SCHEMA, filter_current, filter_release
from consent.settings import ConsentSettings
from consent.state import fold
from schemas.consent import Category, ConsentEvent, Enrolment, EventKind, EventRequest, Policy
from tests.consent.subjects import DATASET, OTHER_DATASET, T0, national_id
from tests.consent.test_decide import GRU, HMB, NCU, History, day, histories, policies, uses
from tests.consent.test_release import state_table


def _inputs(
    subjects: list[tuple[list[ConsentEvent], Category, datetime]],
) -> tuple[pa.Table, pa.Table, pa.Table, dict[str, tuple[str, Category, datetime, list[ConsentEvent]]]]:
    """Case rows (two cases for every third subject), choice rows and the state rows of ``subjects``."""
    members, state_rows, cases = [], [], {}
    for n, (events, category, enrolled_at) in enumerate(subjects):
        subject = f"{n:064x}"
        events = [e.model_copy(update={"subject": subject}) for e in events]
        h = History()
        h.events = events
        state_rows += state_table(subject, h)
        facts = facts_of(fold(events), DATASET, category.value, enrolled_at)
        for case_id in [f"case-{n}"] + ([f"case-{n}-b"] if n % 3 == 0 else []):
            members.append({"case_id": case_id, "subject": subject, **facts.row()})
            cases[case_id] = (subject, category, enrolled_at, events)
    member_table = pa.Table.from_pylist(members, schema=CASE_FACTS_SCHEMA)
    state = pa.Table.from_pylist(state_rows, schema=STATE_SCHEMA)
    choices = state.filter(pa.compute.equal(state.column("facet"), "choice"))
    return member_table, choices, state, cases


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(histories(), st.sampled_from(list(Category)), st.sampled_from([0.0, 1500.0])),
        min_size=1,
        max_size=8,
    ),
    uses,
    policies,
)
def test_the_current_filter_decides_every_case_as_decide_does(
    subjects: list[tuple[History, Category, float]], use: Use, policy: Policy
) -> None:
    now = day(1000)  # after every event of the histories; some subjects enrol only later (day 1500)
    members, choices, _state, cases = _inputs([(h.events, c, day(e)) for h, c, e in subjects])
    requested = [*cases, "case-unknown", "case-0", "case-unknown"]  # repeated and unknown ids too
    out = filter_current(
        pa.table({"case_id": requested}), members, choices, DATASET, use.covering_scopes(), policy, now, b"s" * 32
    )
    got = {r["case_id"]: r for r in out.to_pylist()}
    assert out.num_rows == len(cases) + 1
    assert got.pop("case-unknown")["reason"] == "unknown_case"
    for case_id, (subject, category, enrolled_at, events) in cases.items():
        enrolment = Enrolment(
            subject=subject, dataset=DATASET, institution="X", category=category, enrolled_at=enrolled_at
        )
        decision = decide(events, enrolment, policy, use, now)
        row = got[case_id]
        assert (row["permit"], row["reason"], row["subject"]) == (decision.permit, decision.reason, subject)
        assert row["release_pseudonym"] == (release_pseudonym(b"s" * 32, case_id) if decision.permit else None)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(histories(), st.sampled_from(list(Category))), min_size=1, max_size=6), uses, policies)
def test_the_current_and_the_general_filter_give_the_same_release(
    subjects: list[tuple[History, Category]], use: Use, policy: Policy
) -> None:
    members, choices, state, cases = _inputs([(h.events, c, T0) for h, c in subjects])
    enrolled = {s: c.value for s, c, _, _ in cases.values()}
    enrolments = pa.Table.from_pylist(
        [{"subject": s, "category": c, "enrolled_at": "2019-01-01T00:00:00.000000Z"} for s, c in enrolled.items()]
    )
    request = pa.table({"case_id": list(cases)})
    args = (DATASET, use.covering_scopes(), policy, day(1000), b"k" * 32)
    current = filter_current(request, members, choices, *args)
    general = filter_release(request, members.select(["case_id", "subject"]), enrolments, state, *args)
    columns = ["case_id", "subject", "reason", "permit", "release_pseudonym"]
    assert sorted(current.select(columns).to_pylist(), key=str) == sorted(general.select(columns).to_pylist(), key=str)


# --- the registry keeps the facts equal to the fold of its ledger --------------------------------------

KINDS = list(EventKind)
Event = tuple[int, EventKind, str | None, str | None, float]


@st.composite
def ledgers(draw: st.DrawFn) -> list[tuple[int, EventKind, str | None, str | None, float]]:
    """Events of three subjects in order: (subject number, kind, dataset scope, purpose scope, day)."""
    out = []
    moment = 1.0
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(KINDS))
        moment += draw(st.sampled_from([0.0, 1.0, 10.0]))
        dataset = None if kind is EventKind.DECEASED else draw(st.sampled_from([None, DATASET, OTHER_DATASET]))
        choice = kind in (EventKind.CONSENT_GIVEN, EventKind.RECONSENTED, EventKind.WITHDRAWN, EventKind.OPTED_OUT)
        purpose = draw(st.sampled_from([None, GRU, HMB, NCU])) if choice else None
        out.append((draw(st.integers(0, 2)), kind, dataset, purpose, moment - draw(st.sampled_from([0.0, 0.5]))))
    return out


def _stored_facts(registry: ConsentRegistry) -> dict[tuple[str, str, str], CaseFacts]:
    c = t.cases.c
    booleans = ("deceased", "purpose_choice")  # 0/1 on SQLite
    with registry.engine.connect() as conn:
        rows = conn.execute(select(c.subject, c.dataset, c.case_id, *(c[k] for k in COLUMNS))).mappings().all()
    return {
        (r["subject"], r["dataset"], r["case_id"]): CaseFacts(
            **{k: bool(r[k]) if k in booleans else r[k] for k in COLUMNS}  # type: ignore[arg-type]
        )
        for r in rows
    }


def _expected_facts(registry: ConsentRegistry) -> dict[tuple[str, str, str], CaseFacts]:
    expected = {}
    with registry.engine.connect() as conn:
        cases = conn.execute(select(t.cases.c.subject, t.cases.c.dataset, t.cases.c.case_id)).all()
    for subject, dataset, case_id in cases:
        enrolment = next(e for e in registry.enrolments_of(subject) if e.dataset == dataset)
        state = fold(registry.events_of(subject))
        expected[(subject, dataset, case_id)] = facts_of(
            state, dataset, enrolment.category.value, enrolment.enrolled_at
        )
    return expected


def _replay(registry: ConsentRegistry, ledger: Sequence[Event]) -> None:
    subjects = [registry.pseudonymiser.subject(national_id(n + 1)) for n in range(3)]
    categories = [Category.A, Category.B, Category.C]
    registry.enrol(
        [
            EnrolmentInput(s, DATASET, "NTU", categories[n], T0, (f"case-{n}", f"case-{n}-b"))
            for n, s in enumerate(subjects)
        ],
        now=T0,
    )
    registry.enrol([EnrolmentInput(subjects[0], OTHER_DATASET, "NTU", Category.B, T0, ("other-0",))], now=T0)
    for n, kind, dataset, purpose, when in ledger:
        if dataset == OTHER_DATASET and n != 0:
            dataset = DATASET
        request = EventRequest(
            subject=subjects[n], kind=kind, scope_dataset=dataset, scope_purpose=purpose, effective_at=day(when)
        )
        registry.append([request], now=day(when + 0.5))
    # Enrolled after the events: the new cases take the facts the ledger already holds.
    registry.enrol([EnrolmentInput(subjects[1], OTHER_DATASET, "NTU", Category.C, T0, ("other-1",))], now=day(400))
    registry.enrol([EnrolmentInput(subjects[2], DATASET, "NTU", Category.C, T0, ("case-2-c",))], now=day(400))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_case_facts_stored_by_the_registry_equal_the_fold_of_its_ledger(
    ledger: list[tuple[int, EventKind, str | None, str | None, float]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry = ConsentRegistry.from_settings(ConsentSettings(data_dir=Path(tmp)))
        try:
            _replay(registry, ledger)
            assert _stored_facts(registry) == _expected_facts(registry)
        finally:
            registry.engine.dispose()


def test_a_database_from_before_the_case_facts_gets_them_filled_on_open(registry: ConsentRegistry) -> None:
    rnd = random.Random(5)
    ledger = [(rnd.randrange(3), rnd.choice(KINDS), None, None, float(d)) for d in range(1, 30) if rnd.random() < 0.7]
    _replay(registry, ledger)
    expected = _expected_facts(registry)
    with registry.engine.begin() as conn:  # the table as earlier versions made it (and before Alembic)
        for column in COLUMNS:
            conn.execute(text(f"ALTER TABLE consent_cases DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE consent_alembic_version"))
    reopened = ConsentRegistry(registry.engine, registry.pseudonymiser, registry.policy)
    assert _stored_facts(reopened) == expected


@pytest.mark.postgres
def test_case_facts_are_kept_on_postgresql_too(pg_url: str, tmp_path: Path) -> None:
    registry = ConsentRegistry.from_settings(ConsentSettings(data_dir=tmp_path, consent_database_url=pg_url))
    try:
        rnd = random.Random(11)
        ledger = [(rnd.randrange(3), rnd.choice(KINDS), None, None, float(d)) for d in range(1, 40)]
        _replay(registry, ledger)
        assert _stored_facts(registry) == _expected_facts(registry)
    finally:
        registry.engine.dispose()


# --- bulk pseudonyms ---------------------------------------------------------------------------------


def test_bulk_pseudonyms_are_aes_cmac_of_every_length_and_any_row_order() -> None:
    rnd = random.Random(3)
    ids = ["".join(rnd.choice("ab-09é漢") for _ in range(rnd.randint(0, 50))) for _ in range(2000)]
    ids += ["x" * n for n in range(49)]  # every length around the block boundaries
    values = pa.array(["skipped", *ids]).slice(1)  # an array that starts inside its buffers
    rows = np.array(rnd.choices(range(len(ids)), k=3000))
    key = bytes(range(16))
    got = cmac_hex_many(key, values, rows).to_pylist()
    assert got == [cmac_hex(key, ids[r].encode()) for r in rows]
    # RFC 4493, example 2 (one whole block) and 1 (the empty message)
    rfc_key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    assert cmac_hex(rfc_key, bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")) == "070a16b46b4d4144f79bdd9dd04a287c"
    assert cmac_hex_many(rfc_key, pa.array([""]), np.array([0])).to_pylist() == ["bb1d6929e95937287fa37d129b756746"]


def test_bulk_pseudonyms_split_between_threads_equal_those_of_one_thread() -> None:
    ids = pa.array([f"case-{n}" if n % 7 else f"a-much-longer-case-identifier-{n}" for n in range(300_000)])
    rows = np.arange(300_000)[::-1].copy()
    one = cmac_hex_many(b"k" * 16, ids, rows)
    assert cmac_hex_many(b"k" * 16, ids, rows, threads=3).equals(one)
    assert one[7].as_py() == cmac_hex(b"k" * 16, ids[int(rows[7])].as_py().encode())


def test_release_pseudonyms_of_two_releases_differ_for_every_case() -> None:
    pseudonymiser = Pseudonymiser(b"r" * 32)
    ids = pa.array([f"case-{n}" for n in range(500)])
    first = cmac_hex_many(pseudonymiser.release_secret("rel-1")[:16], ids, np.arange(500)).to_pylist()
    second = cmac_hex_many(pseudonymiser.release_secret("rel-2")[:16], ids, np.arange(500)).to_pylist()
    assert len(set(first)) == 500 and set(first).isdisjoint(second)


def test_a_case_enrolled_after_the_decision_time_is_not_released() -> None:
    facts = facts_of({}, DATASET, "B", T0 + timedelta(days=10))
    members = pa.Table.from_pylist([{"case_id": "c", "subject": "a" * 64, **facts.row()}], schema=CASE_FACTS_SCHEMA)
    out = filter_current(
        pa.table({"case_id": ["c"]}),
        members,
        STATE_SCHEMA.empty_table(),
        DATASET,
        frozenset({GRU}),
        Policy(),
        T0,
        b"s" * 32,
    )
    assert [(r["reason"], r["permit"]) for r in out.to_pylist()] == [("not_enrolled", False)]
