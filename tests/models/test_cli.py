"""``fairgate model add FILE.yaml`` and ``fairgate model list`` on a deployment in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalog.cli import app
from catalog.commands.core import effective_settings, initialise
from tests.models.conftest import a_dataset, model_json


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FAIRGATE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FAIRGATE_DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'catalog.db'}")
    monkeypatch.delenv("FAIRGATE_BASE_URL", raising=False)
    return a_dataset(initialise(effective_settings()).store)


def test_models_are_added_from_yaml_and_listed(tmp_path: Path, deployment: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        yaml.safe_dump([model_json(training=[deployment]), model_json("application_model")], allow_unicode=True)
    )
    runner = CliRunner()
    added = runner.invoke(app, ["model", "add", str(path), "--reason", "from the programme's list"])
    assert added.exit_code == 0, added.output
    assert added.output.count("\tcreated\t") == 2
    listed = runner.invoke(app, ["model", "list", "--class", "application_model"])
    assert listed.exit_code == 0 and listed.output.count("\n") == 1 and "application_model" in listed.output


def test_an_unknown_dataset_or_a_bad_file_fails_with_a_message(tmp_path: Path, deployment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(model_json(training=["dg.TW01/00000000-0000-4000-8000-000000000000"])))
    result = CliRunner().invoke(app, ["model", "add", str(path)])
    assert result.exit_code == 1 and "no dataset in this catalog" in result.output
    path.write_text(yaml.safe_dump(model_json(name={"en": "only"})))
    result = CliRunner().invoke(app, ["model", "add", str(path)])
    assert result.exit_code == 2 and "name" in result.output
