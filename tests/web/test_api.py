"""The dataset REST API: paging, reads by slash-containing GUIDs, validated writes, concurrency, tombstones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from catalog.app import create_app
from catalog.context import Context, open_context
from tests.web.conftest import AUTH, make_settings, minimal_dataset


def test_list_pages_with_a_cursor_until_every_dataset_is_seen(client: TestClient, add: Callable[..., str]) -> None:
    made = [add(f"Dataset {i}") for i in range(5)]
    seen: list[str] = []
    url: str | None = "/api/datasets?limit=2"
    pages = 0
    while url:
        body = client.get(url).json()
        assert body["total"] == 5
        assert len(body["items"]) <= 2
        seen += [item["guid"] for item in body["items"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert seen == made


def test_next_page_is_also_announced_in_a_link_header(client: TestClient, add: Callable[..., str]) -> None:
    add("one")
    add("two")
    response = client.get("/api/datasets?limit=1")
    assert response.headers["link"] == f'<{response.json()["next"]}>; rel="next"'


def test_a_cursor_not_handed_out_by_the_server_is_a_400_that_says_so(client: TestClient) -> None:
    response = client.get("/api/datasets?cursor=%%%garbage")
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["message"]


def test_get_by_a_guid_containing_a_slash_returns_the_record_and_its_revision_etag(
    client: TestClient, add: Callable[..., str]
) -> None:
    guid = add("Brain MR")
    assert "/" in guid
    response = client.get(f"/api/datasets/{guid}")
    assert response.status_code == 200
    body = response.json()
    assert body["guid"] == guid
    assert body["dataset"]["title"]["en"] == "Brain MR"
    assert body["dataset"]["imaging"]["shared"]["fully_annotated"] == 3
    assert response.headers["etag"] == '"1"'


def test_an_unknown_guid_is_404_with_a_message_saying_what_to_check(client: TestClient) -> None:
    response = client.get("/api/datasets/dg.TW01/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert "no dataset with GUID" in response.json()["error"]["message"]


def test_create_assigns_a_guid_under_the_deployment_prefix_and_answers_201_with_location(
    client: TestClient,
) -> None:
    response = client.post("/api/datasets", json=minimal_dataset("Chest X-ray"), headers=AUTH)
    assert response.status_code == 201
    guid = response.json()["guid"]
    assert guid.startswith("dg.TW01/")
    assert response.headers["location"] == f"/api/datasets/{guid}"
    assert client.get(response.headers["location"]).json()["dataset"]["title"]["en"] == "Chest X-ray"


def test_create_lists_every_invalid_field_with_its_path_and_writes_nothing(client: TestClient, ctx: Context) -> None:
    bad = minimal_dataset()
    del bad["title"]
    bad["access_rights"] = "SECRET"
    bad["imaging"]["modalities"] = ["XRAYVISION"]
    bad["imaging"]["shared"]["image_only"] = -4
    response = client.post("/api/datasets", json=bad, headers=AUTH)
    assert response.status_code == 422
    problems = {p["field"]: p["reason"] for p in response.json()["error"]["problems"]}
    assert set(problems) == {
        "body.title",
        "body.access_rights",
        "body.imaging.modalities",
        "body.imaging.shared.image_only",
    }
    assert "PUBLIC" in problems["body.access_rights"]  # the allowed values are named
    assert ctx.store.count(include_tombstones=True) == 0


def test_create_refuses_a_guid_chosen_by_the_client(client: TestClient, ctx: Context) -> None:
    body = minimal_dataset(guid="dg.TW01/11111111-1111-1111-1111-111111111111")
    response = client.post("/api/datasets", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["field"] == "guid"
    assert ctx.store.count() == 0


def test_update_based_on_the_current_revision_creates_the_next_revision(
    client: TestClient, add: Callable[..., str]
) -> None:
    guid = add("Old title")
    etag = client.get(f"/api/datasets/{guid}").headers["etag"]
    response = client.put(
        f"/api/datasets/{guid}?reason=typo",
        json=minimal_dataset("New title"),
        headers={**AUTH, "If-Match": etag},
    )
    assert response.status_code == 200
    assert response.json()["revision"] == 2
    assert response.headers["etag"] == '"2"'
    assert response.headers["x-fairgate-save-status"] == "updated"
    revisions = client.get(f"/api/datasets/{guid}/revisions").json()["revisions"]
    assert [(r["number"], r["actor"], r["reason"]) for r in revisions] == [
        (1, "test", None),
        (2, "steward-token", "typo"),
    ]


@pytest.mark.parametrize("precondition", ["if-match", "query"])
def test_update_based_on_a_stale_revision_is_409_and_changes_nothing(
    client: TestClient, add: Callable[..., str], precondition: str
) -> None:
    guid = add("First")
    ok = client.put(f"/api/datasets/{guid}?expected_revision=1", json=minimal_dataset("Second"), headers=AUTH)
    assert ok.status_code == 200
    if precondition == "if-match":
        stale = client.put(f"/api/datasets/{guid}", json=minimal_dataset("Third"), headers={**AUTH, "If-Match": '"1"'})
    else:
        stale = client.put(f"/api/datasets/{guid}?expected_revision=1", json=minimal_dataset("Third"), headers=AUTH)
    assert stale.status_code == 409
    assert "revision 2, not 1" in stale.json()["error"]["message"]
    current = client.get(f"/api/datasets/{guid}").json()
    assert (current["revision"], current["dataset"]["title"]["en"]) == (2, "Second")


def test_update_without_saying_which_revision_it_edits_is_428(client: TestClient, add: Callable[..., str]) -> None:
    guid = add()
    response = client.put(f"/api/datasets/{guid}", json=minimal_dataset("x"), headers=AUTH)
    assert response.status_code == 428
    assert "If-Match" in response.json()["error"]["message"]


def test_update_of_an_unknown_guid_is_404_and_creates_nothing(client: TestClient, ctx: Context) -> None:
    guid = "dg.TW01/22222222-2222-2222-2222-222222222222"
    response = client.put(f"/api/datasets/{guid}", json=minimal_dataset(), headers={**AUTH, "If-Match": '"1"'})
    assert response.status_code == 404
    assert ctx.store.count(include_tombstones=True) == 0


def test_update_whose_body_names_another_guid_is_refused(client: TestClient, add: Callable[..., str]) -> None:
    guid = add()
    other = "dg.TW01/33333333-3333-3333-3333-333333333333"
    response = client.put(
        f"/api/datasets/{guid}", json=minimal_dataset(guid=other), headers={**AUTH, "If-Match": '"1"'}
    )
    assert response.status_code == 422
    assert client.get(f"/api/datasets/{guid}").json()["revision"] == 1


def test_saving_identical_content_again_creates_no_revision(client: TestClient, add: Callable[..., str]) -> None:
    guid = add("Same")
    response = client.put(f"/api/datasets/{guid}", json=minimal_dataset("Same"), headers={**AUTH, "If-Match": '"1"'})
    assert response.status_code == 200
    assert response.headers["x-fairgate-save-status"] == "unchanged"
    assert len(client.get(f"/api/datasets/{guid}/revisions").json()["revisions"]) == 1


def test_delete_tombstones_and_the_guid_then_answers_410_with_last_metadata_and_reason(
    client: TestClient, add: Callable[..., str]
) -> None:
    guid = add("Withdrawn one")
    response = client.delete(f"/api/datasets/{guid}?reason=consent withdrawn by the hospital", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["status"] == "tombstoned"
    gone = client.get(f"/api/datasets/{guid}")
    assert gone.status_code == 410
    assert gone.json()["tombstone_reason"] == "consent withdrawn by the hospital"
    assert gone.json()["dataset"]["title"]["en"] == "Withdrawn one"
    listed = [i["guid"] for i in client.get("/api/datasets").json()["items"]]
    assert guid not in listed
    with_tombstones = client.get("/api/datasets?include_tombstones=true").json()
    assert guid in [i["guid"] for i in with_tombstones["items"]]


def test_delete_without_a_reason_is_refused_and_leaves_the_dataset_active(
    client: TestClient, add: Callable[..., str]
) -> None:
    guid = add()
    response = client.delete(f"/api/datasets/{guid}", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["field"] == "query.reason"
    assert client.get(f"/api/datasets/{guid}").json()["status"] == "active"


def test_delete_based_on_a_stale_revision_is_409(client: TestClient, add: Callable[..., str]) -> None:
    guid = add("a")
    client.put(f"/api/datasets/{guid}?expected_revision=1", json=minimal_dataset("b"), headers=AUTH)
    response = client.delete(f"/api/datasets/{guid}?reason=old", headers={**AUTH, "If-Match": '"1"'})
    assert response.status_code == 409
    assert client.get(f"/api/datasets/{guid}").json()["status"] == "active"


def test_a_revision_can_be_read_back_with_its_content_at_that_time(client: TestClient, add: Callable[..., str]) -> None:
    guid = add("Version one")
    client.put(f"/api/datasets/{guid}?expected_revision=1", json=minimal_dataset("Version two"), headers=AUTH)
    first = client.get(f"/api/datasets/{guid}/revisions/1").json()
    assert first["dataset"]["title"]["en"] == "Version one"
    assert client.get(f"/api/datasets/{guid}/revisions/9").status_code == 404


@pytest.mark.postgres
def test_create_update_and_stale_edit_behave_the_same_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    ctx = open_context(make_settings(tmp_path, database_url=pg_url))
    try:
        with TestClient(create_app(ctx.settings, context=ctx)) as client:
            created = client.post("/api/datasets", json=minimal_dataset("PG one"), headers=AUTH)
            assert created.status_code == 201
            guid = created.json()["guid"]
            assert (
                client.put(
                    f"/api/datasets/{guid}", json=minimal_dataset("PG two"), headers={**AUTH, "If-Match": '"1"'}
                ).status_code
                == 200
            )
            stale = client.put(
                f"/api/datasets/{guid}", json=minimal_dataset("PG three"), headers={**AUTH, "If-Match": '"1"'}
            )
            assert stale.status_code == 409
            assert client.get(f"/api/datasets/{guid}").json()["dataset"]["title"]["en"] == "PG two"
    finally:
        ctx.store.engine.dispose()  # lets the test database be dropped at once
