"""Bulk files (enrolments, notices sent/returned, deaths): validated whole before anything is written.

Every bad row is reported as (line, column, reason) and never with its identifier; rejects files keep
the line number and the other columns, with identifier columns blanked.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Generic, TypeVar

from consent.errors import BulkValidationError, RowError
from consent.pseudonyms import IdentifierError
from consent.registry import ConsentRegistry, EnrolmentInput, now_utc
from schemas.consent import Category, Channel, EventKind, EventRequest

ID_COLUMNS = ("national_id", "local_id")
GUID_PATTERN = re.compile(r"^[A-Za-z0-9._-]+(?:\.[A-Za-z0-9_-]+)*/[0-9a-fA-F-]{36}$")


T = TypeVar("T")


@dataclass
class Parsed(Generic[T]):
    """Good rows (with their line numbers) and errors of one file."""

    good: list[tuple[int, T]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: dict[int, dict[str, str]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)

    def bad_lines(self) -> set[int]:
        return {e.line for e in self.errors}


@dataclass(frozen=True)
class ImportResult:
    written: int
    rejected: int
    rejects_file: Path | None = None


def read_csv(path: Path) -> tuple[list[str], dict[int, dict[str, str]]]:
    """Rows keyed by their line number in the file (the header is line 1)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            rows: dict[int, dict[str, str]] = {}
            for row in reader:
                values = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
                rows[reader.line_num] = values
    except UnicodeDecodeError:
        raise BulkValidationError([RowError(0, "*", "file is not UTF-8 text; save it as UTF-8 CSV")]) from None
    except csv.Error as exc:
        raise BulkValidationError([RowError(0, "*", f"not a readable CSV file ({type(exc).__name__})")]) from None
    return columns, rows


def _require(columns: list[str], needed: tuple[str, ...]) -> list[RowError]:
    missing = [c for c in needed if c not in columns]
    errors = [RowError(1, c, "required column is missing from the header") for c in missing]
    if not any(c in columns for c in ID_COLUMNS):
        errors.append(RowError(1, "national_id", "the header needs a national_id (or local_id) column"))
    return errors


def _subject(registry: ConsentRegistry, row: dict[str, str]) -> str:
    return registry.pseudonymiser.subject(row.get("national_id"), row.get("local_id"), row.get("institution"))


def _moment(value: str, column: str, line: int, errors: list[RowError]) -> datetime | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        errors.append(RowError(line, column, f"{value!r} is not a date (use YYYY-MM-DD)"))
        return None


def parse_enrolments(
    registry: ConsentRegistry, path: Path, known_datasets: Container[str] | None = None
) -> Parsed[EnrolmentInput]:
    """Columns: national_id (or local_id), institution, dataset, category (A|B|C), case_ids
    (separated by ';'), optional enrolled_on. Datasets must be GUIDs, and listed in ``known_datasets``
    when given."""
    columns, rows = read_csv(path)
    parsed: Parsed[EnrolmentInput] = Parsed(rows=rows, columns=columns)
    parsed.errors.extend(_require(columns, ("institution", "dataset", "category")))
    if parsed.errors:
        return parsed
    today = now_utc()
    seen_cases: dict[tuple[str, str], int] = {}
    for line, row in rows.items():
        errors: list[RowError] = []
        try:
            subject = _subject(registry, row)
        except IdentifierError as exc:
            errors.append(RowError(line, "national_id", str(exc)))
            subject = ""
        if not row.get("institution"):
            errors.append(RowError(line, "institution", "institution is empty"))
        dataset = row.get("dataset", "")
        if not GUID_PATTERN.match(dataset):
            errors.append(RowError(line, "dataset", f"{dataset!r} is not a dataset GUID (<prefix>/<uuid>)"))
        elif known_datasets is not None and dataset not in known_datasets:
            errors.append(RowError(line, "dataset", f"unknown dataset {dataset}: not in the known-datasets list"))
        category = row.get("category", "").upper()
        if category not in {c.value for c in Category}:
            errors.append(RowError(line, "category", f"category must be A, B or C, got {category!r}"))
        enrolled_at = _moment(row.get("enrolled_on", ""), "enrolled_on", line, errors) or today
        case_ids = tuple(c.strip() for c in row.get("case_ids", "").split(";") if c.strip())
        for case_id in case_ids:
            first = seen_cases.setdefault((dataset, case_id), line)
            if first != line:
                errors.append(RowError(line, "case_ids", f"case {case_id} is also listed on line {first}"))
        if errors:
            parsed.errors.extend(errors)
            continue
        parsed.good.append(
            (line, EnrolmentInput(subject, dataset, row["institution"], Category(category), enrolled_at, case_ids))
        )
    conflicts = registry.enrolment_conflicts([e for _, e in parsed.good])
    for message in conflicts:
        index = int(message.split(":", 1)[0].removeprefix("row "))
        parsed.errors.append(RowError(parsed.good[index - 1][0], "*", message.split(": ", 1)[1]))
    bad = parsed.bad_lines()
    parsed.good = [(line, e) for line, e in parsed.good if line not in bad]
    return parsed


