"""Every state-changing route needs the steward token: off (503) without one, 401 for a wrong one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from catalog.app import create_app
from catalog.context import open_context
from tests.web.conftest import AUTH, TOKEN, make_settings, minimal_dataset

GUID = "dg.TW01/44444444-4444-4444-4444-444444444444"
WRITES: list[tuple[str, str, dict[str, object] | None]] = [
    ("POST", "/api/datasets", minimal_dataset()),
    ("PUT", f"/api/datasets/{GUID}?expected_revision=1", minimal_dataset()),
    ("DELETE", f"/api/datasets/{GUID}?reason=test", None),
]


@pytest.fixture
def client_without_token(tmp_path: Path) -> Iterator[TestClient]:
    ctx = open_context(make_settings(tmp_path, steward_token=None))
    with TestClient(create_app(ctx.settings, context=ctx)) as c:
        yield c


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_writes_are_switched_off_with_503_when_no_token_is_configured(
    client_without_token: TestClient, method: str, url: str, body: dict[str, object] | None
) -> None:
    response = client_without_token.request(method, url, json=body, headers=AUTH)
    assert response.status_code == 503
    assert "FAIRGATE_STEWARD_TOKEN" in response.json()["error"]["message"]


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}],
    ids=["missing", "wrong", "not-bearer", "no-scheme"],
)
def test_writes_with_a_missing_or_wrong_token_are_401_and_write_nothing(
    client: TestClient, method: str, url: str, body: dict[str, object] | None, headers: dict[str, str]
) -> None:
    response = client.request(method, url, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["error"]["message"]
    assert client.get("/api/datasets?include_tombstones=true").json()["total"] == 0


def test_an_invalid_body_without_a_token_is_401_not_a_validation_report(client: TestClient) -> None:
    assert client.post("/api/datasets", json={"nonsense": 1}).status_code == 401


def test_the_right_token_is_accepted_for_create_update_and_delete(client: TestClient) -> None:
    created = client.post("/api/datasets", json=minimal_dataset(), headers=AUTH)
    assert created.status_code == 201
    guid = created.json()["guid"]
    updated = client.put(f"/api/datasets/{guid}?expected_revision=1", json=minimal_dataset("b"), headers=AUTH)
    assert updated.status_code == 200
    assert client.delete(f"/api/datasets/{guid}?reason=done", headers=AUTH).status_code == 200


def test_reads_need_no_token(client_without_token: TestClient) -> None:
    assert client_without_token.get("/api/datasets").status_code == 200
