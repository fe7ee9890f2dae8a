"""``fairgate user add`` through the real CLI (typer's runner): every role of the accounts, the chair too."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.cli import app


def test_user_add_accepts_the_chair_role_and_refuses_an_unknown_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FAIRGATE_DATABASE_URL", "FAIRGATE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAIRGATE_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["user", "add", "chair@x.tw", "--role", "chair", "--role", "reviewer", "--password-stdin"],
        input="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    assert "with roles chair, reviewer" in added.output
    listed = runner.invoke(app, ["user", "list"])
    assert "chair" in listed.output
    refused = runner.invoke(app, ["user", "add", "x@x.tw", "--role", "emperor", "--password-stdin"], input="p" * 12)
    assert refused.exit_code == 1 and "unknown role" in refused.output
