"""Every route, asked by everyone: no route answers 2xx to a caller without the role it needs.

API routes declare their roles with a guard dependency (an object with ``.roles``); a route without one
must be a read that reveals nothing about a person. Pages are walked with a signed-in browser of each
role. A new route that forgets its guard fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from catalog.api.auth import accounts_of
from catalog.app import create_app
from catalog.context import Context
from schemas.accounts import Role
from tests.web.conftest import TOKEN, add_user, sign_in

STEWARDS = frozenset({Role.STEWARD, Role.ADMIN})
#: Routes that check their caller in their own body (the consent hot path skips FastAPI's dependencies).
CHECKED_IN_BODY = {("POST", "/api/consent/events"): STEWARDS}
#: POSTs that only read: CKAN clients (ckanapi) and OAI-PMH harvesters may POST their read-only requests.
READ_ONLY_POSTS = {("POST", "/api/action/{name}"), ("POST", "/api/3/action/{name}"), ("POST", "/oai")}
#: Page areas and the roles they need (an empty set: any signed-in user).
PAGE_AREAS: list[tuple[str, frozenset[Role] | None]] = [
    ("/steward", STEWARDS),
    ("/admin", frozenset({Role.ADMIN})),
    ("/account", frozenset()),
    ("/applications", frozenset({Role.RESEARCHER})),
    ("/review", frozenset({Role.REVIEWER, Role.CHAIR})),
]
#: Pages inside an area that need a narrower role than the area: members score, the chair decides.
PAGE_ROUTES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/review/{application_id}/scores"): frozenset({Role.REVIEWER}),
    ("POST", "/review/{application_id}/return"): frozenset({Role.CHAIR}),
    ("POST", "/review/{application_id}/decision"): frozenset({Role.CHAIR}),
}
CALLERS = ["anonymous", "revoked", *[r.value for r in Role], "bootstrap"]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    documented: bool
    roles: frozenset[Role] | None  # what its guard dependency asks for; None: it has none


def _operations(app: Any) -> list[Operation]:
    """Every (method, path) the app serves, with the roles its guard asks for."""
    found = []
    for rc in iter_route_contexts(app.routes):
        if not isinstance(rc.original_route, APIRoute):
            continue
        for method in (rc.methods or set()) - {"HEAD"}:
            found.append(Operation(method, rc.path_format or "", rc.include_in_schema, _guard_roles(rc.dependant)))
    return found


def _guard_roles(dependant: Any) -> frozenset[Role] | None:
    """The roles the route's guard dependency asks for, or None when it has none."""
    pending = list(dependant.dependencies if dependant is not None else [])
    while pending:
        dep = pending.pop()
        roles = getattr(dep.call, "roles", None)
        if roles is not None:
            return frozenset(roles)
        pending.extend(dep.dependencies)
    return None


_NUMBERED = re.compile(r"\{(\w+_id|number)\}")


def _fill(path: str) -> str:
    path = _NUMBERED.sub("1", path.replace("{change}", "disable"))
    path = re.sub(r"\{(guid|release_id)\}", "dg.TW01/00000000-0000-0000-0000-000000000000", path)
    return re.sub(r"\{[^}]+\}", "a" * 64, path)  # names, pseudonyms: well-formed values


@pytest.fixture
def callers(ctx: Context) -> Iterator[dict[str, dict[str, str]]]:
    """A bearer header per caller: each role's personal token, a revoked token, the bootstrap token."""
    service = accounts_of(ctx)
    headers: dict[str, dict[str, str]] = {"anonymous": {}, "bootstrap": {"Authorization": f"Bearer {TOKEN}"}}
    for role in Role:
        uid = add_user(ctx, f"{role.value}@walk.example.org", role.value)
        _, secret = service.create_token(uid, "walk")
        headers[role.value] = {"Authorization": f"Bearer {secret}"}
    uid = add_user(ctx, "revoked@walk.example.org", *[r.value for r in Role])
    info, secret = service.create_token(uid, "revoked")
    service.revoke_token(info.id)
    headers["revoked"] = {"Authorization": f"Bearer {secret}"}
    yield headers


