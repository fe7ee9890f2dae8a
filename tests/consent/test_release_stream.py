"""Streamed releases and their membership: a release made through the stream (files, counts, unknown ids,
membership stored per case or as bitmaps) equals the in-memory filter on the same registry, on SQLite and
PostgreSQL, under a memory budget small enough to make DuckDB spill; withdrawals reach exactly the releases
an oracle finds, whichever way each release's membership is stored."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import select

from consent import tables as t
from consent.membership import CHUNK, MembershipBuilder, cases_of, held_by_release, members, release_members
from consent.pseudonyms import release_pseudonym
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release import create_release, load_current
from consent.release_filter import PERMIT_REASONS, filter_current
from consent.settings import ConsentSettings
from consent.withdrawals import HeldRelease, Refusal, owed_rule
from schemas.consent import Category, Channel, EventKind, EventRequest, purposes
from tests.consent.subjects import DATASET, OTHER_DATASET, T0, national_id

UNTIL = date.today() + timedelta(days=60)
PER_CASE = 1_000_000  # a row per case (the default for a release of this size)
BITMAPS = 0  # every release of this size stored as bitmap runs, as a national one is


@pytest.fixture(params=["sqlite", "postgres"])
def any_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsentRegistry]:
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    settings = ConsentSettings(data_dir=tmp_path / "var", consent_database_url=url)
    registry = ConsentRegistry.from_settings(settings)
    yield registry
    registry.engine.dispose()


def _populate(registry: ConsentRegistry, people: int, seed: int) -> list[str]:
    """``people`` enrolled in DATASET (1-3 cases each, some also in OTHER_DATASET) with a mix of notices,
    refusals, grants, purpose-scoped choices and deaths; returns every case id of DATASET."""
    rnd = random.Random(seed)
    rows, case_ids = [], []
    for n in range(people):
        subject = registry.pseudonymiser.subject(national_id(n))
        cases = [f"c{n}-{k}" for k in range(rnd.randint(1, 3))]
        case_ids += cases
        category = rnd.choice([Category.A, Category.B, Category.C, Category.C])
        rows.append(EnrolmentInput(subject, DATASET, f"H{n % 3}", category, T0, tuple(cases)))
        if n % 5 == 0:
            rows.append(EnrolmentInput(subject, OTHER_DATASET, "H9", Category.B, T0, (f"c{n}-0",)))
    registry.enrol(rows)
    events = []
    for n in range(people):
        subject = registry.pseudonymiser.subject(national_id(n))
        when = T0 + timedelta(days=rnd.randint(1, 400))
        roll = rnd.random()
        if roll < 0.5:
            events.append(EventRequest(subject=subject, kind=EventKind.NOTICE_SENT, effective_at=when))
        if roll < 0.1:
            events.append(EventRequest(subject=subject, kind=EventKind.NOTICE_UNDELIVERED, effective_at=when))
        if 0.5 < roll < 0.6:
            events.append(EventRequest(subject=subject, kind=EventKind.OPTED_OUT, effective_at=when))
        if 0.6 < roll < 0.7:
            scope = rnd.choice(["HMB", "GRU", "DS"])
            events.append(EventRequest(subject=subject, kind=EventKind.OPTED_OUT, scope_purpose=scope))
        if 0.7 < roll < 0.75:
            events.append(EventRequest(subject=subject, kind=EventKind.CONSENT_GIVEN, scope_dataset=DATASET))
        if 0.75 < roll < 0.78:
            events.append(EventRequest(subject=subject, kind=EventKind.DECEASED, channel=Channel.STEWARD))
    registry.append(events)
    return case_ids


def _covering(purpose: str) -> frozenset[str]:
    vocab = purposes()
    return vocab.covering_scopes(vocab.normalise(purpose), frozenset())


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("per_case_up_to", [PER_CASE, BITMAPS], ids=["per-case", "bitmaps"])
def test_a_streamed_release_equals_the_in_memory_filter_and_stores_its_membership(
    any_registry: ConsentRegistry, tmp_path: Path, per_case_up_to: int
) -> None:
    _check_release_equals_filter(any_registry, tmp_path, per_case_up_to)


def test_the_policys_switches_reach_the_decision_the_database_makes(tmp_path: Path) -> None:
    settings = ConsentSettings(data_dir=tmp_path / "var", deceased_permits=False, undelivered_notice_denies=False)
    registry = ConsentRegistry.from_settings(settings)
    try:
        _check_release_equals_filter(registry, tmp_path, PER_CASE)
    finally:
        registry.engine.dispose()


def _check_release_equals_filter(registry: ConsentRegistry, tmp_path: Path, per_case_up_to: int) -> None:
    case_ids = _populate(registry, 400, seed=4)
    rnd = random.Random(9)
    requested = [*rnd.sample(case_ids, len(case_ids) * 2 // 3), "unknown-1", "unknown-2", "unknown-1"]
    requested += requested[:20]  # ids asked for twice count once
    request = tmp_path / "request.csv"
    request.write_text("case_id\n" + "\n".join(requested) + "\n", encoding="utf-8")
    # 16MB: small enough that DuckDB has to hold to its budget; the result must not change
    manifest = create_release(
        registry, "APP-1", DATASET, "HMB", request, tmp_path / "out", UNTIL, memory_limit="16MB",
        per_case_up_to=per_case_up_to,
    )  # fmt: skip
    with registry.engine.connect() as conn:
        current, choices = load_current(conn, DATASET)
        stored = release_members(conn, manifest.release_id)
        chunk_rows = conn.execute(
            select(t.release_chunks.c.chunk).where(t.release_chunks.c.release_id == manifest.release_id)
        ).all()
        case_rows = conn.execute(
            select(t.release_cases.c.case_no)
            .join(t.releases, t.releases.c.release_no == t.release_cases.c.release_no)
            .where(t.releases.c.release_id == manifest.release_id)
        ).all()
        query = select(t.cases.c.case_id, t.cases.c.case_no).where(t.cases.c.dataset == DATASET)
        numbers = {str(c): int(n) for c, n in conn.execute(query)}
    secret = registry.pseudonymiser.release_secret(manifest.release_id)
    covering = _covering("HMB")
    expected = filter_current(
        pa.table({"case_id": requested}), current, choices, DATASET, covering, registry.policy,
        manifest.decided_at, secret,
    ).to_pylist()  # fmt: skip
    permitted = {r["case_id"]: r["release_pseudonym"] for r in expected if r["permit"]}
    assert 0 < len(permitted) < len(set(requested)) - 2  # the mix has both outcomes
    released = [r["release_pseudonym"] for r in _read_csv(tmp_path / "out" / "released_cases.csv")]
    assert released == sorted(permitted.values())  # in pseudonym order, so the order says nothing
    mapped = _read_csv(tmp_path / "out" / "custodian_map.csv")
    assert {r["case_id"]: r["release_pseudonym"] for r in mapped} == permitted
    assert [r["release_pseudonym"] for r in mapped] == released
    reasons: dict[str, int] = {}
    for r in expected:
        reasons[str(r["reason"])] = reasons.get(str(r["reason"]), 0) + 1
    assert manifest.cases_in == len(expected) == len(set(requested))
    assert manifest.cases_out == len(permitted)
    assert manifest.excluded == {
        k: v for k, v in sorted(reasons.items()) if k not in PERMIT_REASONS and k != "unknown_case"
    }
    assert manifest.unknown_case_ids == ["unknown-1", "unknown-2"]
    assert [r["case_id"] for r in _read_csv(tmp_path / "out" / "unknown_cases.csv")] == ["unknown-1", "unknown-2"]
    assert stored.tolist() == sorted(numbers[c] for c in permitted)
    if per_case_up_to >= len(permitted):
        assert (len(case_rows), chunk_rows) == (len(permitted), [])
    else:
        assert case_rows == [] and len(chunk_rows) > 0
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert saved["output_sha256"] == manifest.output_sha256
    assert all(p == release_pseudonym(secret, c) for c, p in list(permitted.items())[:20])


def test_a_release_of_an_arrow_table_and_of_an_empty_request_work(registry: ConsentRegistry, tmp_path: Path) -> None:
    case_ids = _populate(registry, 30, seed=1)
    empty = create_release(
        registry, "APP-0", DATASET, "GRU", pa.table({"case_id": pa.array([], pa.string())}), tmp_path / "e", UNTIL
    )
    assert (empty.cases_in, empty.cases_out, empty.unknown_case_ids) == (0, 0, [])
    assert _read_csv(tmp_path / "e" / "released_cases.csv") == []
    some = create_release(registry, "APP-1", DATASET, "GRU", pa.table({"case_id": case_ids}), tmp_path / "a", UNTIL)
    assert some.cases_in == len(case_ids) and some.unknown_case_ids == []
    assert len(_read_csv(tmp_path / "a" / "released_cases.csv")) == some.cases_out > 0


def test_a_case_list_without_a_case_id_column_is_refused_with_what_was_found(
    registry: ConsentRegistry, tmp_path: Path
) -> None:
    _populate(registry, 5, seed=2)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,other\n1,2\n", encoding="utf-8")
    from consent.errors import ConsentError

    with pytest.raises(ConsentError, match="needs a case_id column \\(found: id, other\\)"):
        create_release(registry, "APP-1", DATASET, "GRU", bad, tmp_path / "out", UNTIL)
    with pytest.raises(ConsentError, match="does not exist"):
        create_release(registry, "APP-1", DATASET, "GRU", tmp_path / "missing.csv", tmp_path / "out", UNTIL)
    with registry.engine.connect() as conn:
        assert conn.execute(select(t.releases.c.release_id)).first() is None  # nothing was stored


def test_membership_bitmaps_hold_exactly_the_numbers_added_across_runs() -> None:
    rnd = np.random.default_rng(3)
    numbers = np.unique(rnd.integers(0, 5 * CHUNK, 20_000))
    builder = MembershipBuilder(3 * CHUNK)  # smaller than the numbers: it grows
    for part in np.array_split(numbers, 7):
        builder.add(part)
    chunks = list(builder.chunks())
    assert members(chunks).tolist() == numbers.tolist()
    assert {c for c, _ in chunks} == set((numbers >> 16).tolist())
    assert list(MembershipBuilder(10).chunks()) == []


def test_a_persons_held_cases_are_found_per_case_and_through_the_bitmaps(
    registry: ConsentRegistry, tmp_path: Path
) -> None:
    case_ids = _populate(registry, 60, seed=5)
    made = {}
    for k, (picked, per_case_up_to) in enumerate([(case_ids[:40], BITMAPS), (case_ids[20:], PER_CASE)]):
        manifest = create_release(
            registry, f"APP-{k}", DATASET, "GRU", pa.table({"case_id": picked}), tmp_path / f"{k}", UNTIL,
            per_case_up_to=per_case_up_to,
        )  # fmt: skip
        made[manifest.release_id] = {r["case_id"] for r in _read_csv(tmp_path / f"{k}" / "custodian_map.csv")}
    asked = [registry.pseudonymiser.subject(national_id(n)) for n in range(0, 60, 2)]
    with registry.engine.connect() as conn:
        cases = cases_of(conn, asked)
        found = held_by_release(conn, cases, dict.fromkeys(made, DATASET))
        theirs = {c for _, d, c, _ in cases if d == DATASET}
    assert {h.release_id: set(h.case_ids) for h in found} == {r: c & theirs for r, c in made.items()}
    assert all(len(h.case_ids) == len(set(h.case_ids)) and h.dataset == DATASET for h in found)
    assert all(s in asked for h in found for s in h.subjects)


def test_the_withdrawal_rule_reads_activity_dataset_and_purpose_scope() -> None:
    release = HeldRelease("r", DATASET, "2030-01-01T00:00:00.000000Z", frozenset({"HMB", "GRU"}))
    at = "2029-01-01T00:00:00.000000Z"
    assert owed_rule(Refusal("s", None, None, at), release)
    assert owed_rule(Refusal("s", DATASET, "HMB", at), release)
    assert not owed_rule(Refusal("s", OTHER_DATASET, None, at), release)
    assert not owed_rule(Refusal("s", None, "DS", at), release)
    assert not owed_rule(Refusal("s", None, None, "2031-01-01T00:00:00.000000Z"), release)  # expired by then


def test_withdrawals_reach_exactly_the_releases_holding_the_persons_cases(
    any_registry: ConsentRegistry, tmp_path: Path
) -> None:
    """Several overlapping releases, then opt-outs (some scoped): each notice lists what an oracle over the
    custodian maps says is owed, once, and a repeated refusal owes nothing more."""
    registry = any_registry
    case_ids = _populate(registry, 120, seed=7)
    rnd = random.Random(11)
    releases = {}
    for k, (purpose, per_case_up_to) in enumerate([("HMB", BITMAPS), ("GRU", PER_CASE), ("HMB", PER_CASE)]):
        picked = rnd.sample(case_ids, len(case_ids) // 2)
        manifest = create_release(
            registry, f"APP-{k}", DATASET, purpose, pa.table({"case_id": picked}), tmp_path / f"r{k}", UNTIL,
            per_case_up_to=per_case_up_to,
        )  # fmt: skip
        releases[manifest.release_id] = (purpose, {r["case_id"]: r["release_pseudonym"] for r in _read_csv(
            tmp_path / f"r{k}" / "custodian_map.csv")})  # fmt: skip
    owner = {}
    with registry.engine.connect() as conn:
        for case_id, subject in conn.execute(
            select(t.cases.c.case_id, t.cases.c.subject).where(t.cases.c.dataset == DATASET)
        ):
            owner[case_id] = subject
    refusing = [registry.pseudonymiser.subject(national_id(n)) for n in range(0, 120, 4)]
    scoped = set(refusing[::3])  # these refuse GRU only
    registry.append(
        [
            EventRequest(subject=s, kind=EventKind.WITHDRAWN, scope_purpose="GRU" if s in scoped else None)
            for s in refusing
        ]
    )
    expected: dict[str, set[str]] = {}
    for release_id, (purpose, mapping) in releases.items():
        covering = _covering(purpose)
        owed = {
            p
            for c, p in mapping.items()
            if owner[c] in refusing and (owner[c] not in scoped or "DUO:0000042" in covering)
        }
        if owed:
            expected[release_id] = owed
    got = {n.release_id: set(n.release_pseudonyms) for n in registry.withdrawal_notices()}
    assert got == expected and got
    registry.append([EventRequest(subject=s, kind=EventKind.OPTED_OUT) for s in refusing[:5]])
    # now refusing every purpose: what the GRU-only refusals left out of the other releases is owed too
    newly = set(refusing[:5]) & scoped
    for release_id, (purpose, mapping) in releases.items():
        if "DUO:0000042" not in _covering(purpose):
            owed = {p for c, p in mapping.items() if owner[c] in newly}
            if owed:
                expected[release_id] = expected.get(release_id, set()) | owed
    listed: dict[str, list[str]] = {}
    for notice in registry.withdrawal_notices():
        listed.setdefault(notice.release_id, []).extend(notice.release_pseudonyms)
    assert {r: set(p) for r, p in listed.items()} == expected
    assert all(len(p) == len(set(p)) for p in listed.values())  # no pseudonym is notified twice


def test_an_expired_release_owes_nothing(registry: ConsentRegistry, tmp_path: Path) -> None:
    case_ids = _populate(registry, 20, seed=3)
    manifest = create_release(registry, "APP-1", DATASET, "GRU", pa.table({"case_id": case_ids}), tmp_path / "r", UNTIL)
    subject = registry.pseudonymiser.subject(national_id(1))
    late = datetime.combine(UNTIL + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    registry.append([EventRequest(subject=subject, kind=EventKind.WITHDRAWN)], now=late)
    assert registry.withdrawal_notices(manifest.release_id) == []
