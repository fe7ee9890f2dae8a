"""The app mounts the consent registry with the deployment's own settings, behind the steward token."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from catalog.app import create_app
from catalog.cli import app as cli
from catalog.settings import Settings


def _settings(tmp_path: Path, token: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "var", steward_token=token)


def test_consent_routes_are_off_without_a_steward_token(tmp_path: Path) -> None:
    client = TestClient(create_app(_settings(tmp_path, None)))
    response = client.get("/api/consent/report")
    assert response.status_code == 503
    assert "FAIRGATE_STEWARD_TOKEN" in response.text


def test_consent_routes_refuse_a_wrong_token(tmp_path: Path) -> None:
    client = TestClient(create_app(_settings(tmp_path, "s3cret")))
    assert client.get("/api/consent/report", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_consent_registry_uses_its_own_database_in_the_deployment_folder(tmp_path: Path) -> None:
    client = TestClient(create_app(_settings(tmp_path, "s3cret")))
    response = client.get("/api/consent/report", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    assert (tmp_path / "var" / "consent.db").exists()
    assert (tmp_path / "var" / "catalog.db").exists()


def test_cli_offers_consent_and_release_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("consent", "release", "harvest", "search", "validate", "run"):
        assert command in result.output
