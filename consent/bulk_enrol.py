"""Enrolment files of any size: streamed in blocks, checked in Arrow, spilled to Parquet, written in one transaction.

The national case is 25 million subjects with 100 million cases in one file: the rows never exist as
Python objects at once. Pass one reads the CSV block by block (pyarrow), checks every column with Arrow
compute, pseudonymises the identifiers (the only per-row Python work) and spills the good rows to
Parquet in a scratch folder. DuckDB then finds case ids listed twice, with a fixed memory budget. Rows
that contradict the registry are looked up only when the file's datasets already hold enrolments.
Pass two writes everything in one transaction (COPY on PostgreSQL), so a failure or a crash leaves the
registry as it was. Memory stays at a few hundred megabytes whatever the size of the file.

Rules and messages are those of :func:`consent.imports.parse_enrolments`; a line is the record's line in
the file (the header is line 1).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Connection, text

from consent import case_facts, membership
from consent import tables as t
from consent.case_facts import micros
from consent.database import bulk_insert
from consent.errors import BulkValidationError, RowError
from consent.imports import GUID_PATTERN, ID_COLUMNS, ImportResult, _moment
from consent.pseudonyms import IdentifierError
from consent.registry import ConsentRegistry, now_utc
from schemas.consent import format_instant

BLOCK_BYTES = 8 << 20  # about 150,000 rows of a national file per block
DUCKDB_MEMORY = "1GB"  # beyond it DuckDB spills to the scratch folder
SQLITE_CACHE_KIB = 1 << 20  # 1 GB of SQLite page cache while an import writes
MAX_ERRORS_KEPT = 1_000_000  # a file wrong on every row still reports a million rows, then stops counting

_ENROLMENT_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("subject", pa.string()),
        ("dataset", pa.string()),
        ("institution", pa.string()),
        ("category", pa.string()),
        ("enrolled_at", pa.string()),
        ("enrolled_us", pa.int64()),
    ]
)
_CASE_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("dataset", pa.string()),
        ("case_id", pa.string()),
        ("subject", pa.string()),
        ("category", pa.string()),
        ("enrolled_us", pa.int64()),
    ]
)


@dataclass
class _Checked:
    """Pass one's outcome: where the good rows were spilled, and every bad row."""

    folder: Path
    columns: list[str]
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    datasets: set[str] = field(default_factory=set)
    overflow: int = 0  # errors beyond MAX_ERRORS_KEPT
    preexisting: set[str] = field(default_factory=set)  # subjects already enrolled in one of the datasets

    def add(self, error: RowError) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)
        else:
            self.overflow += 1

    @property
    def bad_lines(self) -> set[int]:
        return {e.line for e in self.errors}


Progress = Callable[[str, int], None]


