"""The streamed enrolment import (``fairgate consent enrol``) on SQLite and PostgreSQL: the same rows, facts
and messages as the row-by-row path, bad rows alone with their line, all or nothing, and a killed import
that leaves the registry as it was."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from consent import bulk_enrol
from consent.bulk_enrol import enrol_file
from consent.errors import BulkValidationError
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.settings import ConsentSettings
from schemas.consent import Category
from tests.consent.subjects import DATASET, OTHER_DATASET, national_id, opt_out

HEADER = ["national_id", "institution", "dataset", "category", "case_ids", "enrolled_on"]
NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bulk.db'}"
    factory: Any = request.getfixturevalue("pg_database_factory")
    return str(factory())


@pytest.fixture
def bulk(database_url: str, tmp_path: Path) -> Iterator[ConsentRegistry]:
    settings = ConsentSettings(data_dir=tmp_path / "var", consent_database_url=database_url)
    registry = ConsentRegistry.from_settings(settings)
    yield registry
    registry.engine.dispose()


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[ConsentRegistry]:
    """The row-by-row path (``registry.enrol`` of parsed rows), same key, its own SQLite file."""
    settings = ConsentSettings(data_dir=tmp_path / "var", consent_database_url=f"sqlite:///{tmp_path / 'ref.db'}")
    registry = ConsentRegistry.from_settings(settings)
    yield registry
    registry.engine.dispose()


def dump(registry: ConsentRegistry) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with registry.engine.connect() as conn:
        enrolments = conn.execute(
            text(
                "SELECT subject, dataset, institution, category, enrolled_at FROM consent_enrolments "
                "ORDER BY subject, dataset"
            )
        ).all()
        cases = conn.execute(
            text(
                "SELECT dataset, case_id, subject, category, enrolled_us, notice_sent_us, notice_undelivered_us, "
                "deceased, choice_kind, choice_us, choice_rank, choice_seq, purpose_choice FROM consent_cases "
                "ORDER BY dataset, case_id"
            )
        ).all()
    # Booleans are 0/1 on SQLite.
    return [tuple(r) for r in enrolments], [(*r[:7], bool(r[7]), *r[8:12], bool(r[12])) for r in cases]


def row_by_row(registry: ConsentRegistry, path: Path) -> None:
    from consent.imports import parse_enrolments

    parsed = parse_enrolments(registry, path)
    assert not parsed.errors, parsed.errors
    registry.enrol([e for _, e in parsed.good], now=NOW)


def opt_out_everywhere(registry: ConsentRegistry, n: int) -> None:
    """A subject enrolled elsewhere who opted out of every dataset before this file arrives."""
    subject = registry.pseudonymiser.subject(national_id(n))
    registry.enrol([EnrolmentInput(subject, OTHER_DATASET, "NTU", Category.C, datetime(2018, 1, 1, tzinfo=UTC))])
    opt_out(registry, n, datetime(2018, 6, 1, tzinfo=UTC))


def varied_rows() -> list[list[str]]:
    rows = [
        [national_id(1), "NTU", DATASET, "a", "c-1; c-2 ;c-3", "2019-01-01"],
        [national_id(2), " NTU ", DATASET, "B", "c-4", "2019-02-03T10:20:30+08:00"],
        [national_id(3), "NTUH", DATASET, "C", "", "2019-03-04"],
        [national_id(2), "NTU", DATASET, "B", "c-5", "2019-05-05"],  # the same enrolment again, one more case
        [national_id(4), "NTU", OTHER_DATASET, "C", "c-1", "2019-01-01"],  # same case id, other dataset
        [national_id(5), "NTU", DATASET, "C", "c-6", "2019-01-01"],  # opted out before: facts from state
    ]
    return rows


def test_the_streamed_import_stores_what_the_row_by_row_path_stores(
    bulk: ConsentRegistry, reference: ConsentRegistry, tmp_path: Path
) -> None:
    path = write(tmp_path / "subjects.csv", varied_rows())
    for registry in (bulk, reference):
        opt_out_everywhere(registry, 5)
    result = enrol_file(bulk, path, now=NOW)
    row_by_row(reference, path)
    assert result.written == 5 and result.rejected == 0
    assert dump(bulk) == dump(reference)
    cases = dump(bulk)[1]
    assert len(cases) == 7
    opted = [c for c in cases if c[1] == "c-6"]
    assert opted[0][8] == "opted_out"


def test_importing_the_same_file_twice_changes_nothing(bulk: ConsentRegistry, tmp_path: Path) -> None:
    path = write(tmp_path / "subjects.csv", varied_rows())
    enrol_file(bulk, path, now=NOW)
    before = dump(bulk)
    enrol_file(bulk, path, now=NOW.replace(year=2027))
    assert dump(bulk) == before


def test_rows_that_contradict_the_registry_fail_with_their_line(bulk: ConsentRegistry, tmp_path: Path) -> None:
    enrol_file(bulk, write(tmp_path / "first.csv", varied_rows()), now=NOW)
    rows = [
        [national_id(1), "NTU", DATASET, "C", "c-9", "2019-01-01"],  # was A
        [national_id(7), "NTU", DATASET, "C", "c-4", "2019-01-01"],  # c-4 belongs to subject 2
        [national_id(8), "NTU", DATASET, "C", "c-10", "2019-01-01"],
    ]
    with pytest.raises(BulkValidationError) as raised:
        enrol_file(bulk, write(tmp_path / "second.csv", rows), now=NOW)
    described = [e.describe() for e in raised.value.errors]
    assert described == [
        f"line 2, column *: already enrolled in {DATASET} as category A, not C",
        f"line 3, column *: case c-4 of {DATASET} belongs to another subject",
    ]


def test_bad_rows_fail_alone_with_their_line_and_nothing_is_written(bulk: ConsentRegistry, tmp_path: Path) -> None:
    bad_id = national_id(3)[:-1] + str((int(national_id(3)[-1]) + 1) % 10)
    rows = [
        [national_id(1), "NTU", DATASET, "A", "c-1", "2019-01-01"],
        [national_id(2), "NTU", DATASET, "B"],  # too few columns
        [bad_id, "NTU", DATASET, "C", "c-3", "2019-01-01"],
        [national_id(4), "", "not-a-guid", "Z", "c-4", "01/02/2019"],
        [national_id(5), "NTU", DATASET, "C", "c-1", "2019-01-01"],  # c-1 is on line 2
        [national_id(6), "NTU", DATASET, "C", "c-6", "2019-01-01"],
    ]
    path = write(tmp_path / "subjects.csv", rows)
    with pytest.raises(BulkValidationError) as raised:
        enrol_file(bulk, path, now=NOW)
    described = [e.describe() for e in raised.value.errors]
    assert described == [
        "line 3, column *: row has a different number of columns from the header",
        "line 4, column national_id: national id fails its check digit",
        "line 5, column category: category must be A, B or C, got 'Z'",
        "line 5, column dataset: 'not-a-guid' is not a dataset GUID (<prefix>/<uuid>)",
        "line 5, column enrolled_on: '01/02/2019' is not a date (use YYYY-MM-DD)",
        "line 5, column institution: institution is empty",
        "line 6, column case_ids: case c-1 is also listed on line 2",
    ]
    assert bad_id not in str(raised.value)
    assert dump(bulk) == ([], [])

    rejects = tmp_path / "rejects.csv"
    result = enrol_file(bulk, path, skip_invalid=True, rejects=rejects, now=NOW)
    assert (result.written, result.rejected) == (2, 4)
    lines = [row[0] for row in csv.reader(rejects.open())][1:]
    assert lines == ["3", "4", "5", "6"]
    assert bad_id not in rejects.read_text() and national_id(5) not in rejects.read_text()
    assert sorted(c[1] for c in dump(bulk)[1]) == ["c-1", "c-6"]


def test_a_file_without_the_required_columns_is_refused_before_any_row(bulk: ConsentRegistry, tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", [[national_id(1), DATASET]], header=["national_id", "dataset"])
    with pytest.raises(BulkValidationError) as raised:
        enrol_file(bulk, path, skip_invalid=True)
    assert [e.describe() for e in raised.value.errors] == [
        "line 1, column category: required column is missing from the header",
        "line 1, column institution: required column is missing from the header",
    ]


def test_an_empty_enrolment_date_means_now(bulk: ConsentRegistry, tmp_path: Path) -> None:
    enrol_file(bulk, write(tmp_path / "s.csv", [[national_id(1), "NTU", DATASET, "B", "c-1", ""]]), now=NOW)
    enrolments, cases = dump(bulk)
    assert enrolments[0][4] == "2026-01-02T03:04:05.678901Z"
    assert cases[0][4] == int((NOW - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000 + 678901


def test_a_failure_while_writing_leaves_the_registry_as_it_was(
    bulk: ConsentRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrol_file(bulk, write(tmp_path / "first.csv", varied_rows()), now=NOW)
    before = dump(bulk)
    calls = {"n": 0}
    real = bulk_enrol._insert

    def failing(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the enrolments are in, the cases are not
            raise OSError("disk full")
        real(*args)

    monkeypatch.setattr(bulk_enrol, "_insert", failing)
    rows = [[national_id(n), "NTU", DATASET, "C", f"n-{n}", "2019-01-01"] for n in range(20, 40)]
    with pytest.raises(OSError):
        enrol_file(bulk, write(tmp_path / "second.csv", rows), now=NOW)
    assert dump(bulk) == before


KILLED_IMPORT = """
import sys
from pathlib import Path
from consent.bulk_enrol import enrol_file
from consent.registry import ConsentRegistry
from consent.settings import ConsentSettings
import consent.bulk_enrol as bulk
bulk.BLOCK_BYTES = 1 << 16
registry = ConsentRegistry.from_settings(ConsentSettings(data_dir=Path(sys.argv[1]), consent_database_url=sys.argv[2]))
import time
def progress(stage, count):
    if stage == "cases written":
        print("writing", flush=True)
        time.sleep(60)  # inside the open transaction: the kill lands here
enrol_file(registry, Path(sys.argv[3]), progress=progress)
print("committed", flush=True)
"""


def test_an_import_killed_while_writing_leaves_the_registry_as_it_was_and_verifiable(
    database_url: str, tmp_path: Path
) -> None:
    settings = ConsentSettings(data_dir=tmp_path / "var", consent_database_url=database_url)
    registry = ConsentRegistry.from_settings(settings)
    enrol_file(registry, write(tmp_path / "first.csv", varied_rows()), now=NOW)
    before = dump(registry)
    rows = [[national_id(n), "NTU", DATASET, "C", f"k-{n};l-{n}", "2019-01-01"] for n in range(100, 3_100)]
    path = write(tmp_path / "big.csv", rows)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_IMPORT, str(tmp_path / "var"), database_url, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip() == "writing", line  # killed in the middle of writing the cases
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    time.sleep(0.2)
    registry.engine.dispose()
    registry = ConsentRegistry.from_settings(settings)
    assert dump(registry) == before
    assert registry.verify().ok
    registry.engine.dispose()
