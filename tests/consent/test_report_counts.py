"""Table 7's maintained counts equal a count of distinct subjects over the whole ledger (the report's old
query, kept here as the oracle) after any mix of appends, on SQLite and PostgreSQL, and after the migration
fills them from a ledger that was written without them."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from consent import tables as t
from consent.database import create_schema
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.report_counts import increments
from consent.settings import ConsentSettings
from schemas.consent import Category, EventRequest
from tests.consent.subjects import DATASET, OTHER_DATASET, T0, national_id

NOW = T0 + timedelta(days=400)
KINDS = {"notice_sent": "sent", "notice_undelivered": "undelivered", "opted_out": "opted_out", "deceased": "deceased"}


def oracle(engine: Engine) -> dict[str, dict[str, int]]:
    """The report's figures as the old query counted them: distinct subjects per institution ("(none)" for
    events filed under none) and kind, and overall per kind ("ALL")."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS.values(), 0))
    e = t.events.c
    with engine.connect() as conn:
        per = select(e.institution, e.kind, func.count(func.distinct(e.subject))).where(e.kind.in_(list(KINDS)))
        for inst, kind, n in conn.execute(per.group_by(e.institution, e.kind)):
            found[inst or "(none)"][KINDS[kind]] = n
        overall = select(e.kind, func.count(func.distinct(e.subject))).where(e.kind.in_(list(KINDS)))
        _ = found["ALL"]  # present even when empty, as the report's row is
        for kind, n in conn.execute(overall.group_by(e.kind)):
            found["ALL"][KINDS[kind]] = n
    return dict(found)


def reported(registry: ConsentRegistry) -> dict[str, dict[str, int]]:
    return {
        r.institution: {"sent": r.sent, "undelivered": r.undelivered, "opted_out": r.opted_out, "deceased": r.deceased}
        for r in registry.report()
    }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsentRegistry]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    reg = ConsentRegistry.from_settings(ConsentSettings(data_dir=tmp_path / "var", consent_database_url=url))
    yield reg
    reg.engine.dispose()


def _enrol(registry: ConsentRegistry, count: int) -> list[str]:
    """``count`` people in DATASET at NTU; every third also in OTHER_DATASET at NTUH (two institutions)."""
    subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, count + 1)]
    rows = [EnrolmentInput(s, DATASET, "NTU", Category.C, T0) for s in subjects]
    rows += [EnrolmentInput(s, OTHER_DATASET, "NTUH", Category.A, T0) for s in subjects[::3]]
    registry.enrol(rows)
    return subjects


def _random_batch(rnd: random.Random, subjects: list[str]) -> list[EventRequest]:
    """Events of every kind, repeated notices, both datasets' scopes, unscoped events of people with two
    institutions (filed under none) and now and then an institution named by the steward."""
    batch = []
    for _ in range(rnd.randint(1, 12)):
        n = rnd.randrange(len(subjects))
        kind = rnd.choice([*KINDS, "notice_sent", "consent_given", "withdrawn"])
        scopes: list[str | None] = [None, DATASET, OTHER_DATASET] if n % 3 == 0 else [None, DATASET]
        scope = None if kind == "deceased" else rnd.choice(scopes)
        named = rnd.choice([None, None, None, "Mobile unit"])
        batch.append(EventRequest(subject=subjects[n], kind=kind, scope_dataset=scope, institution=named))
    return batch


def test_a_repeated_notice_counts_its_subject_once_and_two_institutions_once_overall() -> None:
    stored = [("s1", "notice_sent", "NTU")]
    new: list[tuple[str, str, str | None]] = [("s1", "notice_sent", "NTU"), ("s1", "notice_sent", "NTUH")]
    new += [("s1", "notice_sent", "NTUH"), ("s2", "notice_sent", None), ("s2", "notice_sent", "")]
    new += [("s2", "consent_given", "NTU")]
    assert increments(stored, new) == {
        (False, "NTUH", "notice_sent"): 1,
        (False, "", "notice_sent"): 1,
        (True, "", "notice_sent"): 1,  # s1 was counted overall by its stored notice
    }


