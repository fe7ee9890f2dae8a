"""The consent registry service: the one write path for enrolments and events, plus reads, report and verify.

Framework-free: the CLI and the API both call :class:`ConsentRegistry`; business rules live in
:mod:`consent.decide`, :mod:`consent.state` and :mod:`consent.ledger`.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence, Set
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from consent import audit, case_facts, membership, notice_lists, pg_append, report_counts, withdrawals
from consent import tables as t
from consent.audit import Actor
from consent.checkpoints import (
    DELTA,
    HEADS,
    Checkpoint,
    Signer,
    WitnessError,
    checkpoint_due,
    delta_hash,
    read_witness,
)
from consent.database import create_schema, fetch_in, make_engine
from consent.decide import Use
from consent.errors import ConsentError, IdempotencyConflict, NotFound
from consent.ledger import ChainBreak, checkpoint_hash, sealed_from_payload, verify_chain
from consent.pseudonyms import Pseudonymiser, load_or_create_key
from consent.settings import ConsentSettings
from consent.state import ALL, StateEntry, StateKey, apply, decide_current
from consent.withdrawals import Refusal
from schemas.consent import (
    REFUSALS,
    AuditEntry,
    Category,
    ConsentEvent,
    Decision,
    Enrolment,
    EventKind,
    EventRequest,
    InstitutionReport,
    Policy,
    WithdrawalNotice,
    format_instant,
    parse_instant,
    purposes,
    utc,
)


def now_utc() -> datetime:
    return datetime.now(UTC)


def policy_from_settings(settings: ConsentSettings) -> Policy:
    return Policy(
        notice_period_days=settings.notice_period_days,
        undelivered_notice_denies=settings.undelivered_notice_denies,
        deceased_permits=settings.deceased_permits,
    )


def request_hash(request: EventRequest) -> str:
    """Fingerprint of a request, so a retried idempotency key with different content is refused."""
    body = request.model_dump(mode="json")
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class EnrolmentInput:
    subject: str
    dataset: str
    institution: str
    category: Category
    enrolled_at: datetime
    case_ids: tuple[str, ...] = ()


@dataclass
class VerifyResult:
    events_checked: int = 0
    chains: int = 0
    first_break: ChainBreak | None = None
    checkpoint_problems: list[str] = field(default_factory=list)
    checkpoints: int = 0
    witnesses: int = 0  # witness files whose checkpoint this ledger still holds

    @property
    def ok(self) -> bool:
        return self.first_break is None and not self.checkpoint_problems


def _row_to_event(row: Any) -> ConsentEvent:
    return ConsentEvent(
        event_id=row.event_id,
        subject=row.subject,
        seq=row.seq,
        kind=EventKind(row.kind),
        scope_dataset=row.scope_dataset,
        scope_purpose=row.scope_purpose,
        effective_at=parse_instant(row.effective_at),
        recorded_at=parse_instant(row.recorded_at),
        channel=row.channel,
        actor=row.actor,
        evidence=row.evidence,
        institution=row.institution,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _chunks(items: Sequence[Any], size: int = 5000) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ConsentRegistry:
    """Pseudonymised subjects, their enrolments, the ledger of their choices and its current state."""

    def __init__(
        self,
        engine: Engine,
        pseudonymiser: Pseudonymiser,
        policy: Policy | None = None,
        signer: Signer | None = None,
        checkpoint_every_events: int = 0,
        checkpoint_every_minutes: float = 0.0,
    ) -> None:
        self.engine = engine
        self.pseudonymiser = pseudonymiser
        self.policy = policy or Policy()
        self.signer = signer  # None: checkpoints are made unsigned (verify says so)
        self.checkpoint_every_events = checkpoint_every_events
        self.checkpoint_every_minutes = checkpoint_every_minutes
        create_schema(engine)

    @classmethod
    def from_settings(cls, settings: ConsentSettings) -> ConsentRegistry:
        engine = make_engine(settings.resolved_consent_database_url())
        key = load_or_create_key(settings.resolved_pseudonym_key_file())
        return cls(
            engine,
            Pseudonymiser(key),
            policy_from_settings(settings),
            Signer.from_key_file(settings.resolved_checkpoint_key_file()),
            settings.checkpoint_every_events,
            settings.checkpoint_every_minutes,
        )

    # --- dialect helpers ---------------------------------------------------------------------------

    def _upsert(self, conn: Connection, table: Any, rows: list[dict[str, Any]], keys: list[str], update: bool) -> None:
        if not rows:
            return
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        for chunk in _chunks(rows, 2000):
            stmt = dialect.insert(table)
            if update:
                stmt = stmt.on_conflict_do_update(
                    index_elements=keys, set_={c: stmt.excluded[c] for c in chunk[0] if c not in keys}
                )
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=keys)
            conn.execute(stmt, list(chunk))

    def _retrying(self, work: Any) -> Any:
        """Run ``work(conn)`` in one transaction, retrying on races (unique keys, deadlocks)."""
        attempts = 10
        for attempt in range(attempts):
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except (IntegrityError, OperationalError):
                if attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")

    # --- enrolment ---------------------------------------------------------------------------------

    def enrol(self, rows: Sequence[EnrolmentInput], now: datetime | None = None) -> int:
        """Store enrolments and their cases in one transaction; repeated rows are no-ops."""
        recorded = format_instant(now or now_utc())
        conflicts = self.enrolment_conflicts(rows)
        if conflicts:
            raise ConsentError("; ".join(conflicts))
        enrol_rows = [
            {
                "subject": r.subject,
                "dataset": r.dataset,
                "institution": r.institution,
                "category": r.category.value,
                "enrolled_at": format_instant(r.enrolled_at),
                "recorded_at": recorded,
            }
            for r in rows
        ]
        case_rows = [{"dataset": r.dataset, "case_id": c, "subject": r.subject} for r in rows for c in r.case_ids]

        def work(conn: Connection) -> int:
            subjects = sorted({r.subject for r in rows})
            if self.engine.dialect.name == "postgresql" and case_rows:
                # The case facts below are read from the subjects' state: hold their chain heads, as an
                # append does, so that no event of theirs commits between that read and our insert.
                self._lock_heads(conn, subjects)
            self._upsert(conn, t.enrolments, enrol_rows, ["subject", "dataset"], update=False)
            facts = case_facts.facts_in(conn, subjects) if case_rows else {}
            numbered = _numbered(conn, case_rows)
            self._upsert(
                conn,
                t.cases,
                [{**c, **facts[(c["subject"], c["dataset"])].row()} for c in numbered],
                ["dataset", "case_id"],
                update=False,
            )
            return len(enrol_rows)

        return int(self._retrying(work))

    def enrolment_conflicts(self, rows: Sequence[EnrolmentInput]) -> list[str]:
        """Rows that contradict what is stored (other category, case owned by someone else), by index."""
        problems: list[str] = []
        with self.engine.connect() as conn:
            subjects = sorted({r.subject for r in rows})
            stored: dict[tuple[str, str], str] = {}
            for chunk in _chunks(subjects):
                q = select(t.enrolments.c.subject, t.enrolments.c.dataset, t.enrolments.c.category).where(
                    t.enrolments.c.subject.in_(chunk)
                )
                stored.update({(s, d): c for s, d, c in conn.execute(q)})
            owners: dict[tuple[str, str], str] = {}
            by_dataset: dict[str, list[str]] = defaultdict(list)
            for r in rows:
                by_dataset[r.dataset].extend(r.case_ids)
            for dataset, ids in by_dataset.items():
                for chunk in _chunks(sorted(set(ids))):
                    q = select(t.cases.c.case_id, t.cases.c.subject).where(
                        t.cases.c.dataset == dataset, t.cases.c.case_id.in_(chunk)
                    )
                    for row in conn.execute(q):
                        owners[(dataset, str(row.case_id))] = str(row.subject)
        for index, r in enumerate(rows):
            category = stored.get((r.subject, r.dataset))
            if category is not None and category != r.category.value:
                problems.append(
                    f"row {index + 1}: already enrolled in {r.dataset} as category {category}, not {r.category.value}"
                )
            for case_id in r.case_ids:
                owner = owners.get((r.dataset, case_id))
                if owner is not None and owner != r.subject:
                    problems.append(f"row {index + 1}: case {case_id} of {r.dataset} belongs to another subject")
        return problems

    def enrolments_of(self, subject: str, who: Actor | None = None) -> list[Enrolment]:
        """A person's enrolments (audited as ``subject.lookup``)."""

        def work(conn: Connection) -> list[Enrolment]:
            self._audit(conn, who, "subject.lookup", subject=subject)
            return self._enrolments_in(conn, subject)

        result: list[Enrolment] = self._retrying(work)
        return result

    def _enrolments_in(self, conn: Connection, subject: str) -> list[Enrolment]:
        rows = conn.execute(select(t.enrolments).where(t.enrolments.c.subject == subject)).all()
        return [
            Enrolment(
                subject=r.subject,
                dataset=r.dataset,
                institution=r.institution,
                category=Category(r.category),
                enrolled_at=parse_instant(r.enrolled_at),
            )
            for r in rows
        ]

    def known_datasets(self) -> set[str]:
        """Datasets the registry knows: those with at least one enrolment (it cannot ask the catalog)."""
        with self.engine.connect() as conn:
            return {d for (d,) in conn.execute(select(t.enrolments.c.dataset).distinct())}

    def knows_dataset(self, dataset: str) -> bool:
        """Whether anyone is enrolled in ``dataset`` (one probe of the dataset index, whatever the size)."""
        with self.engine.connect() as conn:
            q = select(t.enrolments.c.dataset).where(t.enrolments.c.dataset == dataset).limit(1)
            return conn.execute(q).first() is not None

    # --- events ------------------------------------------------------------------------------------

    def check_requests(
        self, requests: Sequence[EventRequest], now: datetime | None = None, conn: Connection | None = None
    ) -> list[str | None]:
        """For each request, why it would be refused (or None): used to validate whole files first."""
        moment = utc(now or now_utc())
        if conn is None:
            with self.engine.connect() as own:
                return self.check_requests(requests, moment, own)
        enrolled = self._enrolled(conn, sorted({r.subject for r in requests}))
        return [self._problem(r, enrolled.get(r.subject, {}), moment) for r in requests]

    @staticmethod
    def _enrolled(conn: Connection, subjects: list[str]) -> dict[str, dict[str, tuple[datetime, str]]]:
        """subject -> dataset -> (enrolled at, institution)."""
        enrolled: dict[str, dict[str, tuple[datetime, str]]] = defaultdict(dict)
        for chunk in _chunks(subjects):
            q = select(
                t.enrolments.c.subject,
                t.enrolments.c.dataset,
                t.enrolments.c.enrolled_at,
                t.enrolments.c.institution,
            ).where(t.enrolments.c.subject.in_(chunk))
            for s, d, at, inst in conn.execute(q):
                enrolled[s][d] = (parse_instant(at), inst)
        return enrolled

    def _problem(self, r: EventRequest, datasets: dict[str, tuple[datetime, str]], moment: datetime) -> str | None:
        if not datasets:
            return "subject is not enrolled in any dataset; enrol them first"
        if r.scope_purpose is not None:
            if r.kind not in (REFUSALS | {EventKind.CONSENT_GIVEN, EventKind.RECONSENTED}):
                return f"{r.kind.value} cannot be scoped to a purpose"
            try:
                purposes().normalise(r.scope_purpose)
            except ValueError as exc:
                return str(exc)
        if r.kind is EventKind.DECEASED and r.scope_dataset is not None:
            return "deceased applies to the person, not one dataset: leave the dataset scope empty"
        if r.scope_dataset is not None and r.scope_dataset not in datasets:
            return f"subject is not enrolled in dataset {r.scope_dataset} (unknown dataset for this subject)"
        effective = utc(r.effective_at) if r.effective_at else moment
        if effective > moment:
            return "effective time is in the future; record a choice when it is made"
        starts = [datasets[r.scope_dataset][0]] if r.scope_dataset is not None else [a for a, _ in datasets.values()]
        start = min(starts)
        if effective < start:
            return f"event takes effect before the subject's enrolment ({format_instant(start)})"
        return None

    def append(
        self,
        requests: Sequence[EventRequest],
        idempotency_keys: Sequence[str | None] | None = None,
        now: datetime | None = None,
    ) -> list[ConsentEvent]:
        """Append events atomically: chains extended, state updated, withdrawal notices created.

        Safe with many concurrent writers; a repeated idempotency key returns the original event.
        """
        keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(requests)
        if len(keys) != len(requests):
            raise ValueError("one idempotency key (or None) per request")
        result: list[ConsentEvent] = self._retrying(lambda conn: self._append_in(conn, requests, keys, now))
        return result

    def append_with_access_codes(
        self, requests: Sequence[EventRequest], now: datetime | None = None
    ) -> tuple[list[ConsentEvent], list[str]]:
        """Append notices and issue one portal access code per request in the same transaction, so a
        campaign is recorded with its letters' codes or not at all."""
        created = format_instant(now or now_utc())

        def work(conn: Connection) -> tuple[list[ConsentEvent], list[str]]:
            events = self._append_in(conn, requests, [None] * len(requests), now)
            codes = [secrets.token_urlsafe(9) for _ in requests]
            rows = [
                {"code_hash": self.pseudonymiser.access_code_hash(c), "subject": r.subject, "created_at": created}
                for c, r in zip(codes, requests, strict=True)
            ]
            for chunk in _chunks(rows, 2000):
                conn.execute(t.access_codes.insert(), list(chunk))
            return events, codes

        result: tuple[list[ConsentEvent], list[str]] = self._retrying(work)
        return result

    def _append_in(
        self,
        conn: Connection,
        requests: Sequence[EventRequest],
        keys: Sequence[str | None],
        now: datetime | None,
    ) -> list[ConsentEvent]:
        moment = utc(now or now_utc())
        wanted = [k for k in keys if k]
        subjects = sorted({r.subject for r in requests})  # sorted: the order chain heads are locked in
        fast = conn.dialect.name == "postgresql"
        # One look at what the batch needs: stored events of its keys, the enrolments (they serve both the
        # checks and the institution each event is filed under) and every chain head, created if new and
        # row-locked until commit. Locked before the checks: a refused batch only rolls back.
        if fast:
            existing, enrolled, heads = pg_append.prepare(conn, wanted, subjects)
        else:
            existing = self._events_by_key(conn, wanted)
            enrolled = self._enrolled(conn, subjects)
            heads = self._lock_heads(conn, subjects)
        # Only a keyed request can be retried, so only its fingerprint is kept.
        hashes = {i: request_hash(requests[i]) for i, key in enumerate(keys) if key}
        todo: list[int] = []
        for i, key in enumerate(keys):
            if key and key in existing:
                if existing[key].request_hash != hashes[i]:
                    raise IdempotencyConflict(
                        f"idempotency key {key!r} was already used for a different event; use a new key"
                    )
            else:
                todo.append(i)
        for i in todo:
            problem = self._problem(requests[i], enrolled.get(requests[i].subject, {}), moment)
            if problem:
                raise ConsentError(f"event {i + 1} ({requests[i].kind.value}): {problem}")
        if not todo:
            return [_row_to_event(existing[str(key)]) for key in keys]
        institutions = _institutions(enrolled)
        # People with no event before this batch have refused nothing before it: propagation need not
        # look up their first refusal (a bulk of new opt-outs skips the look-up entirely).
        never_refused = frozenset(s for s in subjects if heads[s][0] == 0)
        normalise = purposes().normalise
        recorded = format_instant(moment)
        new_events: list[ConsentEvent] = []
        rows: list[dict[str, Any]] = []
        advanced: dict[str, tuple[int, str]] = {}
        by_index: dict[int, ConsentEvent] = {}
        for i in todo:
            r = requests[i]
            seq, prev = heads[r.subject]
            effective = utc(r.effective_at) if r.effective_at else moment
            payload = {
                "event_id": str(uuid.uuid4()),
                "subject": r.subject,
                "seq": seq + 1,
                "kind": r.kind.value,
                "scope_dataset": r.scope_dataset,
                "scope_purpose": normalise(r.scope_purpose) if r.scope_purpose else None,
                "effective_at": format_instant(effective) if r.effective_at else recorded,
                "recorded_at": recorded,
                "channel": r.channel.value,
                "actor": r.actor,
                "evidence": r.evidence,
                "institution": r.institution
                or institutions.get((r.subject, r.scope_dataset))
                or institutions.get((r.subject, None)),
                "prev_hash": prev,
            }
            event = sealed_from_payload(payload, effective, moment)
            heads[r.subject] = advanced[r.subject] = (event.seq, event.hash)
            new_events.append(event)
            by_index[i] = event
            rows.append({**payload, "idempotency_key": keys[i], "request_hash": hashes.get(i), "hash": event.hash})
        refusals = [
            Refusal(row["subject"], row["scope_dataset"], row["scope_purpose"], row["recorded_at"])
            for row, e in zip(rows, new_events, strict=True)
            if e.kind in REFUSALS
        ]
        if fast:
            # Events, heads, state and case facts in one statement: one round trip.
            pg_append.write(conn, rows, advanced, _newest_state(new_events), case_facts.deltas(new_events))
        else:
            self._count_for_report(conn, new_events)  # before the write: "first" means among stored events
            self._write_events(conn, rows, advanced)
            self._update_state(conn, new_events)
        self._propagate_withdrawals(conn, refusals, moment, never_refused)
        return [by_index[i] if i in by_index else _row_to_event(existing[str(key)]) for i, key in enumerate(keys)]

    @staticmethod
    def _events_by_key(conn: Connection, keys: list[str]) -> dict[str, Any]:
        """Stored events of these idempotency keys, by key."""
        found: dict[str, Any] = {}
        for chunk in _chunks(keys):
            for row in conn.execute(select(t.events).where(t.events.c.idempotency_key.in_(chunk))):
                found[row.idempotency_key] = row
        return found

    def _write_events(self, conn: Connection, rows: list[dict[str, Any]], heads: dict[str, tuple[int, str]]) -> None:
        """The general (SQLAlchemy Core) write of sealed event rows and their advanced chain heads."""
        # One cached single-row statement run over all rows; with RETURNING, SQLAlchemy sends them as
        # multi-row INSERTs (insertmanyvalues): one round trip per 1,000 rows and no compile per batch size.
        conn.execute(t.events.insert().returning(t.events.c.id), rows)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        advance = dialect.insert(t.chain_heads)
        advance = advance.on_conflict_do_update(
            index_elements=["subject"], set_={"seq": advance.excluded.seq, "hash": advance.excluded.hash}
        )
        conn.execute(
            advance.returning(t.chain_heads.c.subject),
            [{"subject": s, "seq": seq, "hash": h} for s, (seq, h) in heads.items()],
        )

    def _count_for_report(self, conn: Connection, new_events: list[ConsentEvent]) -> None:
        """Add the batch's first events of a reported kind to Table 7's counts (the general path; PostgreSQL's
        write does it in SQL, ``report_counts.PG_TALLY``). Runs under the batch's chain-head locks."""
        reported = {k.value for k in report_counts.REPORTED}
        subjects = sorted({e.subject for e in new_events if e.kind.value in reported})
        if not subjects:
            return
        stored: list[tuple[str, str, str | None]] = []
        for chunk in _chunks(subjects):
            # By subject only (its few events, through the (subject, seq) key), kinds filtered here: a kind
            # in the WHERE clause lets SQLite's planner pick the (kind, institution) index and walk every
            # notice of the ledger.
            q = select(t.events.c.subject, t.events.c.kind, t.events.c.institution).where(t.events.c.subject.in_(chunk))
            stored.extend((r.subject, r.kind, r.institution) for r in conn.execute(q) if r.kind in reported)
        added = report_counts.increments(stored, ((e.subject, e.kind.value, e.institution) for e in new_events))
        if not added:
            return
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(t.report_counts)
        upsert = stmt.on_conflict_do_update(
            index_elements=["slot", "overall", "institution", "kind"],
            set_={"subjects": t.report_counts.c.subjects + stmt.excluded.subjects},
        )
        conn.execute(
            upsert,
            [
                {"slot": 0, "overall": overall, "institution": institution, "kind": kind, "subjects": n}
                for (overall, institution, kind), n in sorted(added.items())
            ],
        )

    def _lock_heads(self, conn: Connection, subjects: list[str]) -> dict[str, tuple[int, str]]:
        """Each subject's chain head, created if new and row-locked for this transaction, in one statement
        per chunk: the no-op update of an existing head takes its row lock (per subject, never table-wide;
        subjects in sorted order so batches cannot deadlock). SQLite's BEGIN IMMEDIATE serialises anyway."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(t.chain_heads)
        stmt = stmt.on_conflict_do_update(index_elements=["subject"], set_={"seq": t.chain_heads.c.seq})
        returning = stmt.returning(t.chain_heads.c.subject, t.chain_heads.c.seq, t.chain_heads.c.hash)
        rows = [{"subject": s, "seq": 0, "hash": ""} for s in subjects]  # sorted: rows lock in this order
        return {r.subject: (r.seq, r.hash) for r in conn.execute(returning, rows)}

    def _update_state(self, conn: Connection, new_events: list[ConsentEvent]) -> None:
        """Fold the new events into the materialised state without reading it first: per state key the
        newest of the new entries is upserted, and the stored row changes only if that one is newer
        (``state.apply``'s rule: later effective time, then later seq)."""
        if not new_events:
            return
        rows = _newest_state(new_events)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(t.state)
        newer = or_(
            t.state.c.effective_at < stmt.excluded.effective_at,
            and_(t.state.c.effective_at == stmt.excluded.effective_at, t.state.c.seq < stmt.excluded.seq),
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=["subject", "facet", "scope_dataset", "scope_purpose"],
            set_={c: stmt.excluded[c] for c in ("kind", "effective_at", "seq")},
            where=newer,
        )
        conn.execute(upsert.returning(t.state.c.subject), rows)
        case_facts.apply_events(conn, new_events)

    def _propagate_withdrawals(
        self, conn: Connection, refusals: Sequence[Refusal], moment: datetime, never_refused: Set[str] = frozenset()
    ) -> None:
        """For every active release holding a refusing subject's case whose scope covers the release, one
        notice per release listing the released pseudonyms not already notified (:mod:`consent.withdrawals`);
        ``never_refused``: subjects known to have no stored refusal but these."""
        if refusals:
            owed = withdrawals.owed(conn, refusals, self.pseudonymiser.release_secret, never_refused)
            self._notify(conn, owed, moment)

    @staticmethod
    def _notify(conn: Connection, owed: Sequence[tuple[str, str]], moment: datetime) -> None:
        """One notice per release of the owed (release, pseudonym) rows, each pseudonym listed once."""
        grouped: dict[str, set[str]] = defaultdict(set)  # a set: two refusals of one subject owe a row once
        for release_id, pseudonym in owed:
            grouped[release_id].add(pseudonym)
        if not grouped:
            return
        created = format_instant(moment)
        rows = [
            {
                "notice_id": str(uuid.uuid4()),
                "release_id": release_id,
                "created_at": created,
                "pseudonyms": notice_lists.pack(names),
            }
            for release_id, names in sorted(grouped.items())
        ]
        if conn.dialect.name == "postgresql":
            # One statement for a batch's few hundred notices, where executemany sent a row each.
            raw: Any = conn.connection.dbapi_connection
            with raw.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO consent_withdrawal_notices (notice_id, release_id, created_at, pseudonyms) "
                    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bytea[])",
                    [[r[c] for r in rows] for c in ("notice_id", "release_id", "created_at", "pseudonyms")],
                )
            return
        conn.execute(t.withdrawal_notices.insert(), rows)

    def propagate_withdrawals(self, event_ids: Sequence[str], now: datetime | None = None) -> None:
        """Re-run propagation for stored refusal events (idempotent: notified pseudonyms are skipped)."""

        def work(conn: Connection) -> None:
            sql = (
                "SELECT subject, scope_dataset, scope_purpose, recorded_at, kind FROM consent_events "
                "WHERE event_id {in}"
            )
            kinds = {k.value for k in REFUSALS}
            rows = fetch_in(conn, sql, (), list(event_ids), "text[]")
            refusals = [Refusal(s, d, p, str(at)) for s, d, p, at, kind in rows if kind in kinds]
            self._propagate_withdrawals(conn, refusals, utc(now or now_utc()))

        self._retrying(work)

    def events_of(self, subject: str, who: Actor | None = None) -> list[ConsentEvent]:
        """A person's ledger, oldest first (audited as ``subject.events``)."""

        def work(conn: Connection) -> list[ConsentEvent]:
            self._audit(conn, who, "subject.events", subject=subject)
            return self._events_in(conn, subject)

        result: list[ConsentEvent] = self._retrying(work)
        return result

    @staticmethod
    def _events_in(conn: Connection, subject: str) -> list[ConsentEvent]:
        q = select(t.events).where(t.events.c.subject == subject).order_by(t.events.c.seq)
        return [_row_to_event(r) for r in conn.execute(q)]

    def subject_record(
        self, subject: str, who: Actor | None = None, action: str = "subject.fhir"
    ) -> tuple[list[ConsentEvent], list[Enrolment]]:
        """A person's events and enrolments read together for an export (one audit row, ``action``)."""

        def work(conn: Connection) -> tuple[list[ConsentEvent], list[Enrolment]]:
            self._audit(conn, who, action, subject=subject)
            return self._events_in(conn, subject), self._enrolments_in(conn, subject)

        result: tuple[list[ConsentEvent], list[Enrolment]] = self._retrying(work)
        return result

    def event(self, event_id: str, who: Actor | None = None) -> ConsentEvent | None:
        """One event by id (audited as ``event.read`` with its subject)."""

        def work(conn: Connection) -> ConsentEvent | None:
            row = conn.execute(select(t.events).where(t.events.c.event_id == event_id)).first()
            found = _row_to_event(row) if row is not None else None
            self._audit(
                conn, who, "event.read", subject=found.subject if found else None, detail=f"event {event_id[:36]}"
            )
            return found

        result: ConsentEvent | None = self._retrying(work)
        return result

    def state_of(self, subject: str, who: Actor | None = None) -> dict[StateKey, StateEntry]:
        """A person's materialised state (audited as ``subject.state``)."""

        def work(conn: Connection) -> dict[StateKey, StateEntry]:
            self._audit(conn, who, "subject.state", subject=subject)
            return self._state_in(conn, subject)

        result: dict[StateKey, StateEntry] = self._retrying(work)
        return result

    @staticmethod
    def _state_in(conn: Connection, subject: str) -> dict[StateKey, StateEntry]:
        rows = conn.execute(select(t.state).where(t.state.c.subject == subject)).all()
        return {
            StateKey(r.facet, r.scope_dataset, r.scope_purpose): StateEntry(
                EventKind(r.kind), parse_instant(r.effective_at), r.seq
            )
            for r in rows
        }

    def current_decisions(
        self,
        subject: str,
        purpose: str = "DUO:0000042",
        modifiers: frozenset[str] = frozenset(),
        who: Actor | None = None,
    ) -> dict[str, Decision]:
        """Per enrolled dataset, today's decision for ``purpose`` (from materialised state; audited as
        ``subject.decisions``)."""
        code = purposes().normalise(purpose)

        def work(conn: Connection) -> dict[str, Decision]:
            self._audit(conn, who, "subject.decisions", subject=subject, purpose=code)
            state = self._state_in(conn, subject)
            moment = now_utc()
            return {
                e.dataset: decide_current(state, e, self.policy, Use(e.dataset, code, modifiers), moment)
                for e in self._enrolments_in(conn, subject)
            }

        result: dict[str, Decision] = self._retrying(work)
        return result

    # --- audit log ---------------------------------------------------------------------------------

    def _audit(self, conn: Connection, who: Actor | None, action: str, **fields: str | None) -> None:
        audit.record(conn, who or Actor.process(), action, now_utc(), **fields)

    def audit_log(
        self,
        subject: str | None = None,
        since: datetime | None = None,
        action: str | None = None,
        limit: int = 1000,
        who: Actor | None = None,
    ) -> list[AuditEntry]:
        """The audit log, oldest first; reading it is audited too (``audit.read``)."""

        def work(conn: Connection) -> list[AuditEntry]:
            found = audit.entries(conn, subject, since and utc(since), action, limit)
            self._audit(conn, who, "audit.read", subject=subject)
            return found

        result: list[AuditEntry] = self._retrying(work)
        return result

    # --- access codes (letters) --------------------------------------------------------------------

    def issue_access_codes(self, subjects: Sequence[str], now: datetime | None = None) -> list[str]:
        """One-time access codes for the portal (stored only as keyed hashes)."""
        created = format_instant(now or now_utc())
        codes = [secrets.token_urlsafe(9) for _ in subjects]
        rows = [
            {"code_hash": self.pseudonymiser.access_code_hash(c), "subject": s, "created_at": created}
            for c, s in zip(codes, subjects, strict=True)
        ]

        def work(conn: Connection) -> None:
            for chunk in _chunks(rows, 2000):
                conn.execute(t.access_codes.insert(), list(chunk))

        self._retrying(work)
        return codes

    # --- report ------------------------------------------------------------------------------------

    def report(self, who: Actor | None = None) -> list[InstitutionReport]:
        """Table 7 per institution and overall: distinct subjects per kind (audited as ``report.read``).

        Opt-out rate = opted out / (sent - undelivered), as in the seed.
        """
        self._retrying(lambda conn: self._audit(conn, who, "report.read"))
        kinds = {
            EventKind.NOTICE_SENT.value: "sent",
            EventKind.NOTICE_UNDELIVERED.value: "undelivered",
            EventKind.OPTED_OUT.value: "opted_out",
            EventKind.DECEASED.value: "deceased",
        }
        counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(kinds.values(), 0))
        overall = dict.fromkeys(kinds.values(), 0)
        # Kept by every append (consent.report_counts): a read of a few rows per institution, whatever the
        # ledger's size. Writers add to their own slot's rows, so the slots are summed.
        q = select(
            t.report_counts.c.overall,
            t.report_counts.c.institution,
            t.report_counts.c.kind,
            func.sum(t.report_counts.c.subjects),
        ).group_by(t.report_counts.c.overall, t.report_counts.c.institution, t.report_counts.c.kind)
        with self.engine.connect() as conn:
            for is_overall, inst, kind, n in conn.execute(q):
                if kind in kinds:
                    (overall if is_overall else counts[inst or "(none)"])[kinds[kind]] = int(n)
        out = [_report_row(inst, c) for inst, c in sorted(counts.items())]
        out.append(_report_row("ALL", overall))
        return out

    # --- verification and checkpoints --------------------------------------------------------------

    def checkpoint(self, conn: Connection | None = None, now: datetime | None = None) -> str:
        """Hash the heads of the chains that moved since the last checkpoint (and that checkpoint) into a new,
        signed checkpoint; return its hash."""
        made = self._make_checkpoint(conn, now, only_if_due=False)
        assert made is not None
        return made.hash

    def checkpoint_if_due(self, now: datetime | None = None) -> Checkpoint | None:
        """Make a checkpoint if the policy (every N events or M minutes) says one is due; decided under the
        same lock that makes it, so several workers asking at once make one."""
        if not (self.checkpoint_every_events or self.checkpoint_every_minutes):
            return None
        return self._make_checkpoint(None, now, only_if_due=True)

    def _make_checkpoint(self, conn: Connection | None, now: datetime | None, only_if_due: bool) -> Checkpoint | None:
        if conn is None:
            result: Checkpoint | None = self._retrying(lambda c: self._make_checkpoint(c, now, only_if_due))
            return result
        moment = now or now_utc()
        if self.engine.dialect.name == "postgresql":
            # No event may commit between reading the heads and recording max_event_id, and no other
            # checkpoint may be made meanwhile (this mode conflicts with inserts and with itself).
            conn.execute(text("LOCK TABLE consent_events IN SHARE ROW EXCLUSIVE MODE"))
        last = self._last_checkpoint(conn)
        max_id = int(conn.execute(select(func.coalesce(func.max(t.events.c.id), 0))).scalar_one())
        since = last.max_event_id if last else 0
        if only_if_due:
            last_at = parse_instant(last.created_at) if last else None
            if not checkpoint_due(
                max_id - since, last_at, moment, self.checkpoint_every_events, self.checkpoint_every_minutes
            ):
                return None
        changed = self._heads_between(conn, since, max_id)
        prev = last.hash if last else ""
        made = Checkpoint(
            id=0,
            scheme=DELTA,
            created_at=format_instant(moment),
            max_event_id=max_id,
            head_count=len(changed),
            prev_hash=prev,
            hash=delta_hash(changed, prev, max_id),
        )
        if self.signer is not None:
            made = self.signer.sign(made)
        row = {k: v for k, v in made.__dict__.items() if k != "id"}
        new_id = conn.execute(t.checkpoints.insert().values(**row).returning(t.checkpoints.c.id)).scalar_one()
        return Checkpoint(**{**made.__dict__, "id": int(new_id)})

    @staticmethod
    def _as_checkpoint(row: Any) -> Checkpoint:
        return Checkpoint(
            id=row.id,
            scheme=row.scheme or HEADS,
            created_at=row.created_at,
            max_event_id=row.max_event_id,
            head_count=row.head_count,
            prev_hash=row.prev_hash,
            hash=row.hash,
            signature=row.signature,
            public_key=row.public_key,
        )

    def _last_checkpoint(self, conn: Connection) -> Checkpoint | None:
        row = conn.execute(select(t.checkpoints).order_by(t.checkpoints.c.id.desc()).limit(1)).first()
        return self._as_checkpoint(row) if row else None

    def checkpoints(self) -> list[Checkpoint]:
        with self.engine.connect() as conn:
            return [self._as_checkpoint(r) for r in conn.execute(select(t.checkpoints).order_by(t.checkpoints.c.id))]

    def latest_checkpoint(self) -> Checkpoint | None:
        with self.engine.connect() as conn:
            return self._last_checkpoint(conn)

    def covering_checkpoint(self, event_id: str) -> Checkpoint | None:
        """The first checkpoint that covers event ``event_id`` (None while none does yet)."""
        with self.engine.connect() as conn:
            position = conn.execute(select(t.events.c.id).where(t.events.c.event_id == event_id)).scalar()
            if position is None:
                return None
            row = conn.execute(
                select(t.checkpoints)
                .where(t.checkpoints.c.max_event_id >= position)
                .order_by(t.checkpoints.c.id)
                .limit(1)
            ).first()
            return self._as_checkpoint(row) if row else None

    @staticmethod
    def _heads_between(conn: Connection, after_id: int, up_to_id: int) -> dict[str, tuple[int, str]]:
        """The newest (seq, hash) of each chain with events in ``(after_id, up_to_id]`` (a primary-key range)."""
        q = (
            select(t.events.c.subject, t.events.c.seq, t.events.c.hash)
            .where(t.events.c.id > after_id, t.events.c.id <= up_to_id)
            .order_by(t.events.c.id)
        )
        heads: dict[str, tuple[int, str]] = {}
        for subject, seq, head in conn.execute(q):
            if subject not in heads or seq > heads[subject][0]:
                heads[subject] = (seq, head)
        return heads

    def _heads_up_to(self, conn: Connection, max_id: int) -> dict[str, tuple[int, str]]:
        inner = (
            select(t.events.c.subject, func.max(t.events.c.seq).label("seq"))
            .where(t.events.c.id <= max_id)
            .group_by(t.events.c.subject)
            .subquery()
        )
        q = select(t.events.c.subject, t.events.c.seq, t.events.c.hash).join(
            inner, (inner.c.subject == t.events.c.subject) & (inner.c.seq == t.events.c.seq)
        )
        return {s: (seq, h) for s, seq, h in conn.execute(q)}

    def verify(self, who: Actor | None = None, against: Sequence[Path] = ()) -> VerifyResult:
        """Check every hash chain and every checkpoint, and that the ledger still holds the checkpoint of each
        witness file in ``against``; name the first broken event (audited)."""
        self._retrying(lambda conn: self._audit(conn, who, "ledger.verify"))
        result = VerifyResult()
        with self.engine.connect() as conn:
            q = select(t.events).order_by(t.events.c.subject, t.events.c.seq)
            chain: list[ConsentEvent] = []
            subject: str | None = None
            for row in conn.execution_options(yield_per=5000).execute(q):
                event = _row_to_event(row)
                result.events_checked += 1
                if event.subject != subject:
                    if chain and result.first_break is None:
                        result.first_break = verify_chain(chain)
                    chain, subject = [], event.subject
                    result.chains += 1
                chain.append(event)
            if chain and result.first_break is None:
                result.first_break = verify_chain(chain)
            self._verify_checkpoints(conn, result)
            for path in against:
                self._verify_witness(conn, path, result)
        return result

    def _verify_checkpoints(self, conn: Connection, result: VerifyResult) -> None:
        prev, previous_max, signed_seen = "", 0, False
        own_key = self.signer.public_key if self.signer else None
        for row in conn.execute(select(t.checkpoints).order_by(t.checkpoints.c.id)):
            cp = self._as_checkpoint(row)
            result.checkpoints += 1
            if cp.prev_hash != prev:
                result.checkpoint_problems.append(f"checkpoint {cp.id}: previous checkpoint is missing or altered")
            if cp.scheme == HEADS:
                heads = self._heads_up_to(conn, cp.max_event_id)
                expected = checkpoint_hash(heads, cp.prev_hash)
                now_count = len(heads)
            else:
                changed = self._heads_between(conn, previous_max, cp.max_event_id)
                expected = delta_hash(changed, cp.prev_hash, cp.max_event_id)
                now_count = len(changed)
            if expected != cp.hash:
                result.checkpoint_problems.append(
                    f"checkpoint {cp.id} ({cp.created_at}): chain heads differ from when it was taken "
                    f"({now_count} chains now, {cp.head_count} then): "
                    "events or whole chains were removed or altered"
                )
            if cp.signature is not None or cp.public_key is not None:
                signed_seen = True
                if not cp.signature_ok():
                    result.checkpoint_problems.append(
                        f"checkpoint {cp.id} ({cp.created_at}): its signature does not hold (altered or forged)"
                    )
                elif own_key is not None and cp.public_key != own_key:
                    result.checkpoint_problems.append(
                        f"checkpoint {cp.id} ({cp.created_at}): signed by another key than this registry's "
                        "checkpoint key; restore the key file that signed it"
                    )
            elif signed_seen:
                result.checkpoint_problems.append(
                    f"checkpoint {cp.id} ({cp.created_at}): unsigned after signed checkpoints "
                    "(not made by this registry)"
                )
            prev, previous_max = cp.hash, cp.max_event_id

    def _verify_witness(self, conn: Connection, path: Path, result: VerifyResult) -> None:
        try:
            witness = read_witness(path)
        except WitnessError as exc:
            result.checkpoint_problems.append(str(exc))
            return
        row = conn.execute(select(t.checkpoints).where(t.checkpoints.c.hash == witness.hash)).first()
        if row is None or row.max_event_id != witness.max_event_id:
            newest = int(conn.execute(select(func.coalesce(func.max(t.events.c.id), 0))).scalar_one())
            result.checkpoint_problems.append(
                f"witness {path}: the checkpoint of {witness.created_at} (events up to {witness.max_event_id}) is "
                f"not in this ledger (it now ends at event {newest}): the ledger was cut back or replaced "
                "after that checkpoint was exported; restore it from a backup taken after that time"
            )
        elif self.signer is not None and witness.public_key != self.signer.public_key:
            result.checkpoint_problems.append(
                f"witness {path}: signed by another key than this registry's checkpoint key"
            )
        result.witnesses += 1

    # --- withdrawal notices ------------------------------------------------------------------------

    def withdrawal_notices(
        self, release_id: str | None = None, pending_only: bool = False, who: Actor | None = None
    ) -> list[WithdrawalNotice]:
        """Withdrawal notices (audited as ``withdrawals.list``)."""

        def work(conn: Connection) -> list[WithdrawalNotice]:
            self._audit(conn, who, "withdrawals.list", release_id=release_id)
            return self._notices_in(conn, release_id, pending_only)

        result: list[WithdrawalNotice] = self._retrying(work)
        return result

    def _notices_in(self, conn: Connection, release_id: str | None, pending_only: bool) -> list[WithdrawalNotice]:
        q = select(t.withdrawal_notices).order_by(t.withdrawal_notices.c.created_at, t.withdrawal_notices.c.notice_id)
        if release_id:
            q = q.where(t.withdrawal_notices.c.release_id == release_id)
        if pending_only:
            q = q.where(t.withdrawal_notices.c.acknowledged_at.is_(None))
        notices = conn.execute(q).all()
        return [
            WithdrawalNotice(
                notice_id=n.notice_id,
                release_id=n.release_id,
                created_at=parse_instant(n.created_at),
                release_pseudonyms=notice_lists.unpack(n.pseudonyms),
                acknowledged_at=parse_instant(n.acknowledged_at) if n.acknowledged_at else None,
                acknowledged_by=n.acknowledged_by,
            )
            for n in notices
        ]

    def acknowledge(
        self, notice_id: str, by: str, now: datetime | None = None, who: Actor | None = None
    ) -> WithdrawalNotice:
        """The holder confirms deletion; acknowledging twice keeps the first acknowledgement."""

        def work(conn: Connection) -> WithdrawalNotice:
            row = conn.execute(
                select(t.withdrawal_notices).where(t.withdrawal_notices.c.notice_id == notice_id)
            ).first()
            if row is None:
                raise NotFound(f"no withdrawal notice {notice_id}")
            if row.acknowledged_at is None:
                conn.execute(
                    t.withdrawal_notices.update()
                    .where(t.withdrawal_notices.c.notice_id == notice_id)
                    .values(acknowledged_at=format_instant(now or now_utc()), acknowledged_by=by)
                )
            self._audit(conn, who, "withdrawals.acknowledge", release_id=row.release_id, detail=f"notice {notice_id}")
            return next(n for n in self._notices_in(conn, row.release_id, False) if n.notice_id == notice_id)

        result: WithdrawalNotice = self._retrying(work)
        return result


