"""``fairgate outputs check TABLE.csv``: may this aggregate table leave the secure environment?

Prints the report the reviewer attaches to the decision (rules in ``access.output_check``). Exit code
0 when nothing is flagged, 1 when something is, 2 when the file cannot be read. Only reads files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from access.output_check import DEFAULT_THRESHOLD, TableError, check, read_table


def _read(path: Path) -> str:
    if not path.is_file():
        typer.echo(f"error: {path} is not a file; give the path of a CSV table", err=True)
        raise typer.Exit(2)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        typer.echo(f"error: {path} is not UTF-8 text; save the table as CSV (UTF-8)", err=True)
        raise typer.Exit(2) from None


def check_table(
    table: Annotated[Path, typer.Argument(help="the aggregate table, CSV: header row, row labels in column 1")],
    threshold: Annotated[int, typer.Option(help="a count must be over this many units", min=1)] = DEFAULT_THRESHOLD,
    against: Annotated[
        list[Path] | None, typer.Option(help="another table of the same application (repeat for more)")
    ] = None,
) -> None:
    """Check TABLE: small cells, differencing from totals and across tables, disguised suppression,
    row-level data."""
    try:
        main = read_table(_read(table), table.name)
        others = [read_table(_read(p), p.name) for p in against or []]
    except TableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = check(main, threshold, others)
    typer.echo(report.text())
    raise typer.Exit(0 if report.ok else 1)


def register(app: typer.Typer) -> None:
    outputs = typer.Typer(help="Check research outputs before they leave the secure environment.")
    outputs.command("check")(check_table)
    app.add_typer(outputs, name="outputs")
