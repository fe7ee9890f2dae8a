"""The steward's harvest pages: closed without a token, sign-in, forms guarded, runs and failed records shown."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from catalog.app import create_app
from tests.web.conftest import TOKEN, make_settings


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "descriptions"
    folder.mkdir()
    (folder / "good.csv").write_text("id,title_zh,title_en\nknee-mr,膝關節磁振造影,Knee MRI\n", encoding="utf-8")
    (folder / "broken.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    return folder


def _csrf(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _signed_in(client: TestClient) -> None:
    r = client.post("/steward/sign-in", data={"token": TOKEN, "next": "/steward/harvest"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/steward/harvest"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/steward" in cookie
    assert TOKEN not in cookie  # the cookie is derived from the token, never the token


def test_with_no_token_configured_the_steward_pages_are_off(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, steward_token=None))) as client:
        for path in ("/steward/harvest", "/steward/sign-in"):
            r = client.get(path, headers={"accept": "text/html"})
            assert r.status_code == 503 and "FAIRGATE_STEWARD_TOKEN" in r.text
        r = client.post("/steward/sign-in", data={"token": ""})
        assert r.status_code == 503


def test_pages_need_a_session_and_a_wrong_token_is_refused(client: TestClient) -> None:
    r = client.get("/steward/harvest", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/steward/sign-in?next=/steward/harvest"
    r = client.post("/steward/sign-in", data={"token": "wrong", "next": "/steward/harvest"}, follow_redirects=False)
    assert r.status_code == 401 and "FAIRGATE_STEWARD_TOKEN" in r.text and "set-cookie" not in r.headers
    client.cookies.set("fairgate_steward", "forged", path="/steward")
    assert client.get("/steward/harvest", follow_redirects=False).status_code == 303


def test_sign_in_never_redirects_off_site(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/steward/", "/"):
        r = client.post("/steward/sign-in", data={"token": TOKEN, "next": target}, follow_redirects=False)
        assert r.headers["location"] == "/steward/harvest"


def test_a_steward_adds_a_source_runs_it_and_sees_the_failed_record(client: TestClient, tmp_path: Path) -> None:
    _signed_in(client)
    page = client.get("/steward/harvest")
    assert page.status_code == 200 and 'id="no-sources"' in page.text
    csrf = _csrf(page.text)

    # A form without the page's hidden value is refused even with a valid session.
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
    assert r.status_code == 303
    run_id = int(r.headers["location"].rsplit("=", 1)[1])
    source = client.get(r.headers["location"])
    assert source.status_code == 200
    assert f'data-run="{run_id}"' in source.text
    assert "broken.yaml" in source.text  # the failed record, with its stage and reason
    overview = client.get("/steward/harvest")
    row = overview.text[overview.text.index('data-source="stewards"') :]
    assert '<td class="num">1</td>' in row  # one added, one failed

    assert client.get("/steward/harvest/nope").status_code == 404


def test_signing_out_ends_the_session(client: TestClient) -> None:
    _signed_in(client)
    assert client.get("/steward/harvest").status_code == 200
    r = client.post("/steward/sign-out", follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()  # what the browser does with the expired cookie it was sent
    assert 'fairgate_steward=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    assert client.get("/steward/harvest", follow_redirects=False).status_code == 303
