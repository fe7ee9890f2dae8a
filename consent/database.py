"""The consent database: engine set-up (SQLite or PostgreSQL) and its Alembic migrations (triggers included).

The one place that knows about dialects; everything else goes through :mod:`consent.registry`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url


def make_engine(url: str) -> Engine:
    """An engine whose write transactions serialise safely on SQLite and whose commits are durable."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pre-ping: it costs a round trip per transaction; a dropped connection fails the transaction
        # with OperationalError, which the registry retries on a fresh one.
        # No JIT: the registry's statements are short, but a generic plan on tables without statistics can
        # cost them above jit_above_cost, and compiling then took 54 ms of a 57 ms batch write.
        options = " ".join(filter(None, [str(parsed.query.get("options") or ""), "-c jit=off"]))
        return create_engine(
            url,
            connect_args={"options": options},  # the URL's own options kept; engine.url left as given
            pool_size=10,
            max_overflow=40,
            pool_recycle=1800,
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged event survives a crash
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Take the write lock up front: chain heads are read then written in one transaction,
        # and a deferred transaction would fail to upgrade its lock under concurrent writers.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION consent_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def append_only_ddl(dialect: str, tables: tuple[str, ...]) -> list[str]:
    """The statements that make ``tables`` refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL); idempotent."""
    if dialect == "postgresql":
        statements = [_PG_FUNCTION]
        for table in tables:
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION consent_append_only()",
            ]
        return statements
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for table in tables
        for verb in ("UPDATE", "DELETE")
    ]


_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_VERSION_TABLE = "consent_alembic_version"  # the name env.py gives Alembic


def _upgrade_indexes(conn: Connection) -> None:
    """Index changes of databases made before Alembic: create_all() added missing tables but never an
    index to a table that existed. (Their per-case membership table goes in revision 0005.)"""
    tables = set(inspect(conn).get_table_names())
    if "consent_release_members" not in tables:
        return
    names = {ix["name"] for ix in inspect(conn).get_indexes("consent_release_members")}
    if "ix_consent_release_members_subject" in names:  # superseded, and the table goes in 0005
        conn.execute(text("DROP INDEX ix_consent_release_members_subject"))


def create_schema(engine: Engine) -> None:
    """Bring the consent database to the newest Alembic revision (idempotent; safe with several starting
    processes). A database made before the registry used Alembic is first matched to the revision it
    corresponds to and stamped with it, so nothing it holds is recreated."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Serialise concurrent first starts (several workers) around DDL.
            conn.execute(text("SELECT pg_advisory_xact_lock(7340021)"))
        config.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "consent_events" in tables and _VERSION_TABLE not in tables:
            _upgrade_indexes(conn)
            facts = "purpose_choice" in {c["name"] for c in inspect(conn).get_columns("consent_cases")}
            command.stamp(config, "0002" if facts else "0001")
        command.upgrade(config, "head")


def read_arrow(conn: Connection, sql: str, params: dict[str, Any], names: list[str]) -> pa.Table:
    """A query's rows as an Arrow table, fetched in blocks through the driver (no ORM rows)."""
    cursor = conn.exec_driver_sql(*_driver_sql(conn, sql, params))
    columns: list[list[Any]] = [[] for _ in names]
    while block := cursor.fetchmany(100_000):
        for i, column in enumerate(zip(*block, strict=True)):
            columns[i].extend(column)
    return pa.table(dict(zip(names, columns, strict=True)))


def _driver_sql(conn: Connection, sql: str, params: dict[str, Any]) -> tuple[str, Any]:
    """``:name`` parameters in the driver's own style (named for SQLite, pyformat for psycopg)."""
    if conn.dialect.name == "postgresql":
        return re.sub(r":(\w+)", r"%(\1)s", sql), params
    return sql, params


def fetch_in(
    conn: Connection, sql: str, fixed: Sequence[Any], values: Sequence[Any], array: str, size: int = 5000
) -> list[Any]:
    """The rows of ``sql`` for every one of ``values``, through the driver's own cursor, ``size`` values a
    statement. ``sql`` marks a scalar parameter ``{p}`` (bound from ``fixed``, in order) and the list
    test ``{in}``: ``= ANY(%s::<array>)`` on PostgreSQL (``array`` is ``bigint[]`` or ``text[]``, so the
    index is used whatever type the driver would guess), ``IN (?, …)`` on SQLite. For reads of many
    thousand rows, where SQLAlchemy's rows and its expanding IN cost more than the query."""
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    found: list[Any] = []
    postgres = conn.dialect.name == "postgresql"
    try:
        for start in range(0, len(values), size):
            some = list(values[start : start + size])
            if postgres:
                cursor.execute(sql.format(p="%s", **{"in": f"= ANY(%s::{array})"}), (*fixed, some))
            else:
                marks = ", ".join("?" * len(some))
                cursor.execute(sql.format(p="?", **{"in": f"IN ({marks})"}), (*fixed, *some))
            found.extend(cursor.fetchall())
    finally:
        cursor.close()
    return found


def bulk_insert(conn: Connection, table: str, rows: pa.Table) -> None:
    """Append an Arrow table's rows to ``table`` (columns by name): COPY on PostgreSQL, executemany on SQLite."""
    if rows.num_rows == 0:
        return
    names = rows.column_names
    if conn.dialect.name == "postgresql":
        buffer = io.BytesIO()
        pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        raw: Any = conn.connection.dbapi_connection  # psycopg's own connection, for COPY
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT csv)") as copy:
            view = buffer.getbuffer()
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start : start + (1 << 20)])
        return
    placeholders = ", ".join("?" for _ in names)
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})"
    for batch in rows.to_batches(100_000):
        conn.exec_driver_sql(sql, list(zip(*(c.to_pylist() for c in batch.columns), strict=True)))
