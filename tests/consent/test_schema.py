"""The consent database is made and upgraded by Alembic, also one made before it was (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DatabaseError

from consent.case_facts import COLUMNS
from consent.database import create_schema, make_engine
from consent.tables import metadata


def _member_indexes(engine: Engine) -> set[str | None]:
    return {ix["name"] for ix in inspect(engine).get_indexes("consent_release_members")}


def _version(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM consent_alembic_version")).scalar_one_or_none()


def _drift(conn: Connection) -> list[Any]:
    """Differences between the migrated database and the tables the code declares (none expected)."""
    context = MigrationContext.configure(conn, opts={"version_table": "consent_alembic_version"})
    return list(compare_metadata(context, metadata))


def _as_made_before_alembic(engine: Engine) -> None:
    """What ``create_all`` of the first versions left: no version table, cases without their facts, the
    older membership index."""
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE consent_alembic_version"))
        conn.execute(text("DROP INDEX ix_consent_release_members_subject_cover"))
        conn.execute(text("CREATE INDEX ix_consent_release_members_subject ON consent_release_members (subject)"))
        for column in COLUMNS:
            conn.execute(text(f"ALTER TABLE consent_cases DROP COLUMN {column}"))
        conn.execute(text("INSERT INTO consent_cases (dataset, case_id, subject) VALUES ('d', 'c1', 's1')"))


def _check(url: str) -> None:
    engine = make_engine(url)
    try:
        create_schema(engine)
        assert _version(engine) == "0004"
        with engine.connect() as conn:  # the migrations make exactly the tables the code declares
            assert _drift(conn) == []
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO consent_checkpoints (created_at, max_event_id, head_count, prev_hash, hash) "
                    "VALUES ('2020-01-01T00:00:00.000000Z', 0, 0, '', 'h')"
                )
            )
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM consent_checkpoints"))

        _as_made_before_alembic(engine)
        assert _member_indexes(engine) == {"ix_consent_release_members_subject"}
        create_schema(engine)
        create_schema(engine)  # a second start changes nothing
        assert _version(engine) == "0004"
        assert _member_indexes(engine) == {"ix_consent_release_members_subject_cover"}
        with engine.connect() as conn:
            assert _drift(conn) == []
            kept = conn.execute(text("SELECT case_id, deceased, purpose_choice FROM consent_cases")).all()
        assert [tuple(r) for r in kept] == [("c1", False, False)]  # the row survived, its facts were added
    finally:
        engine.dispose()


def test_sqlite_registry_schema_is_migrated_and_older_databases_are_brought_up_to_date(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path}/consent.db")


@pytest.mark.postgres
def test_postgresql_registry_schema_is_migrated_and_older_databases_are_brought_up_to_date(pg_url: str) -> None:
    _check(pg_url)