def test_counts_kept_by_appends_equal_distinct_subjects_over_the_ledger(registry: ConsentRegistry) -> None:
    subjects = _enrol(registry, 9)
    rnd = random.Random(19)
    for round_ in range(12):
        batch = _random_batch(rnd, subjects)
        registry.append(batch, now=NOW + timedelta(minutes=round_))
        assert reported(registry) == oracle(registry.engine), f"after batch {round_}"
    assert oracle(registry.engine)["ALL"]["sent"] > 0
    assert any(inst == "(none)" for inst in oracle(registry.engine))  # unscoped events of two-institution people


def test_a_subject_noticed_at_two_institutions_counts_in_each_and_once_overall(registry: ConsentRegistry) -> None:
    two = _enrol(registry, 1)[0]  # in both datasets: NTU and NTUH
    registry.append([EventRequest(subject=two, kind="notice_sent", scope_dataset=DATASET)], now=NOW)
    registry.append([EventRequest(subject=two, kind="notice_sent", scope_dataset=OTHER_DATASET)], now=NOW)
    registry.append([EventRequest(subject=two, kind="notice_sent", scope_dataset=DATASET)], now=NOW)
    figures = reported(registry)
    assert (figures["NTU"]["sent"], figures["NTUH"]["sent"], figures["ALL"]["sent"]) == (1, 1, 1)
    assert figures == oracle(registry.engine)


def test_a_retried_idempotency_key_does_not_count_again(registry: ConsentRegistry) -> None:
    a, b = _enrol(registry, 2)
    first = EventRequest(subject=b, kind="opted_out", channel="portal")
    registry.append([first], ["portal:1"], now=NOW)
    again = [first, EventRequest(subject=a, kind="opted_out", scope_dataset=DATASET)]
    registry.append(again, ["portal:1", "portal:2"], now=NOW)
    registry.append(again, ["portal:1", "portal:2"], now=NOW)  # the whole batch retried
    assert reported(registry)["NTU"]["opted_out"] == 2
    assert reported(registry) == oracle(registry.engine)


def test_a_notice_campaign_with_access_codes_is_counted(registry: ConsentRegistry) -> None:
    subjects = _enrol(registry, 5)
    registry.append_with_access_codes([EventRequest(subject=s, kind="notice_sent") for s in subjects], now=NOW)
    assert reported(registry)["ALL"]["sent"] == 5
    assert reported(registry) == oracle(registry.engine)


@pytest.mark.postgres
def test_concurrent_postgresql_appends_of_shared_subjects_count_each_subject_once(pg_url: str, tmp_path: Path) -> None:
    """Writers in their own pools append notices and opt-outs of overlapping people at once: each person's
    first event of a kind is decided under its chain-head lock, so none is counted twice or missed."""
    settings = ConsentSettings(data_dir=tmp_path / "var", consent_database_url=pg_url)
    registries = [ConsentRegistry.from_settings(settings) for _ in range(4)]
    subjects = _enrol(registries[0], 30)

    def write(w: int) -> None:
        rnd = random.Random(w)
        for round_ in range(8):
            people = rnd.sample(subjects, 10)
            kinds = ["notice_sent", "opted_out"]
            registries[w].append(
                [EventRequest(subject=s, kind=rnd.choice(kinds)) for s in people], now=NOW + timedelta(seconds=round_)
            )

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(write, range(4)))
        assert reported(registries[0]) == oracle(registries[0].engine)
        with registries[0].engine.connect() as conn:  # the writers did add to several slots' rows
            assert conn.execute(text("SELECT count(DISTINCT slot) FROM consent_report_counts")).scalar_one() > 1
    finally:
        for reg in registries:
            reg.engine.dispose()


def test_the_migration_fills_the_counts_from_a_ledger_written_without_them(registry: ConsentRegistry) -> None:
    subjects = _enrol(registry, 9)
    rnd = random.Random(5)
    for round_ in range(6):
        registry.append(_random_batch(rnd, subjects), now=NOW + timedelta(minutes=round_))
    with registry.engine.begin() as conn:  # as a database at revision 0005 held it
        conn.execute(text("DROP TABLE consent_report_counts"))
        conn.execute(text("UPDATE consent_alembic_version SET version_num = '0005'"))
    create_schema(registry.engine)
    figures = reported(registry)
    assert figures["ALL"]["sent"] > 0
    assert figures == oracle(registry.engine)
    registry.append(_random_batch(rnd, subjects), now=NOW + timedelta(hours=1))  # and appends keep them
    assert reported(registry) == oracle(registry.engine)
