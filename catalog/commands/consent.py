"""``fairgate consent …`` and ``fairgate release …``: the registry's own commands, with our settings."""

from __future__ import annotations

import typer

from catalog.settings import Settings
from consent import cli as consent_cli


def register(app: typer.Typer) -> None:
    # A fresh Settings per command: the CLI reads the environment when the command runs.
    consent_cli.settings_factory = Settings
    app.add_typer(consent_cli.consent_app, name="consent")
    app.add_typer(consent_cli.release_app, name="release")
