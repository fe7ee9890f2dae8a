"""Account pages over HTTP: sign-in and its cookie, CSRF, registration, personal tokens, admin pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from catalog.api.auth import audit_of
from catalog.context import Context
from tests.web.conftest import PASSWORD, add_user, csrf_of, minimal_dataset, sign_in


def test_sign_in_sets_a_signed_httponly_lax_cookie_and_returns_to_the_page(client: TestClient, ctx: Context) -> None:
    add_user(ctx, "ada@ntu.edu.tw", "steward")
    r = sign_in(client, "ada@ntu.edu.tw", next="/steward/harvest")
    assert r.status_code == 303 and r.headers["location"] == "/steward/harvest"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("fairgate_session=") and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert PASSWORD not in cookie
    assert client.get("/steward/harvest").status_code == 200


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(client: TestClient, ctx: Context) -> None:
    add_user(ctx, "ada@ntu.edu.tw", "steward")
    known = sign_in(client, "ada@ntu.edu.tw", password="wrong password!")
    unknown = sign_in(client, "nobody@ntu.edu.tw", password="wrong password!")
    assert known.status_code == unknown.status_code == 401
    assert known.text.replace("ada@ntu.edu.tw", "X") == unknown.text.replace("nobody@ntu.edu.tw", "X").replace(
        csrf_of(unknown.text), csrf_of(known.text)
    )


def test_repeated_failures_lock_sign_in_with_one_message_for_any_account(client: TestClient, ctx: Context) -> None:
    add_user(ctx, "ada@ntu.edu.tw", "steward")
    for email in ("ada@ntu.edu.tw", "nobody@ntu.edu.tw"):
        for _ in range(5):
            assert sign_in(client, email, password="wrong password!").status_code == 401
        locked = sign_in(client, email)  # even the right password now waits
        assert locked.status_code == 429 and "15" in locked.text
    assert [e.action for e in audit_of(ctx).entries(action="sign_in.locked")] == ["sign_in.locked"] * 2


def test_a_sign_in_form_from_elsewhere_is_refused(client: TestClient, ctx: Context) -> None:
    add_user(ctx, "ada@ntu.edu.tw", "steward")
    r = client.post("/sign-in", data={"email": "ada@ntu.edu.tw", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in {
        k.lower() for k in r.headers if "fairgate_session" in r.headers[k]
    }


def test_sign_in_never_redirects_off_site(client: TestClient, ctx: Context) -> None:
    add_user(ctx, "ada@ntu.edu.tw", "steward")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client.cookies.clear()
        assert sign_in(client, "ada@ntu.edu.tw", next=target).headers["location"] == "/account"


def test_a_researcher_registers_and_lands_signed_in_as_researcher(client: TestClient) -> None:
    form = client.get("/register")
    data = {
        "csrf": csrf_of(form.text),
        "email": "new@tmu.edu.tw",
        "display_name": "New Researcher",
        "institution": "TMU",
        "password": PASSWORD,
        "password_again": "something else",
    }
    bad = client.post("/register?lang=en", data=data)
    assert bad.status_code == 400 and "two passwords differ" in bad.text and 'value="new@tmu.edu.tw"' in bad.text
    assert 'aria-invalid="true"' in bad.text
    ok = client.post("/register", data={**data, "password_again": PASSWORD}, follow_redirects=False)
    assert ok.status_code == 303
    page = client.get("/account?lang=en")
    assert "new@tmu.edu.tw" in page.text and "Researcher" in page.text
    assert client.get("/steward/harvest").status_code == 403


def test_registration_can_be_switched_off(tmp_path: object) -> None:
    from pathlib import Path

    from catalog.app import create_app
    from tests.web.conftest import make_settings

    with TestClient(create_app(make_settings(Path(str(tmp_path)), allow_registration=False))) as c:
        assert c.get("/register").status_code == 403


def test_a_personal_token_made_on_the_account_page_acts_as_its_user_until_revoked(
    client: TestClient, ctx: Context
) -> None:
    add_user(ctx, "ada@ntu.edu.tw", "steward")
    sign_in(client, "ada@ntu.edu.tw")
    page = client.get("/account")
    made = client.post("/account/tokens", data={"csrf": csrf_of(page.text), "name": "script", "days": "30"})
    assert made.status_code == 201
    secret = made.text.split('<code class="secret">', 1)[1].split("<", 1)[0]
    assert secret.startswith("fgt_")
    assert secret not in client.get("/account").text  # shown once
    bearer = {"Authorization": f"Bearer {secret}"}
    created = client.post("/api/datasets", json=minimal_dataset("Token CT"), headers=bearer)
    assert created.status_code == 201
    guid = created.json()["guid"]
    revisions = client.get(f"/api/datasets/{guid}/revisions").json()["revisions"]
    assert revisions[0]["actor"].startswith("token:")
    assert client.get("/api/consent/report", headers=bearer).status_code == 200
    token_id = revisions[0]["actor"].split(":")[1]
    page = client.get("/account")
    client.post(f"/account/tokens/{token_id}/revoke", data={"csrf": csrf_of(page.text)})
    assert client.post("/api/datasets", json=minimal_dataset("Again"), headers=bearer).status_code == 401
    assert client.get("/api/consent/report", headers=bearer).status_code == 401
    actions = [e.action for e in audit_of(ctx).entries()]
    assert {"sign_in", "token.create", "dataset.create", "token.revoke"} <= set(actions)


def test_a_researcher_token_cannot_edit_or_read_people(client: TestClient, ctx: Context) -> None:
    from catalog.api.auth import accounts_of

    uid = add_user(ctx, "r@tmu.edu.tw", "researcher")
    _, secret = accounts_of(ctx).create_token(uid, "mine")
    bearer = {"Authorization": f"Bearer {secret}"}
    r = client.post("/api/datasets", json=minimal_dataset(), headers=bearer)
    assert r.status_code == 403 and "steward" in r.json()["error"]["message"]
    assert client.get("/api/consent/report", headers=bearer).status_code == 403


def test_an_admin_adds_a_user_grants_a_role_disables_and_reads_the_audit_log(client: TestClient, ctx: Context) -> None:
    add_user(ctx, "admin@moh.gov.tw", "admin")
    sign_in(client, "admin@moh.gov.tw")
    page = client.get("/admin/users?lang=en")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    missing = client.post("/admin/users?lang=en", data={"csrf": csrf, "email": "", "display_name": ""})
    assert missing.status_code == 400 and "Fill in this field" in missing.text
    added = client.post(
        "/admin/users?lang=en",
        data={
            "csrf": csrf,
            "email": "rev@ntu.edu.tw",
            "display_name": "Rev",
            "password": PASSWORD,
            "roles": "reviewer",
        },
    )
    assert added.status_code == 201 and "rev@ntu.edu.tw" in added.text
    from catalog.api.auth import accounts_of

    rev = accounts_of(ctx).by_email("rev@ntu.edu.tw")
    assert rev is not None
    client.post(f"/admin/users/{rev.id}/roles", data={"csrf": csrf, "roles": ["reviewer", "steward"]})
    rev = accounts_of(ctx).by_email("rev@ntu.edu.tw")
    assert rev is not None and {r.value for r in rev.roles} == {"reviewer", "steward"}
    client.post(f"/admin/users/{rev.id}/disable", data={"csrf": csrf})
    other = TestClient(client.app)
    assert sign_in(other, "rev@ntu.edu.tw").status_code == 401
    log = client.get("/admin/audit?lang=en&action=user.")
    assert log.status_code == 200
    for action in ("user.add", "user.roles", "user.disable"):
        assert action in log.text
    assert client.get("/admin/audit?subject=not-hex").status_code == 400
