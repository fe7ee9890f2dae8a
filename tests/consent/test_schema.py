"""The registry's schema set-up brings databases made by earlier versions up to date (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from consent.database import create_schema, make_engine


def _member_indexes(url: str) -> set[str | None]:
    engine = make_engine(url)
    try:
        return {ix["name"] for ix in inspect(engine).get_indexes("consent_release_members")}
    finally:
        engine.dispose()


def _as_made_by_an_earlier_version(url: str) -> None:
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_consent_release_members_subject_cover"))
        conn.execute(text("CREATE INDEX ix_consent_release_members_subject ON consent_release_members (subject)"))
    engine.dispose()


def _check_upgrade(url: str) -> None:
    _as_made_by_an_earlier_version(url)
    assert _member_indexes(url) == {"ix_consent_release_members_subject"}
    engine = make_engine(url)
    create_schema(engine)
    create_schema(engine)  # a second start changes nothing
    engine.dispose()
    assert _member_indexes(url) == {"ix_consent_release_members_subject_cover"}


def test_an_older_sqlite_registry_gets_the_covering_membership_index(tmp_path: Path) -> None:
    _check_upgrade(f"sqlite:///{tmp_path}/consent.db")


@pytest.mark.postgres
def test_an_older_postgresql_registry_gets_the_covering_membership_index(pg_url: str) -> None:
    _check_upgrade(pg_url)
