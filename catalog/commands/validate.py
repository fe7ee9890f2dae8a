"""``fairgate validate FILE``: check a DCAT file against the packaged SHACL shapes.

Exit code 0 when the file conforms, 1 when it has violations, 2 when it is not valid RDF
(the message names the line and column). Only reads the file; never touches the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harvesters.dcat_parse import RdfParseError, load_graph
from harvesters.quality import DEFAULT_PROFILES, PROFILES, validate_graph

_PROFILE_HELP = "shapes to check: " + ", ".join(PROFILES) + " (repeat the option; default: all)"


def validate_file(
    file: Annotated[Path, typer.Argument(help="DCAT file: Turtle, RDF/XML, JSON-LD or N-Triples")],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="turtle, xml, json-ld or nt (default: from the file)")
    ] = None,
    profile: Annotated[list[str] | None, typer.Option("--profile", "-p", help=_PROFILE_HELP)] = None,
) -> None:
    """Validate FILE against the DCAT-AP 3 and HealthDCAT-AP Release 8 shapes."""
    out = Console()
    err = Console(stderr=True)
    if not file.is_file():
        err.print(f"[red]error:[/red] {file} is not a file; give the path of a DCAT document.")
        raise typer.Exit(2)
    profiles = tuple(profile) if profile else DEFAULT_PROFILES
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown:
        err.print(f"[red]error:[/red] unknown profile {', '.join(unknown)}; use one of: {', '.join(PROFILES)}")
        raise typer.Exit(2)
    if fmt is None and file.suffix.lower() in (".ttl", ".rdf", ".xml", ".jsonld", ".json", ".nt", ".owl"):
        fmt = file.suffix
    try:
        graph = load_graph(file.read_bytes(), fmt)
    except RdfParseError as exc:
        err.print(f"[red]{file}: {exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(2) from exc
    except ValueError as exc:  # unknown --format
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    violations = validate_graph(graph, profiles)
    if not violations:
        out.print(f"[green]{file}: conforms[/green] to {', '.join(profiles)} ({len(graph)} triples)")
        return
    table = Table(title=f"{file}: {len(violations)} problem(s)", show_lines=False, expand=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("focus node", overflow="fold")
    table.add_column("path", overflow="fold")
    table.add_column("message", overflow="fold")
    for v in violations:
        colour = {"violation": "red", "warning": "yellow"}.get(v.severity, "cyan")
        table.add_row(f"[{colour}]{v.severity}[/{colour}]", v.focus, v.path or "", v.message)
    out.print(table)
    if any(v.severity == "violation" for v in violations):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_file)
