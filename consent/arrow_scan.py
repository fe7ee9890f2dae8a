"""Large reads of the consent database straight into Arrow, through ADBC (C drivers for SQLite and PostgreSQL).

A release reads every case row of a dataset: through the Python DB-API that is a tuple per row, 94 s for
10 million rows of ``consent_cases`` on SQLite here, against 6.4 s through ADBC's SQLite driver, which
fills Arrow columns in C (PostgreSQL's driver reads ``COPY … TO STDOUT (FORMAT binary)``).

ADBC's SQLite driver carries its own copy of the SQLite library. Two copies in one process must never
open the same database: POSIX locks belong to the process, and closing one copy's file drops the other's
locks (sqlite.org/howtocorrupt.html, 2.2.1; seen here as "disk I/O error" on the next write). So SQLite is
read in a child process (:mod:`consent.sqlite_arrow_child`) that streams Arrow IPC back through a pipe.

The reader opens its own connection: callers that need what it reads to agree with a transaction of theirs hold
that transaction's write lock while it runs (SQLite), or tolerate later commits as releases do (events
recorded after the decision time are propagated as withdrawals).

Databases ADBC cannot open (SQLite in memory, other dialects) fall back to :func:`consent.database.read_arrow`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import adbc_driver_postgresql.dbapi
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from consent.database import read_arrow
from consent.errors import ConsentError

# SQLite's ADBC driver types a column from its first rows: a text column that starts with NULLs would be
# typed INT64 and fail on its first string. Text columns are read through COALESCE with this sentinel
# (``char(0)``, a NUL character: never a stored value) and turned back into nulls in Arrow.
_NULL_TEXT = "\x00"


def adbc_uri(url: URL) -> tuple[str, str] | None:
    """(driver, URI) of the ADBC connection for ``url``, or None when ADBC cannot open it."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        return "sqlite", url.database
    if backend == "postgresql":
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return "postgresql", plain
    return None


CHILD_FROM_ROWS = 50_000  # about 0.5 s through the DB-API, the cost of starting the child


