"""The AI-model REST API: public reads with the class facet, steward writes, refusals with a code."""

from __future__ import annotations

from fastapi.testclient import TestClient

from catalog.context import Context
from tests.models.conftest import a_dataset, model_json
from tests.web.conftest import AUTH


def test_a_steward_records_and_replaces_a_model_and_anyone_reads_it(client: TestClient, ctx: Context) -> None:
    lung = a_dataset(ctx.store)
    created = client.post("/api/models", json=model_json(training=[lung]), headers=AUTH)
    assert created.status_code == 201 and created.headers["etag"] == '"1"'
    guid = created.json()["guid"]
    body = model_json(training=[lung], version="1.1")
    replaced = client.put(f"/api/models/{guid}", json=body, headers={**AUTH, "If-Match": '"1"'})
    assert replaced.status_code == 200 and replaced.json()["revision"] == 2
    stale = client.put(
        f"/api/models/{guid}", json=model_json(training=[lung], version="9"), headers={**AUTH, "If-Match": '"1"'}
    )
    assert stale.status_code == 409
    one = client.get(f"/api/models/{guid}").json()
    assert one["model"]["version"] == "1.1" and one["terms"] == "free"
    assert one["links"]["training_datasets"] == [f"/dataset/{lung}"]
    assert [r["number"] for r in client.get(f"/api/models/{guid}/revisions").json()["revisions"]] == [1, 2]


def test_the_list_searches_both_languages_and_counts_each_class(client: TestClient) -> None:
    client.post("/api/models", json=model_json(), headers=AUTH)
    client.post(
        "/api/models", json=model_json("application_model", name={"zh-Hant": "心臟", "en": "Heart"}), headers=AUTH
    )
    listing = client.get("/api/models", params={"q": "心臟"}).json()
    assert [m["model"]["name"]["en"] for m in listing["items"]] == ["Heart"]
    assert listing["facets"]["sharing_class"] == {"base_tool": 0, "application_model": 1, "validated_software": 0}
    assert client.get("/api/models", params={"sharing_class": "base_tool"}).json()["count"] == 1
    assert client.get("/api/models", params={"sharing_class": "nonsense"}).status_code == 422


def test_writes_need_a_steward_and_unknown_datasets_are_refused_by_name(client: TestClient, ctx: Context) -> None:
    assert client.post("/api/models", json=model_json()).status_code == 401
    missing = f"{ctx.settings.guid_prefix}/00000000-0000-4000-8000-000000000000"
    refused = client.post("/api/models", json=model_json(training=[missing]), headers=AUTH)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unknown_dataset" and refused.json()["error"]["missing"] == [missing]
    assert client.post("/api/models", json=model_json(name={"en": "x"}), headers=AUTH).status_code == 422
    assert client.get("/api/models").json()["count"] == 0


def test_the_api_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/models"]) and {"get", "put"} <= set(paths["/api/models/{guid}"])
    assert "AIModel" in client.get("/openapi.json").json()["components"]["schemas"]
