"""PostgreSQL's lean statements for appending events: raw psycopg on the registry's own transaction.

A batch costs two statements whatever its size: one reads what the batch needs (stored events of its
idempotency keys, enrolments, chain heads, the heads created if new and row-locked), one writes it (event
rows, advanced heads, the materialised state, the case facts and Table 7's counts); a batch with
refusals adds the withdrawal notices they owe (:mod:`consent.withdrawals`).
Each takes its values as one JSON text parameter and answers in JSON: psycopg's
per-parameter and per-array work in Python cost more than the statements themselves, and a fixed, short
text is parsed once by psycopg and prepared once per connection by PostgreSQL. The decisions (checks, seq,
hashes) stay in :mod:`consent.registry`, shared with the general SQLAlchemy path that SQLite uses.
Driver errors are raised as SQLAlchemy's, so the registry's retry loop treats both paths alike.
Never logs a value: they hold pseudonyms.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc

from consent.report_counts import PG_TALLY

# The columns an event row holds (the table's own ``id`` is left to its sequence).
EVENT_COLUMNS = {
    "event_id": "text",
    "subject": "text",
    "seq": "int",
    "kind": "text",
    "scope_dataset": "text",
    "scope_purpose": "text",
    "effective_at": "text",
    "recorded_at": "text",
    "channel": "text",
    "actor": "text",
    "evidence": "text",
    "institution": "text",
    "idempotency_key": "text",
    "request_hash": "text",
    "prev_hash": "text",
    "hash": "text",
}
_NAMES = ", ".join(EVENT_COLUMNS)

# Heads first: created if missing and row-locked by the no-op update, in the (sorted) order of the list, so
# two batches lock common subjects in one order and cannot deadlock. A head another transaction holds is
# waited for and then returned as that transaction committed it.
# Every look-up of a batch's values is an index probe per value (LATERAL; OFFSET 0 keeps the planner from
# flattening it into a join), here and in the write: psycopg prepares a statement after a few runs, and
# PostgreSQL then keeps one generic plan for the connection's life, planned on the tables as they were. A
# join planned on a near-empty table scans it whole; when the table has grown, every batch scans every row
# (the idempotency-key look-up did: 16 ms a batch at 30,000 events). A probe per value costs the same
# whatever the plan was made on.
_PREPARE = f"""
WITH heads AS (
    INSERT INTO consent_chain_heads (subject, seq, hash)
    SELECT u.subject, 0, '' FROM json_array_elements_text(%(subjects)s::json) WITH ORDINALITY AS u(subject, n)
    ORDER BY u.n
    ON CONFLICT (subject) DO UPDATE SET seq = consent_chain_heads.seq
    RETURNING subject, seq, hash
)
SELECT
    (SELECT json_agg(json_build_array(subject, seq, hash)) FROM heads),
    (SELECT json_agg(json_build_array(e.subject, e.dataset, e.enrolled_at, e.institution))
      FROM json_array_elements_text(%(subjects)s::json) AS u(subject)
      CROSS JOIN LATERAL (SELECT * FROM consent_enrolments WHERE subject = u.subject OFFSET 0) e),
    (SELECT json_agg(json_build_object({", ".join(f"'{c}', e.{c}" for c in EVENT_COLUMNS)}))
      FROM json_array_elements_text(%(keys)s::json) AS k(key)
      CROSS JOIN LATERAL (SELECT * FROM consent_events WHERE idempotency_key = k.key OFFSET 0) e)