def _larger_than(conn: Connection, table: str, where: str, params: Mapping[str, Any], rows: int) -> bool:
    """Whether the query matches more than ``rows`` rows (stops counting there, whatever the table's size)."""
    probe = text(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1 OFFSET {int(rows)}")
    return conn.execute(probe, dict(params)).first() is not None


_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


def _bound(driver: str, sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """``sql`` with its ``:name`` parameters in the driver's positional style (``?`` or ``$n``), and the
    values in the order they occur (a name used twice is bound twice)."""
    values: list[Any] = []

    def place(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise KeyError(f"no value for parameter :{name}")
        values.append(params[name])
        return "?" if driver == "sqlite" else f"${len(values)}"

    return _PARAMETER.sub(place, sql), values


def _select_list(driver: str, columns: Mapping[str, str], schema: pa.Schema) -> str:
    text_columns = {f.name for f in schema if pa.types.is_string(f.type)}
    parts = []
    for name, expression in columns.items():
        if driver == "sqlite" and name in text_columns:
            expression = f"COALESCE({expression}, char(0))"
        parts.append(f"{expression} AS {name}")
    return ", ".join(parts)


def _typed(batch: pa.RecordBatch, schema: pa.Schema, driver: str) -> pa.RecordBatch:
    columns = []
    for field in schema:
        column = batch.column(field.name)
        if pa.types.is_string(field.type):
            column = column.cast(pa.string())
            if driver == "sqlite":
                column = pc.if_else(pc.equal(column, _NULL_TEXT), pa.scalar(None, pa.string()), column)
        columns.append(column.cast(field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def stream(
    conn: Connection,
    table: str,
    schema: pa.Schema,
    where: str,
    params: Mapping[str, Any],
    columns: Mapping[str, str] | None = None,
    on_open: Callable[[], None] | None = None,
) -> pa.RecordBatchReader:
    """``SELECT <columns> FROM table WHERE where`` as a stream of Arrow record batches of ``schema``: the rows
    never all exist in memory at once. ``columns`` maps each of the schema's names to its SQL expression
    (default: the column of that name). ``where`` names its parameters as ``:name``; they are bound,
    never formatted into the SQL. The stream must be read to its end (or closed) to free its connection.

    ``on_open`` is called once the reader's snapshot is taken (its first batch has arrived, or it is
    empty): from then on, what it returns no longer depends on a lock the caller holds."""
    expressions = dict(columns) if columns else {name: name for name in schema.names}
    target = adbc_uri(conn.engine.url)
    if target is None:
        select = ", ".join(f"{e} AS {n}" for n, e in expressions.items())
        sql = f"SELECT {select} FROM {table} WHERE {where}"
        table_read = read_arrow(conn, sql, dict(params), list(expressions)).cast(schema)
        if on_open:
            on_open()
        return pa.RecordBatchReader.from_batches(schema, table_read.to_batches(max_chunksize=BATCH_ROWS))
    driver, uri = target
    sql, values = _bound(
        driver, f"SELECT {_select_list(driver, expressions, schema)} FROM {table} WHERE {where}", params
    )
    batches = _child_batches(uri, sql, values) if driver == "sqlite" else _postgresql_batches(uri, sql, values)
    typed = (_typed(b, schema, driver) for b in batches if b.num_rows)
    return pa.RecordBatchReader.from_batches(schema, _opened(typed, on_open) if on_open else typed)


def _opened(batches: Iterator[pa.RecordBatch], on_open: Callable[[], None]) -> Iterator[pa.RecordBatch]:
    called = False
    for batch in batches:
        if not called:
            called = True
            on_open()
        yield batch
    if not called:
        on_open()


def scan(
    conn: Connection,
    table: str,
    schema: pa.Schema,
    where: str,
    params: Mapping[str, Any],
) -> pa.Table:
    """``SELECT <schema's columns> FROM table WHERE where`` as an Arrow table of ``schema``.

    ``where`` names its parameters as ``:name``; they are bound, never formatted into the SQL."""
    target = adbc_uri(conn.engine.url)
    if target is not None and target[0] == "sqlite" and not _larger_than(conn, table, where, params, CHILD_FROM_ROWS):
        # a child's start (0.7 s) costs more than the DB-API needs for a small read
        names = schema.names
        sql = f"SELECT {', '.join(names)} FROM {table} WHERE {where}"
        return read_arrow(conn, sql, dict(params), names).cast(schema)
    result: pa.Table = stream(conn, table, schema, where, params).read_all()
    return result


BATCH_ROWS = 1 << 16  # rows per record batch: large enough that per-batch costs vanish, small enough to stream


def _postgresql_batches(uri: str, sql: str, values: list[Any]) -> Iterator[pa.RecordBatch]:
    with adbc_driver_postgresql.dbapi.connect(uri) as connection, connection.cursor() as cursor:
        cursor.execute(sql, tuple(values))
        yield from cursor.fetch_record_batch()


def _child_batches(path: str, sql: str, values: list[Any]) -> Iterator[pa.RecordBatch]:
    child = subprocess.Popen(
        [sys.executable, "-m", "consent.sqlite_arrow_child", path, sql, json.dumps(values), str(BATCH_ROWS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    failed = False
    try:
        try:
            yield from pa.ipc.open_stream(child.stdout)
        except pa.ArrowInvalid:
            failed = True
        problem = child.stderr.read().decode(errors="replace")
        if child.wait() != 0 or failed:
            last = problem.strip().splitlines()[-1] if problem.strip() else "no output"
            raise ConsentError(
                f"reading the consent database failed: {last}; check that the database file is readable, then try again"
            )
    finally:
        if child.poll() is None:  # the stream was closed early: stop the child
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