def _roles_of(caller: str) -> frozenset[Role]:
    if caller == "bootstrap":
        return frozenset({Role.STEWARD})
    if caller in ("anonymous", "revoked"):
        return frozenset()
    return frozenset({Role(caller)})


def test_every_api_route_refuses_callers_without_its_role(
    client: TestClient, callers: dict[str, dict[str, str]]
) -> None:
    documented = {(m.upper(), p) for p, ops in client.get("/openapi.json").json()["paths"].items() for m in ops}
    operations = [op for op in _operations(client.app) if op.documented]
    assert len(operations) >= 30 and {(op.method, op.path) for op in operations} <= documented
    checked = 0
    for op in operations:
        key = (op.method, op.path)
        roles = op.roles if op.roles is not None else CHECKED_IN_BODY.get(key)
        if roles is None:
            assert op.method == "GET" or key in READ_ONLY_POSTS, f"{key} changes state without a role guard"
            assert not op.path.startswith("/api/consent"), f"{key} reveals a person without a guard"
            continue
        for caller in CALLERS:
            if (_roles_of(caller) & roles) if roles else caller not in ("anonymous", "revoked"):
                continue
            r = client.request(op.method, _fill(op.path), json={}, headers=callers[caller])
            assert r.status_code in (401, 403), (caller, key, r.status_code, r.text[:200])
            checked += 1
    assert checked >= 60


#: Pages that only redirect elsewhere (to a guarded page, or to the account sign-in).
REDIRECTS = {"/steward", "/steward/sign-in"}


def test_every_page_refuses_browsers_without_its_role(ctx: Context) -> None:
    app = create_app(ctx.settings, context=ctx)
    browsers: dict[str, TestClient] = {}
    for caller in ["anonymous", *[r.value for r in Role]]:
        c = TestClient(app)
        if caller != "anonymous":
            add_user(ctx, f"{caller}@pages.example.org", caller)
            assert sign_in(c, f"{caller}@pages.example.org").status_code == 303
        browsers[caller] = c
    pages = [(op.method, op.path) for op in _operations(app) if not op.documented and op.path not in REDIRECTS]
    guarded = [
        (m, p, PAGE_ROUTES.get((m, p), roles)) for m, p in pages for prefix, roles in PAGE_AREAS if p.startswith(prefix)
    ]
    assert len(guarded) >= 30
    walked = {p for _, p, _ in guarded}
    consent_pages = {
        "/steward/consent/upload",
        "/steward/consent/upload/{upload_id}",
        "/steward/consent/upload/{upload_id}/commit",
        "/steward/consent/upload/{upload_id}/letters",
        "/steward/consent/record",
        "/steward/consent/record/{event_id}",
        "/steward/consent/report",
        "/steward/consent/report.csv",
        "/steward/consent/verify",
    }
    assert consent_pages <= walked, consent_pages - walked
    assert {(m, p) for m, p, _ in guarded} >= set(PAGE_ROUTES)
    for method, path, roles in guarded:
        assert roles is not None
        for caller, c in browsers.items():
            has = _roles_of(caller) & roles if roles else caller != "anonymous"
            if has:
                continue
            r = c.request(method, _fill(path), follow_redirects=False)
            expected = 303 if caller == "anonymous" else 403
            assert r.status_code == expected, (caller, method, path, r.status_code)
            if caller == "anonymous":
                assert r.headers["location"].startswith("/sign-in?next=")
    for c in browsers.values():
        c.close()


def test_with_nothing_configured_every_guarded_api_route_is_off(tmp_path: Any) -> None:
    from tests.web.conftest import make_settings

    closed = make_settings(tmp_path, steward_token=None)
    with TestClient(create_app(closed)) as c:
        guarded = [op for op in _operations(c.app) if op.documented and op.roles is not None]
        assert len(guarded) >= 15
        for op in guarded:
            r = c.request(op.method, _fill(op.path), json={}, headers={"Authorization": "Bearer x"})
            assert r.status_code == 503, (op.method, op.path, r.status_code)
        r = c.post("/api/consent/events", json={}, headers={"Authorization": "Bearer x"})
        assert r.status_code == 503
