"""The ``fairgate`` command line: a thin composition of the command modules."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="fairgate",
    help="fairgate: a FAIR catalog of health datasets joined to a dynamic-consent registry.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals could hold personal data
)

# Each module has ``register(app: typer.Typer) -> None``.
_COMMAND_MODULES = [
    "catalog.commands.core",
    "catalog.commands.harvest",
    "catalog.commands.validate",
    "catalog.commands.search",
    "catalog.commands.consent",
    "catalog.commands.backup",
    "catalog.commands.users",
    "catalog.commands.outputs",
    "catalog.commands.models",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()