def enrol_file(
    registry: ConsentRegistry,
    path: Path,
    known_datasets: set[str] | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import an enrolment CSV (columns as :func:`consent.imports.parse_enrolments`) of any size.

    With bad rows and ``skip_invalid`` false nothing is written and :class:`BulkValidationError` lists
    them; with ``skip_invalid`` the good rows are written and the bad ones go to a rejects file
    (identifiers blanked)."""
    recorded = now or now_utc()
    scratch = Path(tempfile.mkdtemp(prefix="fairgate-enrol-"))
    try:
        checked = _check_file(registry, path, known_datasets, scratch, recorded, progress)
        if not _header_errors(checked):
            _repeated_cases(checked)
            _stored_conflicts(registry, checked)
        rejects_file = None
        if checked.errors:
            if not skip_invalid or _header_errors(checked):
                errors = sorted(checked.errors, key=lambda e: (e.line, e.column))
                raise BulkValidationError(errors)
            rejects_file = _write_rejects(path, checked, rejects or path.with_name(path.stem + ".rejects.csv"))
        written = _write(registry, checked, recorded, progress)
        return ImportResult(written, len(checked.bad_lines) + checked.overflow, rejects_file)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _header_errors(checked: _Checked) -> bool:
    """The file itself is wrong (header, encoding): no row can be judged, so nothing is imported."""
    return any(e.line <= 1 for e in checked.errors)


# --- pass one: read, check, pseudonymise, spill ----------------------------------------------------------


def _header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])
    except UnicodeDecodeError:
        raise BulkValidationError([RowError(0, "*", "file is not UTF-8 text; save it as UTF-8 CSV")]) from None


def _blocks(path: Path, raw_columns: list[str], skipped: list[int]) -> Iterator[pa.RecordBatch]:
    def invalid(row: Any) -> str:
        skipped.append(int(row.number) if row.number is not None else -1)
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in raw_columns}, strings_can_be_null=False
        ),
    )
    yield from reader


def _check_file(
    registry: ConsentRegistry,
    path: Path,
    known: set[str] | None,
    folder: Path,
    recorded: datetime,
    progress: Progress | None,
) -> _Checked:
    raw_columns = _header(path)
    columns = [c.strip().lstrip("\ufeff") for c in raw_columns]
    checked = _Checked(folder, columns)
    missing = [c for c in ("institution", "dataset", "category") if c not in columns]
    checked.errors.extend(RowError(1, c, "required column is missing from the header") for c in missing)
    if not any(c in columns for c in ID_COLUMNS):
        checked.errors.append(RowError(1, "national_id", "the header needs a national_id (or local_id) column"))
    if checked.errors:
        return checked
    skipped: list[int] = []
    next_line = 2
    enrol_writer = pq.ParquetWriter(folder / "enrolments.parquet", _ENROLMENT_SCHEMA)
    case_writer = pq.ParquetWriter(folder / "cases.parquet", _CASE_SCHEMA)
    try:
        blocks = _blocks(path, raw_columns, skipped)
        while True:
            try:
                block = next(blocks)
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise BulkValidationError(
                    [RowError(next_line, "*", f"not a readable CSV file from here on ({exc}); save it as UTF-8 CSV")]
                ) from None
            # Skipped (malformed) rows were reported while this block was parsed: number the rest around them.
            lines: list[int] = []
            pending = sorted(n for n in skipped if n >= next_line)
            while len(lines) < block.num_rows:
                if pending and pending[0] == next_line:
                    pending.pop(0)
                else:
                    lines.append(next_line)
                next_line += 1
            table = pa.Table.from_batches([block]).rename_columns(columns)
            good_enrol, good_cases = _check_block(
                registry, table, pa.array(lines, pa.int64()), known, recorded, checked
            )
            enrol_writer.write_table(good_enrol)
            case_writer.write_table(good_cases)
            checked.rows += block.num_rows
            if progress:
                progress("checked", checked.rows)
    finally:
        enrol_writer.close()
        case_writer.close()
    for number in skipped:
        checked.add(RowError(number, "*", "row has a different number of columns from the header"))
    return checked


def _column(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        return pa.array([""] * table.num_rows, pa.string())
    return pc.utf8_trim_whitespace(table.column(name).combine_chunks())


def _check_block(
    registry: ConsentRegistry,
    table: pa.Table,
    lines: pa.Array,
    known: set[str] | None,
    recorded: datetime,
    checked: _Checked,
) -> tuple[pa.Table, pa.Table]:
    n = table.num_rows
    bad = [False] * n
    line_list = lines.to_pylist()

    def flag(mask: pa.Array, column: str, reason: Callable[[int], str]) -> None:
        for i in pc.indices_nonzero(mask).to_pylist():
            bad[i] = True
            checked.add(RowError(line_list[i], column, reason(i)))

    # Identifiers: checked and keyed one by one (the only per-row Python); errors never carry them.
    nationals = _column(table, "national_id").to_pylist()
    locals_ = _column(table, "local_id").to_pylist()
    institution = _column(table, "institution")
    institutions = institution.to_pylist()
    pseudonymise = registry.pseudonymiser.subject
    subjects: list[str] = [""] * n
    for i in range(n):
        try:
            subjects[i] = pseudonymise(nationals[i] or None, locals_[i] or None, institutions[i] or None)
        except IdentifierError as exc:
            bad[i] = True
            checked.add(RowError(line_list[i], "national_id", str(exc)))
    flag(pc.equal(institution, ""), "institution", lambda _: "institution is empty")
    dataset = _column(table, "dataset")
    datasets = dataset.to_pylist()
    not_guid = pc.invert(pc.match_substring_regex(dataset, GUID_PATTERN.pattern))
    flag(not_guid, "dataset", lambda i: f"{datasets[i]!r} is not a dataset GUID (<prefix>/<uuid>)")
    if known is not None:
        unknown = pc.and_(pc.invert(not_guid), pc.invert(pc.is_in(dataset, pa.array(sorted(known), pa.string()))))
        flag(unknown, "dataset", lambda i: f"unknown dataset {datasets[i]}: not in the known-datasets list")
    category = pc.utf8_upper(_column(table, "category"))
    categories = category
    wrong_category = pc.invert(pc.is_in(category, pa.array(["A", "B", "C"])))
    flag(wrong_category, "category", lambda i: f"category must be A, B or C, got {categories[i].as_py()!r}")
    on = _column(table, "enrolled_on")
    enrolled_at, enrolled_us, wrong_date = _moments(on, recorded)
    flag(wrong_date, "enrolled_on", lambda i: f"{on[i].as_py()!r} is not a date (use YYYY-MM-DD)")

    good = pc.invert(pa.array(bad, pa.bool_()))
    enrolments = pa.table(
        {
            "line": lines,
            "subject": pa.array(subjects, pa.string()),
            "dataset": dataset,
            "institution": institution,
            "category": category,
            "enrolled_at": enrolled_at,
            "enrolled_us": enrolled_us,
        },
        schema=_ENROLMENT_SCHEMA,
    ).filter(good)
    checked.datasets.update(pc.unique(enrolments.column("dataset")).to_pylist())
    split = pc.split_pattern(_column(table, "case_ids").filter(good), ";")
    ids = pc.utf8_trim_whitespace(pc.list_flatten(split))
    owner = pc.list_parent_indices(split)
    cases = pa.table(
        {
            "line": pc.take(enrolments.column("line"), owner),
            "dataset": pc.take(enrolments.column("dataset"), owner),
            "case_id": ids,
            "subject": pc.take(enrolments.column("subject"), owner),
            "category": pc.take(enrolments.column("category"), owner),
            "enrolled_us": pc.take(enrolments.column("enrolled_us"), owner),
        },
        schema=_CASE_SCHEMA,
    ).filter(pc.not_equal(ids, ""))
    return enrolments, cases


def _moments(values: pa.Array, recorded: datetime) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Each value as fixed-width UTC text and epoch microseconds (empty: ``recorded``), and which ones are
    not dates. Plain dates are parsed in Arrow; times of day (few rows) as the small-file path does."""
    as_day = pc.strptime(values, "%Y-%m-%d", "us", error_is_null=True)
    texts = pc.strftime(as_day, "%Y-%m-%dT%H:%M:%SZ")  # %S of microsecond timestamps has six decimals
    us = pc.cast(as_day, pa.int64())
    empty = pc.equal(values, "")
    rest = pc.and_(pc.is_null(as_day), pc.invert(empty))
    wrong = pa.array([False] * len(values), pa.bool_())
    if pc.any(rest).as_py():
        raw = values.to_pylist()
        text_list: list[str | None] = texts.to_pylist()
        us_list: list[int | None] = us.to_pylist()
        wrong_list = [False] * len(raw)
        for i in pc.indices_nonzero(rest).to_pylist():
            moment = _moment(raw[i], "enrolled_on", 0, [])
            if moment is None:
                wrong_list[i] = True
            else:
                text_list[i], us_list[i] = format_instant(moment), micros(moment)
        texts, us, wrong = pa.array(text_list, pa.string()), pa.array(us_list, pa.int64()), pa.array(wrong_list)
    texts = pc.if_else(empty, pa.scalar(format_instant(recorded)), texts)
    us = pc.if_else(empty, pa.scalar(micros(recorded), pa.int64()), us)
    return texts, us, wrong


# --- checks across the file and against the registry ---------------------------------------------------


def _duckdb(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute(f"SET temp_directory = '{folder / 'spill'}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def _repeated_cases(checked: _Checked) -> None:
    """A case id listed on two lines (same dataset): the later lines fail, naming the first."""
    con = _duckdb(checked.folder)
    cases = checked.folder / "cases.parquet"
    # One grouping (DuckDB spills it past its memory limit), then the few repeated ids joined back; a
    # window or IN over 100 million rows ran out of memory at 1 GB.
    rows = con.execute(
        f"""WITH repeated AS (
              SELECT dataset, case_id, min(line) AS first FROM '{cases}'
              GROUP BY dataset, case_id HAVING count(*) > 1)
            SELECT DISTINCT c.line, c.case_id, r.first FROM '{cases}' c JOIN repeated r USING (dataset, case_id)
            WHERE c.line <> r.first ORDER BY c.line, c.case_id"""
    ).fetchall()
    for line, case_id, first in rows:
        checked.add(RowError(int(line), "case_ids", f"case {case_id} is also listed on line {first}"))


def _stored_conflicts(registry: ConsentRegistry, checked: _Checked) -> None:
    """Rows that contradict the registry (another category, a case owned by someone else). Looked up only
    when the registry already holds enrolments in the file's datasets: a first national import skips it."""
    datasets = sorted(checked.datasets)
    if not datasets:
        return
    with registry.engine.connect() as conn:
        if not _held(conn, datasets):
            return
        con = _duckdb(checked.folder)
        enrolments = con.execute(
            f"SELECT line, subject, dataset, category FROM '{checked.folder / 'enrolments.parquet'}' ORDER BY line"
        )
        while batch := enrolments.fetchmany(5000):
            stored = _stored_categories(conn, sorted({s for _, s, _, _ in batch}))
            for line, subject, dataset, category in batch:
                was = stored.get((subject, dataset))
                if was is not None:
                    checked.preexisting.add(subject)
                if was is not None and was != category:
                    checked.add(RowError(line, "*", f"already enrolled in {dataset} as category {was}, not {category}"))
        cases_file = checked.folder / "cases.parquet"
        cases = con.execute(f"SELECT line, dataset, case_id, subject FROM '{cases_file}' ORDER BY dataset, case_id")
        while batch := cases.fetchmany(5000):
            owners = _stored_owners(conn, [(d, c) for _, d, c, _ in batch])
            for line, dataset, case_id, subject in batch:
                owner = owners.get((dataset, case_id))
                if owner is not None and owner != subject:
                    checked.add(RowError(line, "*", f"case {case_id} of {dataset} belongs to another subject"))


def _stored_categories(conn: Connection, subjects: list[str]) -> dict[tuple[str, str], str]:
    e = t.enrolments.c
    rows = conn.execute(
        t.enrolments.select().with_only_columns(e.subject, e.dataset, e.category).where(e.subject.in_(subjects))
    )
    return {(s, d): c for s, d, c in rows}


def _stored_owners(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    c = t.cases.c
    by_dataset: dict[str, list[str]] = {}
    for dataset, case_id in keys:
        by_dataset.setdefault(dataset, []).append(case_id)
    owners: dict[tuple[str, str], str] = {}
    for dataset, ids in by_dataset.items():
        q = t.cases.select().with_only_columns(c.case_id, c.subject).where(c.dataset == dataset, c.case_id.in_(ids))
        owners.update({(dataset, str(case_id)): str(subject) for case_id, subject in conn.execute(q)})
    return owners


# --- rejects -------------------------------------------------------------------------------------------


def _write_rejects(path: Path, checked: _Checked, out: Path) -> Path:
    """The bad lines with their reasons and every column but the identifiers (blanked), streamed."""
    reasons: dict[int, list[str]] = {}
    for error in checked.errors:
        reasons.setdefault(error.line, []).append(f"{error.column}: {error.reason}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with path.open(newline="", encoding="utf-8-sig") as source, out.open("w", newline="", encoding="utf-8") as sink:
        reader = csv.reader(source)
        writer = csv.writer(sink)
        header = [c.strip() for c in next(reader, [])]
        writer.writerow(["line", "errors", *header])
        for row in reader:
            line = reader.line_num
            if line in reasons:
                values = [
                    "" if c in ID_COLUMNS else (row[i].strip() if i < len(row) else "") for i, c in enumerate(header)
                ]
                writer.writerow([line, "; ".join(reasons[line]), *values])
    return out


# --- pass two: one transaction ----------------------------------------------------------------------------


def _write(registry: ConsentRegistry, checked: _Checked, recorded: datetime, progress: Progress | None) -> int:
    """Enrolments (first row of each subject and dataset wins, as repeated rows are no-ops) and cases, in
    one transaction; the facts of subjects who already have state are set from it before commit."""
    con = _duckdb(checked.folder)
    bad = pa.table({"line": pa.array(sorted(checked.bad_lines), pa.int64())})
    stamp = format_instant(recorded)
    postgres = registry.engine.dialect.name == "postgresql"
    with registry.engine.begin() as conn:
        if not postgres:
            # The case table's subject index takes its rows in random order: a page cache of SQLite's
            # default 2 MB makes every insert a read from the OS. Back to the default before the connection
            # returns to the pool (the commit below follows on the same connection).
            conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        try:
            written = _write_rows(conn, con, checked, bad, stamp, postgres, progress)
        finally:
            if not postgres:
                conn.exec_driver_sql("PRAGMA cache_size = -2000")
    return written


def _write_rows(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    checked: _Checked,
    bad: pa.Table,
    stamp: str,
    postgres: bool,
    progress: Progress | None,
) -> int:
    """Enrolments, then cases (in key order, so the primary-key B-tree grows at its end), then facts."""
    enrolment_columns = f"subject, dataset, institution, category, enrolled_at, '{stamp}' AS recorded_at"
    written = 0
    # A first import copies straight in (PostgreSQL COPY); otherwise repeated rows must be no-ops.
    fresh = not _held(conn, sorted(checked.datasets))
    source = checked.folder / "enrolments.parquet"
    # First row of each (subject, dataset): a file that repeats a row makes one enrolment.
    con.register("bad_lines", bad)
    con.execute(
        f"""CREATE TABLE first_lines AS SELECT min(line) AS line FROM '{source}'
            WHERE line NOT IN (SELECT line FROM bad_lines) GROUP BY subject, dataset"""
    )
    enrolments = con.sql(
        f"SELECT {enrolment_columns} FROM '{source}' WHERE line IN (SELECT line FROM first_lines) ORDER BY subject"
    ).to_arrow_reader(200_000)
    for batch in enrolments:
        rows = pa.Table.from_batches([batch])
        _insert(conn, t.enrolments.name, rows, ["subject", "dataset"], fresh and postgres)
        written += rows.num_rows
        if progress:
            progress("enrolments written", written)
    counts = con.sql(
        f"""SELECT dataset, count(*) FROM '{checked.folder / "cases.parquet"}'
            WHERE line NOT IN (SELECT line FROM bad_lines) GROUP BY dataset ORDER BY dataset"""
    ).fetchall()
    # Each dataset's block of case numbers, taken in one order (as registry.enrol does); a case that is
    # already stored keeps its number and leaves one unused.
    following = {str(d): membership.reserve_case_numbers(conn, str(d), int(n)) for d, n in counts}
    # A case's facts come from its enrolment: the first row of its subject and dataset.
    cases = con.sql(
        f"""SELECT c.dataset, c.case_id, c.subject, e.category, e.enrolled_us
            FROM '{checked.folder / "cases.parquet"}' c
            JOIN (SELECT subject, dataset, category, enrolled_us FROM '{source}'
                  WHERE line IN (SELECT line FROM first_lines)) e USING (subject, dataset)
            WHERE c.line NOT IN (SELECT line FROM bad_lines) ORDER BY c.dataset, c.case_id"""
    ).to_arrow_reader(200_000)
    done = 0
    for batch in cases:
        rows = _with_case_numbers(pa.Table.from_batches([batch]), following)
        _insert(conn, t.cases.name, rows, ["dataset", "case_id"], fresh and postgres)
        done += rows.num_rows
        if progress:
            progress("cases written", done)
    _facts_from_state(conn, postgres, sorted(checked.datasets), stamp, checked.preexisting)
    return written


def _with_case_numbers(rows: pa.Table, following: dict[str, int]) -> pa.Table:
    """``rows`` (in dataset, case id order) with each case's number, the next of its dataset's block."""
    numbers = np.empty(rows.num_rows, dtype=np.int64)
    datasets = rows.column("dataset")
    for dataset in pc.unique(datasets).to_pylist():
        mask = pc.equal(datasets, dataset).to_numpy(zero_copy_only=False)
        count = int(mask.sum())
        numbers[mask] = np.arange(following[dataset], following[dataset] + count, dtype=np.int64)
        following[dataset] += count
    return rows.append_column("case_no", pa.array(numbers))


def _held(conn: Connection, datasets: list[str]) -> bool:
    """Whether the registry holds any enrolment in ``datasets`` (if not, nothing in the file can conflict)."""
    if not datasets:
        return False
    params = {f"d{i}": d for i, d in enumerate(datasets)}
    marks = ", ".join(f":d{i}" for i in range(len(datasets)))
    found = conn.execute(text(f"SELECT 1 FROM consent_enrolments WHERE dataset IN ({marks}) LIMIT 1"), params)
    return found.first() is not None


def _insert(conn: Connection, table: str, rows: pa.Table, keys: list[str], copy: bool) -> None:
    if rows.num_rows == 0:
        return
    if copy:
        bulk_insert(conn, table, rows)
        return
    names = rows.column_names
    placeholders = ", ".join("?" if conn.dialect.name == "sqlite" else "%s" for _ in names)
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders}) ON CONFLICT ({', '.join(keys)}) DO NOTHING"
    conn.exec_driver_sql(sql, list(zip(*(c.to_pylist() for c in rows.columns), strict=True)))


def _facts_from_state(conn: Connection, postgres: bool, datasets: list[str], stamp: str, preexisting: set[str]) -> None:
    """Cases of subjects who already have state (a notice, a choice, a death) or an earlier enrolment
    (whose time and category win) get their facts from the registry, as :meth:`ConsentRegistry.enrol` does."""
    if postgres:
        # Appends that wrote state before this point are visible; later ones wait for our commit and then
        # update our cases themselves.
        conn.execute(text("LOCK TABLE consent_state IN SHARE MODE"))
    params: dict[str, Any] = {f"d{i}": d for i, d in enumerate(datasets)} | {"stamp": stamp}
    marks = ", ".join(f":d{i}" for i in range(len(datasets))) or "NULL"
    subjects = [
        str(s)
        for (s,) in conn.execute(
            text(
                "SELECT DISTINCT e.subject FROM consent_enrolments e "
                f"WHERE e.dataset IN ({marks}) AND e.recorded_at = :stamp "
                "AND EXISTS (SELECT 1 FROM consent_state s WHERE s.subject = e.subject)"
            ),
            params,
        )
    ]
    subjects = sorted(set(subjects) | preexisting)
    for start in range(0, len(subjects), 50_000):
        chunk = subjects[start : start + 50_000]
        case_facts.store_facts(conn, case_facts.facts_in(conn, chunk))
