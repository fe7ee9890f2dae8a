"""The harvest API (steward token on state-changing routes) and the ``fairgate harvest`` commands."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from catalog.app import create_app
from catalog.cli import app as cli
from catalog.settings import Settings
from tests.harvest.servers import CkanServer, serve

FAST = {"attempts": "2", "backoff": "0.01", "rows": "25"}


def _client(tmp_path: Path, token: str | None) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path, steward_token=token)))


def test_adding_a_source_without_a_configured_token_is_refused_with_503(tmp_path: Path) -> None:
    client = _client(tmp_path, None)
    r = client.post("/api/harvest/sources", json={"kind": "ckan", "url": "http://x", "name": "x"})
    assert r.status_code == 503
    assert "FAIRGATE_STEWARD_TOKEN" in r.text


def test_adding_a_source_with_a_wrong_token_is_refused_with_401(tmp_path: Path) -> None:
    client = _client(tmp_path, "right")
    r = client.post(
        "/api/harvest/sources",
        json={"kind": "ckan", "url": "http://x", "name": "x"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert r.status_code == 401


def test_steward_registers_and_runs_a_source_then_reads_runs_and_errors(
    tmp_path: Path, depositar: list[dict[str, Any]]
) -> None:
    packages = copy.deepcopy(depositar[:20])
    packages[4]["title"] = ""
    client = _client(tmp_path, "s3cret")
    auth = {"Authorization": "Bearer s3cret"}
    with serve(CkanServer(packages)) as url:
        r = client.post(
            "/api/harvest/sources",
            json={"kind": "ckan", "url": url, "name": "dep", "options": {**FAST, "api_key": "k"}},
            headers=auth,
        )
        assert r.status_code == 201, r.text
        assert r.json()["options"]["api_key"] == "***"
        run = client.post("/api/harvest/sources/dep/runs", json={"full": True}, headers=auth).json()
    assert (run["status"], run["added"], run["failed"]) == ("succeeded", 19, 1)
    runs = client.get("/api/harvest/sources/dep/runs").json()["items"]
    assert [r["run_id"] for r in runs] == [run["run_id"]]
    errors = client.get(f"/api/harvest/runs/{run['run_id']}/errors").json()["items"]
    assert errors[0]["upstream_id"] == packages[4]["id"] and errors[0]["stage"] == "validate"
    assert client.get("/api/harvest/sources").json()["items"][0]["name"] == "dep"
    assert client.get("/api/harvest/sources/nope/runs").status_code == 404


def test_cli_adds_runs_and_lists_errors_with_a_summary(
    tmp_path: Path, depositar: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIRGATE_DATA_DIR", str(tmp_path))
    packages = copy.deepcopy(depositar[:10])
    del packages[2]["title"]
    runner = CliRunner()
    with serve(CkanServer(packages)) as url:
        opts = [arg for k, v in FAST.items() for arg in ("-o", f"{k}={v}")]
        added = runner.invoke(cli, ["harvest", "add", "ckan", url, "--name", "dep", *opts])
        assert added.exit_code == 0, added.output
        ran = runner.invoke(cli, ["harvest", "run", "dep"])
        assert ran.exit_code == 0, ran.output
        assert "added 9 / updated 0 / unchanged 0 / withdrawn 0 / failed 1" in ran.output
        again = runner.invoke(cli, ["harvest", "run", "--all"])
        assert "added 0 / updated 0 / unchanged 9 / withdrawn 0 / failed 1" in again.output
    errors = runner.invoke(cli, ["harvest", "errors", "dep"])
    assert packages[2]["id"][:20] in errors.output and "validate" in errors.output
    listed = runner.invoke(cli, ["harvest", "list"])
    assert "dep" in listed.output and "succeeded" in listed.output
