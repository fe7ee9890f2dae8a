"""Output checking: may this aggregate table leave the secure environment? (DOMAIN, "Output checking").

Pure functions over a table read from CSV: a header row of column labels, a first column of row
labels, counts in the cells; an empty cell is a suppressed one. Flags: counts at or under the
threshold; suppressed cells recoverable from row or column totals (differencing), also across two
tables of the same application; disguised suppression (a symbol, a range or a relabelled row or
column in place of a count); and tables that are row-level data rather than aggregates.

AI-SDC's ``acro`` was looked at first: it checks tables while it makes them from the microdata
(wrapping pandas' ``crosstab``), so it cannot judge a finished table brought to the door, and it
brings pandas, matplotlib and statsmodels; these rules follow its idea of a frequency threshold.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 5
TOTAL_LABELS = frozenset({"total", "totals", "all", "sum", "合計", "總計", "总计", "小計", "總和"})
# What people write in place of a count they hid: symbols, ranges, bounds, words.
_DISGUISE = re.compile(
    r"^\s*([*xX#†‡§~?.…\-–—]+|[<≤>≥]=?\s*\d+|\d+\s*[-–~]\s*\d+|n/?a|suppressed|masked|redacted|small|c|s)\s*$",
    re.IGNORECASE,
)
_RELABEL = re.compile(r"(<|≤|less than|fewer than|under)\s*=?\s*\d+|suppress|small (cells?|numbers?)|<\s*n", re.I)
_IDENTIFIER_COLUMN = re.compile(
    r"\b(id|case_?id|patient|subject|pseudonym|name|chart|mrn|birth|dob|national|身分證|病歷|姓名|生日)\b", re.I
)


@dataclass(frozen=True)
class Finding:
    kind: str  # small_cell | differencing | disguised | row_level | malformed
    where: str  # "row 'A', column 'B'" or "table"
    message: str
    cell: tuple[int, int] | None = None  # (row, column) when the finding is about one cell


@dataclass
class Table:
    name: str
    columns: list[str]  # count columns (the label column excluded)
    rows: list[str]
    cells: list[list[str]]  # raw text, rows x columns
    total_row: int | None = None
    total_column: int | None = None
    label_header: str = ""

    def value(self, r: int, c: int) -> int | None:
        """The count in a cell, or None when it is suppressed (empty) or not a number."""
        text = self.cells[r][c].strip().replace(",", "")
        return int(text) if re.fullmatch(r"\d+", text) else None


@dataclass
class Report:
    table: str
    threshold: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def flagged_cells(self) -> int:
        """How many distinct cells the findings name (a line or the whole table counts no cell)."""
        return len({f.cell for f in self.findings if f.cell is not None})

    def text(self) -> str:
        """The report the reviewer attaches to the decision."""
        lines = [f"output check of {self.table} (every count must be over {self.threshold})"]
        if self.ok:
            lines.append("no problem found: the table may be released")
        for f in self.findings:
            lines.append(f"- [{f.kind}] {f.where}: {f.message}")
        return "\n".join(lines)


class TableError(ValueError):
    """The file is not a table this checker can read; the message says what to fix."""


def read_table(text: str, name: str = "table.csv") -> Table:
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if len(rows) < 2 or len(rows[0]) < 2:
        raise TableError(
            f"{name}: expected a header row and at least one row of counts, with row labels in the first column"
        )
    header, body = rows[0], rows[1:]
    width = len(header)
    for i, row in enumerate(body, start=2):
        if len(row) != width:
            raise TableError(f"{name}, line {i}: {len(row)} cells where the header has {width}")
    table = Table(
        name=name,
        columns=[h.strip() for h in header[1:]],
        rows=[r[0].strip() for r in body],
        cells=[[c for c in r[1:]] for r in body],
        label_header=header[0].strip(),
    )
    table.total_row = next((i for i, r in enumerate(table.rows) if r.casefold() in TOTAL_LABELS), None)
    table.total_column = next((i for i, c in enumerate(table.columns) if c.casefold() in TOTAL_LABELS), None)
    return table


def _where(t: Table, r: int, c: int) -> str:
    return f"row '{t.rows[r]}', column '{t.columns[c]}'"


def row_level(t: Table) -> list[Finding]:
    """A table of individuals, not of counts: identifier columns, or text where counts should be."""
    found = []
    for label in [t.label_header, *t.columns]:
        if _IDENTIFIER_COLUMN.search(label):
            found.append(
                Finding("row_level", "table", f"column '{label}' looks like an identifier: only aggregates leave")
            )
    text_columns = [
        c
        for c in range(len(t.columns))
        if sum(1 for r in range(len(t.rows)) if t.cells[r][c].strip() and t.value(r, c) is None) > len(t.rows) / 2
    ]
    if text_columns:
        names = ", ".join(f"'{t.columns[c]}'" for c in text_columns)
        found.append(
            Finding("row_level", "table", f"columns {names} hold text, not counts: this looks like row-level data")
        )
    values = [v for r in range(len(t.rows)) for c in range(len(t.columns)) if (v := t.value(r, c)) is not None]
    if len(t.rows) >= 20 and values and set(values) <= {0, 1}:
        found.append(
            Finding("row_level", "table", "every cell is 0 or 1 over many rows: this looks like one row per person")
        )
    return found


def disguised(t: Table) -> list[Finding]:
    """A count replaced by a symbol or a range, or a row or column relabelled to hide small counts."""
    found = []
    for r in range(len(t.rows)):
        for c in range(len(t.columns)):
            text = t.cells[r][c].strip()
            if text and t.value(r, c) is None and _DISGUISE.match(text):
                found.append(
                    Finding(
                        "disguised",
                        _where(t, r, c),
                        f"'{text}' stands in for a count: disguising a suppressed cell is not allowed; leave "
                        "the cell empty and check the totals",
                        (r, c),
                    )
                )
    for kind, labels in (("row", t.rows), ("column", t.columns)):
        for label in labels:
            if _RELABEL.search(label):
                found.append(
                    Finding(
                        "disguised",
                        f"{kind} '{label}'",
                        "a label that gathers or hides small counts is disguised suppression; merge categories "
                        "so that every count is over the threshold instead",
                    )
                )
    return found


def small_cells(t: Table, threshold: int = DEFAULT_THRESHOLD) -> list[Finding]:
    """Every count from 1 to ``threshold`` (a zero describes nobody and is allowed)."""
    return [
        Finding(
            "small_cell",
            _where(t, r, c),
            f"{v} is at or under {threshold}: a released count must describe more than {threshold} units",
            (r, c),
        )
        for r in range(len(t.rows))
        for c in range(len(t.columns))
        if (v := t.value(r, c)) is not None and 0 < v <= threshold
    ]


def _line_problems(
    t: Table, cells: list[tuple[int, int]], total_at: tuple[int, int] | None, line: str, threshold: int
) -> list[Finding]:
    if total_at is None:
        return []
    total = t.value(*total_at)
    if total is None:
        return []
    hidden = [(r, c) for r, c in cells if not t.cells[r][c].strip()]
    known = [t.value(r, c) for r, c in cells if t.cells[r][c].strip()]
    if not hidden or any(v is None for v in known):
        return []
    rest = total - sum(v for v in known if v is not None)
    if len(hidden) == 1:
        return [
            Finding(
                "differencing",
                _where(t, *hidden[0]),
                f"the suppressed cell equals the {line} total minus the others ({rest}): suppress a second cell "
                "of the line too, or the total",
                hidden[0],
            )
        ]
    if 0 < rest <= threshold:
        return [
            Finding(
                "differencing",
                line,
                f"the {len(hidden)} suppressed cells add up to {rest} (total minus the others), itself at or under "
                f"{threshold}",
            )
        ]
    return []


def differencing(t: Table, threshold: int = DEFAULT_THRESHOLD) -> list[Finding]:
    """Suppressed (empty) cells that the row or column totals give back."""
    found: list[Finding] = []
    data_rows = [r for r in range(len(t.rows)) if r != t.total_row]
    data_cols = [c for c in range(len(t.columns)) if c != t.total_column]
    if t.total_column is not None:
        for r in range(len(t.rows)):
            found += _line_problems(
                t, [(r, c) for c in data_cols], (r, t.total_column), f"row '{t.rows[r]}'", threshold
            )
    if t.total_row is not None:
        for c in range(len(t.columns)):
            found += _line_problems(
                t, [(r, c) for r in data_rows], (t.total_row, c), f"column '{t.columns[c]}'", threshold
            )
    return found


def across(a: Table, b: Table, threshold: int = DEFAULT_THRESHOLD) -> list[Finding]:
    """Two tables of the same application over the same labels: a small difference between matching
    cells reveals the few units that are in one population and not in the other."""
    found = []
    for r, row in enumerate(a.rows):
        if row not in b.rows:
            continue
        rb = b.rows.index(row)
        for c, col in enumerate(a.columns):
            if col not in b.columns:
                continue
            va, vb = a.value(r, c), b.value(rb, b.columns.index(col))
            if va is not None and vb is not None and 0 < abs(va - vb) <= threshold:
                found.append(
                    Finding(
                        "differencing",
                        _where(a, r, c),
                        f"{a.name} has {va} and {b.name} has {vb}: their difference ({abs(va - vb)}) describes "
                        f"{threshold} or fewer units",
                        (r, c),
                    )
                )
    return found


def check(t: Table, threshold: int = DEFAULT_THRESHOLD, others: list[Table] | None = None) -> Report:
    report = Report(t.name, threshold)
    report.findings += row_level(t)
    report.findings += disguised(t)
    report.findings += small_cells(t, threshold)
    report.findings += differencing(t, threshold)
    for other in others or []:
        report.findings += across(t, other, threshold)
    return report
