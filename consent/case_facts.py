"""Per-case consent facts: what a current-state release decision needs, kept on each ``consent_cases`` row.

The category and enrolment time of the case's enrolment, the latest notice sent and returned for its
dataset, whether the subject died, the winning choice among those for all purposes, and whether any
choice scoped to one purpose exists (only then must a release look at the choices themselves). ``facts_of`` is
the pure definition (a function of the folded state); the registry keeps the stored columns equal to
it on enrolment and on every event, so a release scans one table instead of joining three.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select, update

from consent import tables as t
from consent.state import ALL, StateEntry, StateKey
from schemas.consent import CHOICES, ConsentEvent, EventKind, parse_instant, utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

# Stored as epoch microseconds (exact: instants carry microseconds), not ISO text like the ledger: a
# release compares them for every case, and integers cost DuckDB a fraction of what 27-byte strings do.
COLUMNS = (
    "category",
    "enrolled_us",
    "notice_sent_us",
    "notice_undelivered_us",
    "deceased",
    "choice_kind",
    "choice_us",
    "choice_rank",
    "choice_seq",
    "purpose_choice",
)


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
    # The winning choice for all purposes and for all datasets or this one, by decide()'s order: latest
    # effective time, then the broader scope (rank 2: all datasets, 1: this one), then the later event.
    choice_kind: str | None
    choice_us: int | None
    choice_rank: int | None
    choice_seq: int | None
    purpose_choice: bool  # a choice scoped to one purpose applies to the dataset: look the choices up

    def row(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in COLUMNS}


def facts_of(state: Mapping[StateKey, StateEntry], dataset: str, category: str, enrolled_at: datetime) -> CaseFacts:
    """The facts of a case of ``dataset`` whose subject's folded state is ``state``."""

    def latest(kind: EventKind) -> int | None:
        times = [
            e.effective_at for k, e in state.items() if k.facet == kind.value and k.scope_dataset in (ALL, dataset)
        ]
        return micros(max(times)) if times else None

    broad = [
        ((micros(e.effective_at), 2 if k.scope_dataset == ALL else 1, e.seq), e)
        for k, e in state.items()
        if k.facet == "choice" and k.scope_dataset in (ALL, dataset) and k.scope_purpose == ALL
    ]
    best = max(broad, key=lambda pair: pair[0]) if broad else None

    return CaseFacts(
        category=category,
        enrolled_us=micros(enrolled_at),
        notice_sent_us=latest(EventKind.NOTICE_SENT),
        notice_undelivered_us=latest(EventKind.NOTICE_UNDELIVERED),
        deceased=any(k.facet == EventKind.DECEASED.value for k in state),
        choice_kind=best[1].kind.value if best else None,
        choice_us=best[0][0] if best else None,
        choice_rank=best[0][1] if best else None,
        choice_seq=best[0][2] if best else None,
        purpose_choice=any(
            k.facet == "choice" and k.scope_dataset in (ALL, dataset) and k.scope_purpose != ALL for k in state
        ),
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


def _better_choice(c: Any) -> Any:
    """The stored all-purpose choice loses to the bound one (``at``, ``rank``, ``seq``) by decide()'s order."""
    return or_(
        c.choice_us.is_(None),
        c.choice_us < bindparam("at"),
        and_(c.choice_us == bindparam("at"), c.choice_rank < bindparam("rank")),
        and_(c.choice_us == bindparam("at"), c.choice_rank == bindparam("rank"), c.choice_seq < bindparam("seq")),
    )


def apply_events(conn: Connection, events: Sequence[ConsentEvent]) -> None:
    """Carry newly appended events into the facts of their subjects' case rows.

    Each update only ever moves a fact one way (a later time, a winning choice, false to true), so it is
    idempotent and commutes with any other: events may arrive in any order, and concurrent transactions
    on one subject (serialised anyway by its chain head) cannot lose one another's update."""
    c = t.cases.c
    statements: dict[tuple[str, bool], tuple[Any, list[dict[str, Any]]]] = {}
    for e in events:
        scoped = e.scope_dataset is not None and e.kind is not EventKind.DECEASED  # a death counts everywhere
        row: dict[str, Any] = {"s": e.subject, "d": e.scope_dataset} if scoped else {"s": e.subject}
        where = (
            and_(c.subject == bindparam("s"), c.dataset == bindparam("d")) if scoped else c.subject == bindparam("s")
        )
        if e.kind in CHOICES and e.scope_purpose is None:
            name = "choice"
            stmt = update(t.cases).where(where, _better_choice(c))
            stmt = stmt.values(
                choice_kind=bindparam("kind"),
                choice_us=bindparam("at"),
                choice_rank=bindparam("rank"),
                choice_seq=bindparam("seq"),
            )
            row |= {"kind": e.kind.value, "at": micros(e.effective_at), "rank": 1 if scoped else 2, "seq": e.seq}
        elif e.kind in CHOICES or e.kind is EventKind.DECEASED:
            name = "purpose_choice" if e.kind in CHOICES else "deceased"
            stmt = update(t.cases).where(where, c[name].is_(False)).values({name: True})
        elif e.kind in (EventKind.NOTICE_SENT, EventKind.NOTICE_UNDELIVERED):
            name = f"{e.kind.value}_us"
            stmt = update(t.cases).where(where, or_(c[name].is_(None), c[name] < bindparam("at")))
            stmt = stmt.values({name: bindparam("at")})
            row["at"] = micros(e.effective_at)
        else:
            continue
        statements.setdefault((name, scoped), (stmt, []))[1].append(row)
    for _key, (stmt, rows) in sorted(statements.items(), key=lambda item: item[0]):
        conn.execute(stmt, rows)


def deltas(events: Sequence[ConsentEvent]) -> list[dict[str, Any]]:
    """What ``apply_events`` would carry, merged per (subject, dataset or None for all datasets): the latest
    notice times, deceased and purpose-scoped flags, and the best all-purpose choice as (kind, at, rank, seq).

    Every fact is a join in a one-way order, so merging first and applying once equals applying each event;
    PostgreSQL's one-statement write (``pg_append``) takes these rows."""
    merged: dict[tuple[str, str | None], dict[str, Any]] = {}
    for e in events:
        scoped = e.scope_dataset is not None and e.kind is not EventKind.DECEASED  # a death counts everywhere
        key = (e.subject, e.scope_dataset if scoped else None)
        at = micros(e.effective_at)
        if e.kind in CHOICES and e.scope_purpose is None:
            fact = "choice"
        elif e.kind in CHOICES or e.kind in (EventKind.DECEASED, EventKind.NOTICE_SENT, EventKind.NOTICE_UNDELIVERED):
            fact = e.kind.value
        else:
            continue
        row = merged.setdefault(
            key,
            {
                "subject": key[0],
                "dataset": key[1],
                "sent": None,
                "undelivered": None,
                "deceased": False,
                "purpose_choice": False,
                "choice_kind": None,
                "choice_us": None,
                "choice_rank": None,
                "choice_seq": None,
            },
        )
        if fact == "choice":
            rank = 1 if scoped else 2
            if row["choice_us"] is None or (at, rank, e.seq) > (
                row["choice_us"],
                row["choice_rank"],
                row["choice_seq"],
            ):
                row |= {"choice_kind": e.kind.value, "choice_us": at, "choice_rank": rank, "choice_seq": e.seq}
        elif e.kind in CHOICES:
            row["purpose_choice"] = True
        elif e.kind is EventKind.DECEASED:
            row["deceased"] = True
        else:
            name = "sent" if e.kind is EventKind.NOTICE_SENT else "undelivered"
            row[name] = at if row[name] is None else max(row[name], at)
    return [merged[k] for k in sorted(merged, key=lambda k: (k[0], k[1] or ""))]


def backfill(conn: Connection) -> None:
    """Fill every case row's facts from the state (the migration that added the columns runs this once)."""
    subjects = [s for (s,) in conn.execute(select(t.cases.c.subject).distinct())]
    for chunk in _chunks(subjects):
        store_facts(conn, facts_in(conn, chunk))
