"""``fairgate model add FILE.yaml`` (record AI models from YAML, as a steward would in the form) and
``fairgate model list``. Thin over :class:`catalog.models.store.ModelStore`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from catalog.commands.core import effective_settings, initialise
from catalog.models.samples import read_model_file
from catalog.models.store import UnknownDatasets, models_of


def add(
    file: Annotated[
        Path, typer.Argument(help="YAML: one model (a mapping) or a list of them, fields as in /api/models")
    ],
    reason: Annotated[str | None, typer.Option(help="why, kept in each entry's history")] = None,
) -> None:
    """Record the AI models of FILE (training datasets by GUID); prints each GUID."""
    ctx = initialise(effective_settings())
    try:
        entries = read_model_file(file, ctx.settings.guid_prefix)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        detail = exc.errors(include_input=False) if isinstance(exc, ValidationError) else None
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in detail or []) or str(exc)
        typer.echo(f"error: {file}: {problems}", err=True)
        raise typer.Exit(2) from None
    models = models_of(ctx)
    for _, model in entries:
        try:
            result = models.save(model, actor="cli", reason=reason)
        except UnknownDatasets as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{result.guid}\t{result.status}\t{model.name.get('en') or next(iter(model.name.values()))}")


def list_models(
    sharing_class: Annotated[
        str | None, typer.Option("--class", help="base_tool, application_model, validated_software")
    ] = None,
) -> None:
    """Every AI model: GUID, sharing class, version, name."""
    ctx = initialise(effective_settings())
    for s in models_of(ctx).search(sharing_class=sharing_class, limit=1000):
        typer.echo(f"{s.guid}\t{s.model.sharing_class}\t{s.model.version}\t{s.model.name.get('en', '')}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="AI-model entries (seed 004's sharing classes).", no_args_is_help=True)
    group.command("add")(add)
    group.command("list")(list_models)
    app.add_typer(group, name="model")
