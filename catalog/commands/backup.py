"""``fairgate backup DIR`` and ``fairgate restore DIR``: thin wrappers over :mod:`catalog.backup`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from catalog.backup import KEYS_NOTE, BackupError, backup, holds_data, read_manifest, restore_database
from catalog.commands.core import effective_settings
from catalog.settings import Settings

console = Console(stderr=True)


def _urls(settings: Settings) -> dict[str, str]:
    return {"catalog": settings.resolved_database_url(), "consent": settings.resolved_consent_database_url()}


def backup_command(
    folder: Annotated[Path, typer.Argument(help="a new (or empty) folder for this backup")],
) -> None:
    """Copy the catalog and consent databases while they serve (SQLite backup API or pg_dump); no keys."""
    settings = effective_settings()
    try:
        with console.status("backing up"):
            copied = backup(_urls(settings), folder)
    except BackupError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    for c in copied:
        console.print(f"{c.role}: {folder / c.file} ({c.kind}, {c.bytes:,} bytes)", highlight=False)
    console.print(f"[yellow]note:[/yellow] {KEYS_NOTE}:", highlight=False)
    console.print(f"  {settings.resolved_pseudonym_key_file()}\n  {settings.resolved_checkpoint_key_file()}")


def restore_command(
    folder: Annotated[Path, typer.Argument(help="a folder made by `fairgate backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="overwrite databases that already hold data (stop the server first)")
    ] = False,
) -> None:
    """Put a backup in place of the configured databases, then verify the consent ledger."""
    from consent.checkpoints import Signer
    from consent.database import make_engine
    from consent.pseudonyms import Pseudonymiser, load_or_create_key
    from consent.registry import ConsentRegistry, policy_from_settings

    settings = effective_settings()
    urls = _urls(settings)
    try:
        copied = read_manifest(folder)
        live = [c.role for c in copied if holds_data(urls[c.role])]
        if live and not force:
            console.print(
                f"[red]error:[/red] the {' and '.join(live)} database already holds data "
                f"({', '.join(urls[r] for r in live)}); restoring would replace it. Restore into a new "
                "FAIRGATE_DATA_DIR or database, or stop the server and give --force",
                highlight=False,
            )
            raise typer.Exit(1)
        for c in copied:
            with console.status(f"restoring the {c.role} database"):
                restore_database(c, folder, urls[c.role])
            console.print(f"{c.role}: restored into {urls[c.role]}", highlight=False)
    except BackupError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    # Verify without creating keys: a key made now would not be the one the ledger was written with.
    pseudonym_key = settings.resolved_pseudonym_key_file()
    signing_key = settings.resolved_checkpoint_key_file()
    missing = [p for p in (pseudonym_key, signing_key) if not p.exists()]
    registry = ConsentRegistry(
        make_engine(urls["consent"]),
        Pseudonymiser(load_or_create_key(pseudonym_key) if pseudonym_key.exists() else bytes(32)),
        policy_from_settings(settings),
        Signer.from_key_file(signing_key) if signing_key.exists() else None,
    )
    try:
        result = registry.verify()
    finally:
        registry.engine.dispose()
    if missing:
        console.print(
            "[yellow]note:[/yellow] restore these keys from their own backup before serving: "
            + ", ".join(str(p) for p in missing),
            highlight=False,
        )
    if not result.ok:
        problems = ([result.first_break.describe()] if result.first_break else []) + result.checkpoint_problems
        for problem in problems:
            console.print(f"[red]verify:[/red] {problem}", highlight=False)
        raise typer.Exit(1)
    console.print(
        f"verify: ok ({result.events_checked:,} events in {result.chains:,} chains, {result.checkpoints} checkpoints)"
    )


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
