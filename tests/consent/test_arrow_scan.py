"""Arrow-native scans of the consent database equal the DB-API read, and leave the registry writable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from consent import arrow_scan
from consent.arrow_scan import scan
from consent.bulk_enrol import enrol_file
from consent.database import read_arrow
from consent.registry import ConsentRegistry
from consent.release_filter import CASE_FACTS_SCHEMA
from consent.settings import ConsentSettings
from tests.consent import test_cli
from tests.consent.subjects import DATASET, national_id, opt_out
from tests.consent.test_bulk_enrol import write


@pytest.fixture(params=["sqlite", "postgres"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsentRegistry]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'scan.db'}"
    else:
        factory: Any = request.getfixturevalue("pg_database_factory")
        url = str(factory())
    reg = ConsentRegistry.from_settings(ConsentSettings(data_dir=tmp_path / "var", consent_database_url=url))
    yield reg
    reg.engine.dispose()


def test_a_large_scan_equals_the_db_api_read_and_the_registry_stays_writable(
    registry: ConsentRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(arrow_scan, "CHILD_FROM_ROWS", 1_000)  # the child path, with a small registry
    rows = [[national_id(n), "NTU", DATASET, "ABC"[n % 3], f"c-{n}", "2019-01-01"] for n in range(1, 3_001)]
    enrol_file(registry, write(tmp_path / "s.csv", rows))
    # The last subject opts out: its text column (choice_kind) is null on every row before it, the case
    # that makes SQLite's ADBC driver guess a type from the first rows.
    opt_out(registry, 3_000, datetime(2020, 1, 1, tzinfo=UTC))
    names = CASE_FACTS_SCHEMA.names
    with registry.engine.begin() as conn:
        fast = scan(conn, "consent_cases", CASE_FACTS_SCHEMA, "dataset = :dataset", {"dataset": DATASET})
        sql = f"SELECT {', '.join(names)} FROM consent_cases WHERE dataset = :dataset"
        plain = read_arrow(conn, sql, {"dataset": DATASET}, names).cast(CASE_FACTS_SCHEMA)
    assert fast.num_rows == 3_000
    assert fast.sort_by("case_id").equals(plain.sort_by("case_id"))
    assert fast.filter(fast.column("choice_kind").is_valid()).num_rows == 1
    # Still writable and intact after the child's read (the flow below is the one that an in-process
    # second SQLite library broke).
    opt_out(registry, 1, datetime(2020, 1, 2, tzinfo=UTC))
    assert registry.verify().ok


def test_a_small_scan_reads_in_process(registry: ConsentRegistry, tmp_path: Path) -> None:
    enrol_file(registry, write(tmp_path / "s.csv", [[national_id(1), "NTU", DATASET, "B", "c-1", "2019-01-01"]]))
    with registry.engine.connect() as conn:
        table = scan(conn, "consent_cases", CASE_FACTS_SCHEMA, "dataset = :dataset", {"dataset": DATASET})
    assert table.column("case_id").to_pylist() == ["c-1"] and table.schema == CASE_FACTS_SCHEMA


def test_the_command_line_release_flow_reads_through_the_child_and_the_ledger_stays_sound(
    steward: ConsentSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in this process by ADBC's own SQLite, this flow failed its next write with "disk I/O error"."""
    monkeypatch.setattr(arrow_scan, "CHILD_FROM_ROWS", 0)
    test_cli.test_record_then_verify_and_a_release_with_withdrawal_notice_and_acknowledgement(steward, tmp_path)
