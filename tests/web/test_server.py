"""`fairgate run` end to end: a fresh folder, the sample catalog, and pages fetched over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from catalog.cli import app as cli
from tests.web.conftest import LiveServer, free_port


def test_the_served_home_page_lists_the_whole_sample_catalog(live_server: LiveServer) -> None:
    response = httpx.get(live_server.url + "/?lang=en")
    assert response.status_code == 200
    assert response.text.count('class="dataset-card"') == 25
    assert httpx.get(live_server.url + "/api/datasets").json()["total"] == 25


def test_a_served_dataset_page_and_its_guid_resolve_over_http(live_server: LiveServer) -> None:
    first = httpx.get(live_server.url + "/api/datasets?limit=1").json()["items"][0]
    page = httpx.get(live_server.url + first["links"]["page"], headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert first["dataset"]["title"]["en"] in page.text
    turtle = httpx.get(live_server.url + first["links"]["resolver"], headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200
    # IRIs follow the address actually served when no public base URL is configured.
    assert f"<{live_server.url}/guid/{first['guid']}>" in turtle.text


def test_static_css_is_served_without_any_external_host(live_server: LiveServer) -> None:
    css = httpx.get(live_server.url + "/static/fairgate.css")
    assert css.status_code == 200
    home = httpx.get(live_server.url + "/").text
    assert "http://" not in home.split("<body")[0].replace(live_server.url, "")
    assert "https://" not in home.split("<body")[0]


def _clean_env(tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRGATE_")}
    env["FAIRGATE_PORT"] = str(port)
    return env


def test_the_fairgate_run_command_initialises_var_in_the_current_directory_and_serves(tmp_path: Path) -> None:
    port = free_port()
    fairgate = Path(sys.executable).parent / "fairgate"
    command = [str(fairgate)] if fairgate.exists() else [sys.executable, "-c", "from catalog.cli import app; app()"]
    proc = subprocess.Popen(
        [*command, "run"],
        cwd=tmp_path,
        env=_clean_env(tmp_path, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # startup wait only
        response = None
        while response is None:
            if proc.poll() is not None:
                pytest.fail(f"fairgate run exited early:\n{proc.stdout.read() if proc.stdout else ''}")
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/datasets?limit=1")
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("fairgate run did not start listening")
                time.sleep(0.1)
        assert response.json()["total"] == 25
        assert (tmp_path / "var" / "catalog.db").is_file()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_init_then_load_sample_twice_creates_25_datasets_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("FAIRGATE_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()
    init = runner.invoke(cli, ["init"])
    assert init.exit_code == 0, init.output
    assert (tmp_path / "var" / "catalog.db").is_file()
    first = runner.invoke(cli, ["load-sample"])
    assert first.exit_code == 0, first.output
    assert "25 created" in first.output
    again = runner.invoke(cli, ["load-sample"])
    assert "25 unchanged" in again.output
