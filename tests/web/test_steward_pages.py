"""The steward's harvest pages: closed to anyone but a signed-in steward, forms guarded by CSRF, runs and
failed records shown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from catalog.context import Context
from tests.web.conftest import add_user, csrf_of, sign_in


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "descriptions"
    folder.mkdir()
    (folder / "good.csv").write_text("id,title_zh,title_en\nknee-mr,膝關節磁振造影,Knee MRI\n", encoding="utf-8")
    (folder / "broken.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    return folder


def _when_run_ended(client: TestClient, path: str) -> Any:
    deadline = time.monotonic() + 60  # a bound on waiting only; nothing is asserted about time
    while True:
        page = client.get(path)
        if 'id="run-progress"' not in page.text and 'data-run="' in page.text:
            return page
        assert 'http-equiv="refresh"' in page.text  # a running source's page follows the run by itself
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.1)


def test_a_steward_schedules_a_source_and_a_bad_schedule_is_refused_beside_its_field(
    steward_client: TestClient, tmp_path: Path
) -> None:
    client = steward_client
    csrf = csrf_of(client.get("/steward/harvest").text)
    client.post(
        "/steward/harvest/sources", data={"csrf": csrf, "kind": "local", "url": str(_folder(tmp_path)), "name": "s"}
    )
    bad = client.post("/steward/harvest/s/schedule?lang=en", data={"csrf": csrf, "schedule": "at teatime"})
    assert bad.status_code == 400 and 'id="e-schedule"' in bad.text and 'value="at teatime"' in bad.text
    ok = client.post(
        "/steward/harvest/s/schedule", data={"csrf": csrf, "schedule": "Daily 2:00"}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert 'value="daily 02:00"' in client.get("/steward/harvest/s").text


def test_pages_send_a_browser_without_a_session_to_sign_in_and_back(client: TestClient) -> None:
    r = client.get("/steward/harvest", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sign-in?next=%2Fsteward%2Fharvest"
    client.cookies.set("fairgate_session", "forged")
    assert client.get("/steward/harvest", follow_redirects=False).status_code == 303
    # The old token sign-in page now leads to the account sign-in.
    assert client.get("/steward/sign-in", follow_redirects=False).headers["location"].startswith("/sign-in")


def test_a_researcher_is_refused_the_steward_pages(client: TestClient, ctx: Context) -> None:
    add_user(ctx, "researcher@tmu.edu.tw", "researcher")
    assert sign_in(client, "researcher@tmu.edu.tw").status_code == 303
    r = client.get("/steward/harvest?lang=en")
    assert r.status_code == 403 and "Data steward" in r.text


def test_a_steward_adds_a_source_runs_it_and_sees_the_failed_record(steward_client: TestClient, tmp_path: Path) -> None:
    client = steward_client
    page = client.get("/steward/harvest")
    assert page.status_code == 200 and 'id="no-sources"' in page.text
    csrf = csrf_of(page.text)

    # A form without the session's CSRF token is refused even with a valid session.
    forged = client.post("/steward/harvest/sources", data={"kind": "local", "url": "/tmp", "name": "x"})
    assert forged.status_code == 403 and "重新載入頁面" in forged.text  # default interface language

    bad = client.post(
        "/steward/harvest/sources", data={"csrf": csrf, "kind": "local", "url": "/tmp", "name": "Bad Name"}
    )
    assert bad.status_code == 400 and "lower-case letters" in bad.text and 'value="Bad Name"' in bad.text

    folder = _folder(tmp_path)
    r = client.post(
        "/steward/harvest/sources",
        data={"csrf": csrf, "kind": "local", "url": str(folder), "name": "stewards"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/steward/harvest/stewards"

    r = client.post("/steward/harvest/stewards/runs", data={"csrf": csrf, "mode": "full"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/steward/harvest/stewards?started=1"
    # The run goes on outside the request; the page refreshes itself while it is running.
    source = _when_run_ended(client, r.headers["location"])
    assert 'data-run="' in source.text and "status-succeeded" in source.text
    assert "broken.yaml" in source.text  # the failed record, with its stage and reason
    overview = client.get("/steward/harvest")
    row = overview.text[overview.text.index('data-source="stewards"') :]
    assert '<td class="num">1</td>' in row  # one added, one failed

    assert client.get("/steward/harvest/nope").status_code == 404


def test_signing_out_ends_the_session_on_the_server(steward_client: TestClient) -> None:
    client = steward_client
    page = client.get("/steward/harvest")
    assert page.status_code == 200
    kept = dict(client.cookies)  # a copy of the cookie, as an attacker who stole it would keep it
    r = client.post("/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/steward/harvest", follow_redirects=False).status_code == 303
    client.cookies.clear()
    for name, value in kept.items():
        client.cookies.set(name, value)
    assert client.get("/steward/harvest", follow_redirects=False).status_code == 303


def test_a_scheduled_source_runs_in_a_served_app_without_anyone_pressing_a_button(tmp_path: Path) -> None:
    from catalog.api.harvest import harvest_service_of
    from catalog.context import open_context
    from tests.web.conftest import free_port, make_settings, start_server

    port = free_port()
    ctx = open_context(make_settings(tmp_path, host="127.0.0.1", port=port, harvest_scheduler_seconds=1))
    service = harvest_service_of(ctx)
    service.add_source("local", str(_folder(tmp_path)), name="nightly")
    service.set_schedule("nightly", "every 30 minutes")
    server, thread = start_server(ctx)
    try:
        deadline = time.monotonic() + 60  # a bound on waiting only
        while not [r for r in service.runs("nightly") if r.status != "running"]:
            assert time.monotonic() < deadline, "the scheduler never ran the source"
            time.sleep(0.2)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert [r.status for r in service.runs("nightly")] == ["succeeded"]


def test_a_steward_edits_a_sources_location_and_removes_it_after_typing_its_name(
    steward_client: TestClient, tmp_path: Path, ctx: Context
) -> None:
    from catalog.api.auth import audit_of

    client = steward_client
    csrf = csrf_of(client.get("/steward/harvest").text)
    client.post(
        "/steward/harvest/sources", data={"csrf": csrf, "kind": "local", "url": str(_folder(tmp_path)), "name": "s"}
    )
    other = tmp_path / "other"
    other.mkdir()
    bad = client.post("/steward/harvest/s/edit", data={"csrf": csrf, "url": str(tmp_path / "missing")})
    assert bad.status_code == 400 and 'id="e-url"' in bad.text
    ok = client.post("/steward/harvest/s/edit", data={"csrf": csrf, "url": str(other)}, follow_redirects=False)
    assert ok.status_code == 303 and str(other) in client.get("/steward/harvest/s").text
    assert client.post("/steward/harvest/s/remove", data={"csrf": csrf, "confirm": "x"}).status_code == 400
    gone = client.post("/steward/harvest/s/remove", data={"csrf": csrf, "confirm": "s"}, follow_redirects=False)
    assert gone.status_code == 303 and client.get("/steward/harvest/s").status_code == 404
    actions = repr(audit_of(ctx).entries())
    assert "harvest.source.edit" in actions and "harvest.source.remove" in actions
