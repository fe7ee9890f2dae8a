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
import subprocess
import sys
from collections.abc import Mapping
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
    names = schema.names
    if target is not None and target[0] == "sqlite" and not _larger_than(conn, table, where, params, CHILD_FROM_ROWS):
        target = None  # a child's start (0.7 s) costs more than the DB-API needs for a small read
    if target is None:
        sql = f"SELECT {', '.join(names)} FROM {table} WHERE {where}"
        return read_arrow(conn, sql, dict(params), names).cast(schema)
    driver, uri = target
    order = [name for name in params]
    text_columns = {f.name for f in schema if pa.types.is_string(f.type)}
    if driver == "sqlite":
        select = [f"COALESCE({n}, char(0)) AS {n}" if n in text_columns else n for n in names]
        bound = where
        for name in sorted(order, key=len, reverse=True):
            bound = bound.replace(f":{name}", "?")
        ordered = sorted(order, key=lambda n: where.index(f":{n}"))
    else:
        select = list(names)
        bound = where
        ordered = sorted(order, key=lambda n: where.index(f":{n}"))
        for position, name in enumerate(ordered, start=1):
            bound = bound.replace(f":{name}", f"${position}")
    sql = f"SELECT {', '.join(select)} FROM {table} WHERE {bound}"
    values = [params[n] for n in ordered]
    result = _read_in_child(uri, sql, values) if driver == "sqlite" else _read_postgresql(uri, sql, values)
    if result.num_rows == 0:
        return schema.empty_table()
    columns = []
    for field in schema:
        column = result.column(field.name)
        if field.name in text_columns:
            column = column.cast(pa.string())
            if driver == "sqlite":
                column = pc.if_else(pc.equal(column, _NULL_TEXT), pa.scalar(None, pa.string()), column)
        columns.append(column.cast(field.type))
    return pa.table(columns, schema=schema)


def _read_postgresql(uri: str, sql: str, values: list[Any]) -> pa.Table:
    with adbc_driver_postgresql.dbapi.connect(uri) as connection, connection.cursor() as cursor:
        cursor.execute(sql, tuple(values))
        table: pa.Table = cursor.fetch_arrow_table()
    return table


def _read_in_child(path: str, sql: str, values: list[Any]) -> pa.Table:
    child = subprocess.Popen(
        [sys.executable, "-m", "consent.sqlite_arrow_child", path, sql, json.dumps(values)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    try:
        table = pa.ipc.open_stream(child.stdout).read_all()
    except pa.ArrowInvalid:
        table = None
    problem = child.stderr.read().decode(errors="replace")
    if child.wait() != 0 or table is None:
        last = problem.strip().splitlines()[-1] if problem.strip() else "no output"
        raise ConsentError(
            f"reading the consent database failed: {last}; check that the database file is readable, then try again"
        )
    return table
