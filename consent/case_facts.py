"""Per-case consent facts: what a current-state release decision needs, kept on each ``consent_cases`` row.

The category and enrolment time of the case's enrolment, the latest notice sent and returned for its
dataset, whether the subject died and whether any choice could apply to the dataset. ``facts_of`` is
the pure definition (a function of the folded state); the registry keeps the stored columns equal to
it on enrolment and on every event, so a release scans one table instead of joining three.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, inspect, or_, select, text, update
from sqlalchemy.schema import CreateColumn

from consent import tables as t
from consent.state import ALL, StateEntry, StateKey
from schemas.consent import CHOICES, ConsentEvent, EventKind, parse_instant, utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

# Stored as epoch microseconds (exact: instants carry microseconds), not ISO text like the ledger: a
# release compares them for every case, and integers cost DuckDB a fraction of what 27-byte strings do.
COLUMNS = ("category", "enrolled_us", "notice_sent_us", "notice_undelivered_us", "deceased", "has_choice")


def micros(moment: datetime) -> int:
    """``moment`` as integer microseconds since 1970-01-01 UTC."""
    return (utc(moment) - _EPOCH) // _MICRO


@dataclass(frozen=True)
class CaseFacts:
    category: str
    enrolled_us: int
    notice_sent_us: int | None  # latest notice_sent for all datasets or this one
    notice_undelivered_us: int | None  # latest notice_undelivered for all datasets or this one
    deceased: bool  # any deceased event (decide() counts one in any scope)
    has_choice: bool  # a choice for all datasets or this one exists: only such cases look for one

    def row(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in COLUMNS}


def facts_of(state: Mapping[StateKey, StateEntry], dataset: str, category: str, enrolled_at: datetime) -> CaseFacts:
    """The facts of a case of ``dataset`` whose subject's folded state is ``state``."""

    def latest(kind: EventKind) -> int | None:
        times = [
            e.effective_at for k, e in state.items() if k.facet == kind.value and k.scope_dataset in (ALL, dataset)
        ]
        return micros(max(times)) if times else None

    return CaseFacts(
        category=category,
        enrolled_us=micros(enrolled_at),
        notice_sent_us=latest(EventKind.NOTICE_SENT),
        notice_undelivered_us=latest(EventKind.NOTICE_UNDELIVERED),
        deceased=any(k.facet == EventKind.DECEASED.value for k in state),
        has_choice=any(k.facet == "choice" and k.scope_dataset in (ALL, dataset) for k in state),
    )


def _chunks(items: Sequence[Any], size: int = 5000) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def facts_in(conn: Connection, subjects: Sequence[str]) -> dict[tuple[str, str], CaseFacts]:
    """(subject, dataset) -> facts, from the stored enrolments and materialised state of ``subjects``."""
    states: dict[str, dict[StateKey, StateEntry]] = defaultdict(dict)
    enrolled: list[tuple[str, str, str, str]] = []
    for chunk in _chunks(sorted(set(subjects))):
        q = select(t.state).where(t.state.c.subject.in_(chunk))
        for r in conn.execute(q):
            key = StateKey(r.facet, r.scope_dataset, r.scope_purpose)
            states[r.subject][key] = StateEntry(EventKind(r.kind), parse_instant(r.effective_at), r.seq)
        e = t.enrolments.c
        enrolled.extend(
            conn.execute(select(e.subject, e.dataset, e.category, e.enrolled_at).where(e.subject.in_(chunk)))
        )
    return {(s, d): facts_of(states.get(s, {}), d, c, parse_instant(at)) for s, d, c, at in enrolled}


def store_facts(conn: Connection, facts: Mapping[tuple[str, str], CaseFacts]) -> None:
    """Write ``facts`` onto every case row of each (subject, dataset)."""
    if not facts:
        return
    c = t.cases.c
    stmt = (
        update(t.cases)
        .where(c.subject == bindparam("s"), c.dataset == bindparam("d"))
        .values({col: bindparam(col) for col in COLUMNS})
    )
    rows = [{"s": s, "d": d, **f.row()} for (s, d), f in sorted(facts.items())]
    for chunk in _chunks(rows):
        conn.execute(stmt, list(chunk))


def apply_events(conn: Connection, events: Sequence[ConsentEvent]) -> None:
    """Carry newly appended events into the facts of their subjects' case rows.

    Each fact only ever moves one way (a later time, false to true), so each update is idempotent and
    commutes with any other: concurrent transactions on one subject cannot lose one another's update."""
    c = t.cases.c
    grouped: dict[tuple[str, bool], dict[tuple[str, str | None], int | None]] = defaultdict(dict)
    for e in events:
        fact = "has_choice" if e.kind in CHOICES else e.kind.value
        key: tuple[str, str | None]
        if e.kind is EventKind.DECEASED:
            key = (e.subject, None)  # decide() counts a death in any scope
        elif e.kind in CHOICES or e.kind in (EventKind.NOTICE_SENT, EventKind.NOTICE_UNDELIVERED):
            key = (e.subject, e.scope_dataset)
        else:
            continue
        at = micros(e.effective_at)
        seen = grouped[(fact, key[1] is not None)]
        seen[key] = max(at, seen.get(key) or at)
    for (fact, scoped), found in sorted(grouped.items()):
        subject_match = c.subject == bindparam("s")
        where = and_(subject_match, c.dataset == bindparam("d")) if scoped else subject_match
        if fact in ("has_choice", EventKind.DECEASED.value):
            column = "has_choice" if fact == "has_choice" else "deceased"
            stmt = update(t.cases).where(where, t.cases.c[column].is_(False)).values({column: True})
            rows: list[dict[str, str | int | None]] = [
                {"s": s, "d": d} if scoped else {"s": s} for (s, d) in sorted(found, key=str)
            ]
        else:
            column = "notice_sent_us" if fact == EventKind.NOTICE_SENT.value else "notice_undelivered_us"
            col = t.cases.c[column]
            stmt = (
                update(t.cases)
                .where(where, or_(col.is_(None), col < bindparam("at")))
                .values({column: bindparam("at")})
            )
            rows = [
                {"s": s, "d": d, "at": at} if scoped else {"s": s, "at": at}
                for (s, d), at in sorted(found.items(), key=lambda kv: str(kv[0]))
            ]
        conn.execute(stmt, rows)


def upgrade(engine: Engine) -> None:
    """Add the fact columns to a ``consent_cases`` made by an earlier version and fill them once."""
    if "has_choice" in {col["name"] for col in inspect(engine).get_columns(t.cases.name)}:
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7340021)"))  # the lock create_schema takes
        if "has_choice" in {col["name"] for col in inspect(conn).get_columns(t.cases.name)}:
            return  # another process upgraded it while we waited
        for name in COLUMNS:
            column = CreateColumn(t.cases.c[name]).compile(dialect=engine.dialect)
            conn.execute(text(f"ALTER TABLE {t.cases.name} ADD COLUMN {column}"))
        subjects = [s for (s,) in conn.execute(select(t.cases.c.subject).distinct())]
        for chunk in _chunks(subjects):
            store_facts(conn, facts_in(conn, chunk))