def parse_events(
    registry: ConsentRegistry,
    path: Path,
    kind: EventKind,
    date_column: str,
    evidence: str | None = None,
) -> Parsed[EventRequest]:
    """Columns: national_id (or local_id), institution, the date column, optional dataset scope."""
    columns, rows = read_csv(path)
    parsed: Parsed[EventRequest] = Parsed(rows=rows, columns=columns)
    parsed.errors.extend(_require(columns, ("institution", date_column)))
    if parsed.errors:
        return parsed
    candidates: list[tuple[int, EventRequest]] = []
    for line, row in rows.items():
        errors: list[RowError] = []
        try:
            subject = _subject(registry, row)
        except IdentifierError as exc:
            errors.append(RowError(line, "national_id", str(exc)))
            subject = ""
        when = _moment(row.get(date_column, ""), date_column, line, errors)
        if when is None and not errors:
            errors.append(RowError(line, date_column, "date is empty"))
        dataset = row.get("dataset") or None
        if errors:
            parsed.errors.extend(errors)
            continue
        candidates.append(
            (
                line,
                EventRequest(
                    subject=subject,
                    kind=kind,
                    scope_dataset=None if kind is EventKind.DECEASED else dataset,
                    effective_at=when,
                    channel=Channel.PAPER if kind is not EventKind.DECEASED else Channel.STEWARD,
                    actor="steward-import",
                    evidence=evidence or f"{path.name} line {line}",
                    institution=row.get("institution") or None,
                ),
            )
        )
    problems = registry.check_requests([r for _, r in candidates])
    for (line, request), problem in zip(candidates, problems, strict=True):
        if problem:
            column = "dataset" if "dataset" in problem else "national_id"
            parsed.errors.append(RowError(line, column, problem))
        else:
            parsed.good.append((line, request))
    return parsed


def write_rejects(parsed: Parsed[object], path: Path) -> Path:
    """Bad rows with their line and reasons; identifier columns are blanked, never copied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    reasons: dict[int, list[str]] = {}
    for error in parsed.errors:
        reasons.setdefault(error.line, []).append(f"{error.column}: {error.reason}")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "errors", *parsed.columns])
        for line in sorted(reasons):
            row = parsed.rows.get(line, {})
            values = ["" if c in ID_COLUMNS else row.get(c, "") for c in parsed.columns]
            writer.writerow([line, "; ".join(reasons[line]), *values])
    return path


def settle(parsed: Parsed[object], skip_invalid: bool, rejects: Path | None, source: Path) -> Path | None:
    """Refuse a file with bad rows, or (``skip_invalid``) write the rejects file and go on."""
    if not parsed.errors:
        return None
    if not skip_invalid:
        raise BulkValidationError(parsed.errors)
    return write_rejects(parsed, rejects or source.with_name(source.stem + ".rejects.csv"))


def import_events(
    registry: ConsentRegistry,
    path: Path,
    kind: EventKind,
    date_column: str,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    on_written: Callable[[list[tuple[int, EventRequest]]], None] | None = None,
) -> ImportResult:
    """Append one event per good row in a single transaction (all or nothing)."""
    parsed = parse_events(registry, path, kind, date_column)
    rejects_file = settle(parsed, skip_invalid, rejects, path)  # type: ignore[arg-type]
    if parsed.good:
        registry.append([r for _, r in parsed.good])
        if on_written:
            on_written(parsed.good)
    return ImportResult(len(parsed.good), len(parsed.bad_lines()), rejects_file)


def letter_merge(registry: ConsentRegistry, path: Path, out: Path, good: list[tuple[int, EventRequest]]) -> Path:
    """The mail-merge CSV for notices: every input column but the identifiers, plus a one-time access code."""
    columns, rows = read_csv(path)
    codes = registry.issue_access_codes([r.subject for _, r in good])
    kept = [c for c in columns if c not in ID_COLUMNS]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", *kept, "access_code"])
        for (line, _), code in zip(good, codes, strict=True):
            writer.writerow([line, *(rows[line].get(c, "") for c in kept), code])
    return out
