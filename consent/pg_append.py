"""PostgreSQL's lean statements for appending events: raw psycopg on the registry's own transaction.

A batch costs two statements whatever its size: one reads what the batch needs (stored events of its
idempotency keys, enrolments, chain heads, the heads created if new and row-locked), one writes it (event
rows and advanced heads). Each takes its values as one JSON text parameter and answers in JSON: psycopg's
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
# waited for and then returned as that transaction committed it. Look-ups use ``= ANY(ARRAY(...))`` so the
# planner keeps to the indexes (a semi-join on a function scan may not).
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
    (SELECT json_agg(json_build_array(subject, dataset, enrolled_at, institution)) FROM consent_enrolments
      WHERE subject = ANY(ARRAY(SELECT json_array_elements_text(%(subjects)s::json)))),
    (SELECT json_agg(json_build_object({", ".join(f"'{c}', {c}" for c in EVENT_COLUMNS)})) FROM consent_events
      WHERE idempotency_key = ANY(ARRAY(SELECT json_array_elements_text(%(keys)s::json))))
"""

_WRITE = f"""
WITH added AS (
    INSERT INTO consent_events ({_NAMES})
    SELECT {_NAMES} FROM json_to_recordset(%(events)s::json)
        AS v({", ".join(f"{c} {kind}" for c, kind in EVENT_COLUMNS.items())})
)
UPDATE consent_chain_heads h SET seq = v.seq, hash = v.hash
FROM json_to_recordset(%(heads)s::json) AS v(subject text, seq int, hash text)
WHERE h.subject = v.subject
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


def write(conn: Connection, rows: Sequence[Mapping[str, Any]], heads: Mapping[str, tuple[int, str]]) -> None:
    """Insert sealed event rows (``EVENT_COLUMNS`` keys) and move the chain heads, in one statement."""
    if not rows:
        return
    params = {
        "events": json.dumps(list(rows)),
        "heads": json.dumps([{"subject": s, "seq": seq, "hash": h} for s, (seq, h) in heads.items()]),
    }
    with _as_sqlalchemy_errors(_WRITE), _driver(conn).cursor() as cursor:
        cursor.execute(_WRITE, params)