"""

# The state rows and case-fact deltas of a batch go in with its events: one round trip per batch. They touch
# other tables than the events and heads, so the CTEs cannot collide. State rows are one per key (the batch's
# newest entry), kept only if newer than the stored one: ``state.apply``'s rule, as the general path's upsert.
# Fact deltas are one per (subject, dataset or all datasets); a case row can match two (its dataset's and
# the subject-wide one), so they are merged per case row first, since one statement may update a row only
# once. Every fact moves one way only, as in ``case_facts.apply_events``: later times, a better choice by
# (time, rank, seq), false to true; rows that would not change are not written.
_STATE = """
state AS (
    INSERT INTO consent_state (subject, facet, scope_dataset, scope_purpose, kind, effective_at, seq)
    SELECT subject, facet, scope_dataset, scope_purpose, kind, effective_at, seq
    FROM json_to_recordset(%(state)s::json) AS v(
        subject text, facet text, scope_dataset text, scope_purpose text, kind text, effective_at text, seq int)
    ON CONFLICT (subject, facet, scope_dataset, scope_purpose) DO UPDATE
    SET kind = EXCLUDED.kind, effective_at = EXCLUDED.effective_at, seq = EXCLUDED.seq
    WHERE consent_state.effective_at < EXCLUDED.effective_at
       OR (consent_state.effective_at = EXCLUDED.effective_at AND consent_state.seq < EXCLUDED.seq)
)"""

_BETTER = """a.choice_us IS NOT NULL AND (c.choice_us IS NULL
    OR (a.choice_us, a.choice_rank, a.choice_seq) > (c.choice_us, c.choice_rank, c.choice_seq))"""
_BEST = "ORDER BY v.choice_us DESC, v.choice_rank DESC, v.choice_seq DESC) FILTER (WHERE v.choice_us IS NOT NULL))[1]"

_FACTS = f"""
facts AS (
    UPDATE consent_cases c SET
        notice_sent_us = GREATEST(c.notice_sent_us, a.sent),
        notice_undelivered_us = GREATEST(c.notice_undelivered_us, a.undelivered),
        deceased = c.deceased OR a.deceased,
        purpose_choice = c.purpose_choice OR a.purpose_choice,
        choice_kind = CASE WHEN {_BETTER} THEN a.choice_kind ELSE c.choice_kind END,
        choice_us = CASE WHEN {_BETTER} THEN a.choice_us ELSE c.choice_us END,
        choice_rank = CASE WHEN {_BETTER} THEN a.choice_rank ELSE c.choice_rank END,
        choice_seq = CASE WHEN {_BETTER} THEN a.choice_seq ELSE c.choice_seq END
    FROM (
        SELECT k.dataset, k.case_id,
            max(v.sent) AS sent, max(v.undelivered) AS undelivered,
            bool_or(v.deceased) AS deceased, bool_or(v.purpose_choice) AS purpose_choice,
            (array_agg(v.choice_kind {_BEST} AS choice_kind,
            (array_agg(v.choice_us {_BEST} AS choice_us,
            (array_agg(v.choice_rank {_BEST} AS choice_rank,
            (array_agg(v.choice_seq {_BEST} AS choice_seq
        FROM json_to_recordset(%(facts)s::json) AS v(
            subject text, dataset text, sent bigint, undelivered bigint, deceased boolean, purpose_choice boolean,
            choice_kind text, choice_us bigint, choice_rank smallint, choice_seq int)
        CROSS JOIN LATERAL (
            SELECT dataset, case_id FROM consent_cases
            WHERE subject = v.subject AND (v.dataset IS NULL OR dataset = v.dataset) OFFSET 0) k
        GROUP BY k.dataset, k.case_id
    ) a
    WHERE c.dataset = a.dataset AND c.case_id = a.case_id AND (
        GREATEST(c.notice_sent_us, a.sent) IS DISTINCT FROM c.notice_sent_us
        OR GREATEST(c.notice_undelivered_us, a.undelivered) IS DISTINCT FROM c.notice_undelivered_us
        OR (a.deceased AND NOT c.deceased) OR (a.purpose_choice AND NOT c.purpose_choice)
        OR ({_BETTER}))
)"""

_WRITE = f"""
WITH added AS (
    INSERT INTO consent_events ({_NAMES})
    SELECT {_NAMES} FROM json_to_recordset(%(events)s::json)
        AS v({", ".join(f"{c} {kind}" for c, kind in EVENT_COLUMNS.items())})
),{_STATE},{_FACTS},{PG_TALLY},
moved AS (
    -- every head exists and is locked by this transaction (_PREPARE), so each row takes the conflict branch:
    -- an upsert finds its rows through the unique index by construction, where an UPDATE ... FROM is a join
    -- whose plan may scan the whole table
    INSERT INTO consent_chain_heads (subject, seq, hash)
    SELECT subject, seq, hash FROM json_to_recordset(%(heads)s::json) AS v(subject text, seq int, hash text)
    ON CONFLICT (subject) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash
)
SELECT 0
"""


class Prepared(NamedTuple):
    """What a batch needs before it can be sealed."""

    existing: dict[str, Any]  # idempotency key -> stored event row (attribute access, like SQLAlchemy rows)
    enrolled: dict[str, dict[str, tuple[datetime, str]]]  # subject -> dataset -> (enrolled at, institution)
    heads: dict[str, tuple[int, str]]  # subject -> (seq, hash) of its chain head, row-locked


def _driver(conn: Connection) -> psycopg.Connection[Any]:
    raw: psycopg.Connection[Any] = conn.connection.dbapi_connection  # type: ignore[assignment]
    return raw


@contextmanager
def _as_sqlalchemy_errors(statement: str) -> Iterator[None]:
    """Races (unique keys, deadlocks, serialisation) surface as the errors SQLAlchemy would raise."""
    try:
        yield
    except psycopg.IntegrityError as exc:
        raise sa_exc.IntegrityError(statement, None, exc) from exc
    except psycopg.OperationalError as exc:
        raise sa_exc.OperationalError(statement, None, exc) from exc


def prepare(conn: Connection, keys: Sequence[str], subjects: Sequence[str]) -> Prepared:
    """Stored events of ``keys``, enrolments of ``subjects`` and their chain heads, locked (``subjects``
    sorted: the lock order)."""
    params = {"subjects": json.dumps(list(subjects)), "keys": json.dumps(list(keys))}
    with _as_sqlalchemy_errors(_PREPARE), _driver(conn).cursor() as cursor:
        heads, enrolments, events = cursor.execute(_PREPARE, params).fetchone() or (None, None, None)
    enrolled: dict[str, dict[str, tuple[datetime, str]]] = defaultdict(dict)
    for subject, dataset, at, institution in enrolments or ():
        # The stored form is format_instant's fixed-width ISO text: fromisoformat reads it (as parse_instant
        # does) at a fraction of strptime's cost.
        enrolled[subject][dataset] = (datetime.fromisoformat(at), institution)
    return Prepared(
        {e["idempotency_key"]: SimpleNamespace(**e) for e in events or ()},
        enrolled,
        {subject: (seq, head) for subject, seq, head in heads or ()},
    )


def write(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    heads: Mapping[str, tuple[int, str]],
    state: Sequence[Mapping[str, Any]] = (),
    facts: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Insert sealed event rows (``EVENT_COLUMNS`` keys), move the chain heads, upsert the batch's newest
    ``state`` rows (consent_state columns) and carry the case-fact ``facts`` deltas (``case_facts.deltas``),
    in one statement. (Withdrawal notices are the registry's: they test release bitmaps in Python.)"""
    if not rows:
        return
    params = {
        "events": json.dumps(list(rows)),
        "heads": json.dumps([{"subject": s, "seq": seq, "hash": h} for s, (seq, h) in heads.items()]),
        "state": json.dumps(list(state)),
        "facts": json.dumps(list(facts)),
    }
    with _as_sqlalchemy_errors(_WRITE), _driver(conn).cursor() as cursor:
        cursor.execute(_WRITE, params)