def _numbered(conn: Connection, case_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``case_rows`` with fresh case numbers of their datasets (a repeated row that turns out to exist
    already leaves its number unused: numbers are never reused, gaps are harmless)."""
    per_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in case_rows:
        per_dataset[row["dataset"]].append(row)
    out: list[dict[str, Any]] = []
    for dataset in sorted(per_dataset):  # sorted: concurrent enrolments take the counters in one order
        rows = per_dataset[dataset]
        first = membership.reserve_case_numbers(conn, dataset, len(rows))
        out.extend({**row, "case_no": first + i} for i, row in enumerate(rows))
    return out


def _newest_state(new_events: Sequence[ConsentEvent]) -> list[dict[str, Any]]:
    """consent_state rows of a batch: per (subject, state key) the newest of its entries (``state.apply``'s
    order: later effective time, then later seq), sorted by key (the order their rows lock in)."""
    newest: dict[tuple[str, StateKey], StateEntry] = {}
    for event in new_events:
        for key, entry in apply({}, event).items():
            current = newest.get((event.subject, key))
            if current is None or (entry.effective_at, entry.seq) > (current.effective_at, current.seq):
                newest[(event.subject, key)] = entry
    return [
        {
            "subject": s,
            "facet": k.facet,
            "scope_dataset": k.scope_dataset,
            "scope_purpose": k.scope_purpose,
            "kind": e.kind.value,
            "effective_at": format_instant(e.effective_at),
            "seq": e.seq,
        }
        for (s, k), e in sorted(newest.items(), key=lambda item: (item[0][0], astuple(item[0][1])))
    ]


def _institutions(enrolled: dict[str, dict[str, tuple[datetime, str]]]) -> dict[tuple[str, str | None], str]:
    """Institution to file an event under: that of the scoped dataset, or the only one the subject has."""
    found: dict[tuple[str, str | None], str] = {}
    for s, datasets in enrolled.items():
        for d, (_at, inst) in datasets.items():
            found[(s, d)] = inst
        insts = {inst for _at, inst in datasets.values()}
        if len(insts) == 1:
            found[(s, None)] = next(iter(insts))
    return found


def _report_row(institution: str, c: dict[str, int]) -> InstitutionReport:
    reachable = c["sent"] - c["undelivered"]
    if reachable > 0:
        rate = (Decimal(c["opted_out"]) * 100 / Decimal(reachable)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        rate_text = str(rate)
    else:
        rate_text = "n/a"
    return InstitutionReport(
        institution=institution,
        sent=c["sent"],
        undelivered=c["undelivered"],
        opted_out=c["opted_out"],
        deceased=c["deceased"],
        opt_out_rate_percent=rate_text,
    )


__all__ = ["ALL", "Actor", "ConsentRegistry", "EnrolmentInput", "VerifyResult", "now_utc", "policy_from_settings"]
