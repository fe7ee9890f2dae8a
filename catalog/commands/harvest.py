"""``fairgate harvest add|list|run|errors|duplicates``: register sources and run them with a progress bar."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from catalog.harvest import HarvestService, RunSummary, SourceBusy
from catalog.harvest.service import summarise
from catalog.store import StoreError

console = Console()
err = Console(stderr=True)


def _service() -> HarvestService:
    from catalog.commands.core import effective_settings
    from catalog.context import open_context

    return HarvestService(open_context(effective_settings()).store)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _print_summary(run: RunSummary) -> None:
    colour = {"succeeded": "green", "failed": "red", "skipped": "yellow"}.get(run.status, "white")
    console.print(
        f"[bold]{run.source}[/bold] ({run.mode}) [{colour}]{run.status}[/{colour}]: "
        f"added {run.added} / updated {run.updated} / unchanged {run.unchanged} / "
        f"withdrawn {run.withdrawn} / failed {run.failed}"
    )
    if run.reason:
        console.print(f"  {run.reason}")
    if run.failed:
        console.print(f"  see the failed records with: fairgate harvest errors {run.source}")


def register(app: typer.Typer) -> None:
    harvest = typer.Typer(help="Harvest dataset descriptions from other catalogs.", no_args_is_help=True)
    app.add_typer(harvest, name="harvest")

    @harvest.command("add")
    def add(
        kind: Annotated[str, typer.Argument(help="ckan, dcat, datajson, oaipmh or local")],
        url: Annotated[str, typer.Argument(help="the source's URL (a folder for local)")],
        name: Annotated[str, typer.Option("--name", help="short name, e.g. depositar")],
        option: Annotated[
            list[str] | None, typer.Option("--option", "-o", help="KEY=VALUE, e.g. api_key=… or rows=200")
        ] = None,
    ) -> None:
        """Register a source."""
        options: dict[str, str] = {}
        for item in option or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                _fail(f"option {item!r} is not KEY=VALUE")
            options[key.strip()] = value.strip()
        try:
            info = _service().add_source(kind, url, name=name, options=options)
        except StoreError as exc:
            _fail(str(exc))
            return
        console.print(f"added source [bold]{info.name}[/bold] ({info.kind}) GUID {info.guid}")
        console.print(f"run it with: fairgate harvest run {info.name}")

    @harvest.command("list")
    def list_sources(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
        """List registered sources and their last run."""
        sources = _service().sources()
        if as_json:
            console.print_json(json.dumps([s.as_dict() for s in sources], ensure_ascii=False))
            return
        table = Table("name", "kind", "url", "last run", "added/updated/unchanged/withdrawn/failed")
        for s in sources:
            r = s.last_run
            status = "running" if s.running else (f"{r.status} {r.started_at:%Y-%m-%d %H:%M}" if r else "never")
            counts = f"{r.added}/{r.updated}/{r.unchanged}/{r.withdrawn}/{r.failed}" if r else ""
            table.add_row(s.name, s.kind, s.url, status, counts)
        console.print(table)

    @harvest.command("run")
    def run(
        name: Annotated[str | None, typer.Argument(help="source to run")] = None,
        run_all: Annotated[bool, typer.Option("--all", help="run every source; skip those still running")] = False,
        incremental: Annotated[
            bool, typer.Option("--incremental", help="only changes since the last good run; never withdraws")
        ] = False,
        force: Annotated[bool, typer.Option("--force", help="re-map unchanged payloads (after a mapping fix)")] = False,
    ) -> None:
        """Run one source (or --all); prints added / updated / unchanged / withdrawn / failed."""
        if bool(name) == run_all:
            _fail("name one source, or use --all")
        service = _service()
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        ) as bar:

            def progress_for(source: str) -> Callable[[int, int | None], None]:
                task = bar.add_task(source, total=None)

                def tick(done: int, total: int | None) -> None:
                    bar.update(task, completed=done, total=total)

                return tick

            try:
                if run_all:
                    runs = service.run_all(full=not incremental, progress=progress_for)
                else:
                    assert name is not None
                    runs = [service.run(name, full=not incremental, force=force, progress=progress_for(name))]
            except (SourceBusy, StoreError) as exc:
                _fail(str(exc))
                return
        for r in runs:
            _print_summary(r)
        if len(runs) > 1:
            t = summarise(runs)
            console.print(
                f"all: added {t['added']} / updated {t['updated']} / unchanged {t['unchanged']} / "
                f"withdrawn {t['withdrawn']} / failed {t['failed']}"
            )
        if any(r.status == "failed" for r in runs):
            raise typer.Exit(2)

    @harvest.command("errors")
    def errors(
        name: Annotated[str, typer.Argument(help="source whose latest run to show")],
        run_id: Annotated[int | None, typer.Option("--run", help="a specific run id")] = None,
    ) -> None:
        """Each failed record of the latest run: upstream id, stage, reason."""
        try:
            service = _service()
            items = service.errors(run_id=run_id) if run_id is not None else service.errors(name=name)
        except StoreError as exc:
            _fail(str(exc))
            return
        if not items:
            console.print("no failed records")
            return
        table = Table("upstream id", "stage", "reason")
        for e in items:
            table.add_row(e.upstream_id, e.stage, e.reason)
        console.print(table)

    @harvest.command("duplicates")
    def duplicates(guid: Annotated[str | None, typer.Argument(help="one record's GUID")] = None) -> None:
        """Records of different sources that describe the same dataset (linked, not merged)."""
        table = Table("GUID", "same as", "by", "value")
        for d in _service().duplicates(guid):
            table.add_row(d.guid, d.other_guid, d.basis, d.value)
        console.print(table)
