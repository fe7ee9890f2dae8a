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
from consent.membership import members
from consent.notice_lists import unpack
from consent.tables import metadata


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _version(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM consent_alembic_version")).scalar_one_or_none()


def _drift(conn: Connection) -> list[Any]:
    """Differences between the migrated database and the tables the code declares (none expected)."""
    context = MigrationContext.configure(conn, opts={"version_table": "consent_alembic_version"})
    return list(compare_metadata(context, metadata))


def _as_made_before_alembic(engine: Engine) -> None:
    """What ``create_all`` of the first versions left: no version table, cases without their facts or
    numbers, a release's membership as a row per case behind the older index."""
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE consent_alembic_version"))
        conn.execute(text("DROP TABLE consent_release_chunks"))
        conn.execute(text("DROP TABLE consent_release_cases"))
        conn.execute(text("DROP INDEX ux_consent_releases_release_no"))
        conn.execute(text("ALTER TABLE consent_releases DROP COLUMN release_no"))
        conn.execute(text("DROP TABLE consent_case_numbers"))
        conn.execute(text("DROP INDEX ux_consent_cases_dataset_case_no"))
        for column in (*COLUMNS, "case_no"):
            conn.execute(text(f"ALTER TABLE consent_cases DROP COLUMN {column}"))
        conn.execute(
            text(
                "CREATE TABLE consent_release_members (release_id VARCHAR(200) NOT NULL, "
                "case_id VARCHAR(200) NOT NULL, subject VARCHAR(64) NOT NULL, "
                "release_pseudonym VARCHAR(32) NOT NULL, PRIMARY KEY (release_id, case_id))"
            )
        )
        conn.execute(text("CREATE INDEX ix_consent_release_members_subject ON consent_release_members (subject)"))
        conn.execute(
            text(
                "INSERT INTO consent_cases (dataset, case_id, subject) "
                "VALUES ('d', 'c1', 's1'), ('d', 'c0', 's0'), ('e', 'c1', 's1')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO consent_releases VALUES "
                "('r1', 'APP-1', 'd', 'HMB', '2099-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z', '{}')"
            )
        )
        conn.execute(text("INSERT INTO consent_release_members VALUES ('r1', 'c1', 's1', 'p1')"))
        conn.execute(text("ALTER TABLE consent_withdrawal_notices DROP COLUMN pseudonyms"))
        conn.execute(
            text(
                "CREATE TABLE consent_withdrawal_items (notice_id VARCHAR(36) NOT NULL, release_id VARCHAR(200) "
                "NOT NULL, release_pseudonym VARCHAR(32) NOT NULL, PRIMARY KEY (notice_id, release_pseudonym))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO consent_withdrawal_notices (notice_id, release_id, created_at) "
                "VALUES ('n1', 'r1', '2021-01-01T00:00:00.000000Z'), ('n2', 'r1', '2021-01-02T00:00:00.000000Z')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO consent_withdrawal_items VALUES ('n1', 'r1', '" + "b" * 32 + "'), "
                "('n1', 'r1', '" + "0a" * 16 + "'), ('n2', 'r1', '" + "f" * 32 + "')"
            )
        )


def _check(url: str) -> None:
    engine = make_engine(url)
    try:
        create_schema(engine)
        assert _version(engine) == "0008"
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
        assert "consent_release_members" in _tables(engine)
        create_schema(engine)
        create_schema(engine)  # a second start changes nothing
        assert _version(engine) == "0008"
        assert "consent_release_members" not in _tables(engine)
        with engine.connect() as conn:
            assert _drift(conn) == []
            kept = conn.execute(
                text("SELECT dataset, case_id, case_no, deceased, purpose_choice FROM consent_cases ORDER BY 1, 2")
            ).all()
            chunks = conn.execute(text("SELECT chunk, bits FROM consent_release_chunks WHERE release_id = 'r1'")).all()
            numbered = conn.execute(text("SELECT dataset, next_case_no FROM consent_case_numbers")).all()
            packed = conn.execute(text("SELECT notice_id, pseudonyms FROM consent_withdrawal_notices ORDER BY 1")).all()
            counters = {str(d): int(n) for d, n in numbered}
        # the rows survived with their facts added, numbered in their dataset by case id
        assert [tuple(r) for r in kept] == [
            ("d", "c0", 0, False, False),
            ("d", "c1", 1, False, False),
            ("e", "c1", 0, False, False),
        ]
        assert counters == {"d": 2, "e": 1}
        assert members([(c, bytes(b)) for c, b in chunks]).tolist() == [1]  # the member row became its bit
        # each notice's item rows became its packed list, in order
        assert [(n, unpack(bytes(p))) for n, p in packed] == [("n1", ["0a" * 16, "b" * 32]), ("n2", ["f" * 32])]
        assert "consent_withdrawal_items" not in _tables(engine)
    finally:
        engine.dispose()


def test_sqlite_registry_schema_is_migrated_and_older_databases_are_brought_up_to_date(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path}/consent.db")


@pytest.mark.postgres
def test_postgresql_registry_schema_is_migrated_and_older_databases_are_brought_up_to_date(pg_url: str) -> None:
    _check(pg_url)
