"""The steward API router mounted in a small FastAPI app (as the catalog app mounts it)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from consent.api import get_consent_settings, router
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.settings import ConsentSettings
from schemas.consent import Category, EventRequest
from tests.consent.subjects import DATASET, T0, national_id

TOKEN = {"Authorization": "Bearer s3cret-steward-token"}


def app_for(settings: ConsentSettings) -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix="/api/consent")
    app.dependency_overrides[get_consent_settings] = lambda: settings
    return app


@pytest.fixture
def client(settings: ConsentSettings) -> Iterator[TestClient]:
    with TestClient(app_for(settings)) as c:
        yield c


@pytest.fixture
def subjects(registry: ConsentRegistry) -> list[str]:
    ids = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, 4)]
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.B, T0, (f"case-{i}",)) for i, s in enumerate(ids)])
    return ids


def test_routes_are_closed_with_503_when_no_steward_token_is_configured(settings: ConsentSettings) -> None:
    closed = settings.model_copy(update={"steward_token": None})
    with TestClient(app_for(closed)) as c:
        response = c.get("/api/consent/report", headers=TOKEN)
    assert response.status_code == 503
    assert response.json()["detail"]["code"] == "auth_not_configured"
    assert "FAIRGATE_STEWARD_TOKEN" in response.json()["detail"]["message"]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-steward-token"}]
)
def test_a_missing_or_wrong_token_gets_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/api/consent/report", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_recording_an_event_is_idempotent_and_yields_a_receipt(client: TestClient, subjects: list[str]) -> None:
    body = {"subject": subjects[0], "kind": "opted_out", "scope_purpose": "NCU", "channel": "portal"}
    first = client.post("/api/consent/events", json=body, headers={**TOKEN, "Idempotency-Key": "k1"})
    again = client.post("/api/consent/events", json=body, headers={**TOKEN, "Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["event"] == again.json()["event"]
    receipt = first.json()["receipt"]
    assert receipt["consentReceiptID"] == first.json()["event"]["event_id"]
    assert receipt["services"][0]["purposes"][0]["purposeCategory"] == ["DUO:0000046"]
    assert {"jurisdiction", "consentTimestamp", "collectionMethod", "piiControllers", "withdrawalMethod"} <= set(
        receipt
    )
    events = client.get(f"/api/consent/subjects/{subjects[0]}/events", headers=TOKEN).json()
    assert len(events) == 1
    conflict = client.post(
        "/api/consent/events", json={**body, "kind": "withdrawn"}, headers={**TOKEN, "Idempotency-Key": "k1"}
    )
    assert conflict.status_code == 409 and conflict.json()["detail"]["code"] == "idempotency_conflict"
    receipt_again = client.get(f"/api/consent/events/{events[0]['event_id']}/receipt", headers=TOKEN)
    later = receipt_again.json()
    covering = later.pop("ledgerCheckpoint", None)  # a checkpoint may have been made since (the policy's)
    assert later == receipt
    assert covering is None or covering["signature"]


def test_refused_events_get_422_with_a_reason(client: TestClient, subjects: list[str]) -> None:
    body = {"subject": subjects[0], "kind": "opted_out", "scope_dataset": "dg.X/00000000-0000-0000-0000-000000000000"}
    response = client.post("/api/consent/events", json=body, headers=TOKEN)
    assert response.status_code == 422 and "not enrolled in dataset" in response.json()["detail"]["message"]


def test_decisions_and_fhir_export_follow_the_latest_choice(client: TestClient, subjects: list[str]) -> None:
    s = subjects[0]
    for kind in ("withdrawn", "reconsented"):
        assert client.post("/api/consent/events", json={"subject": s, "kind": kind}, headers=TOKEN).status_code == 201
    decisions = client.get(f"/api/consent/subjects/{s}/decisions", params={"purpose": "HMB"}, headers=TOKEN).json()
    assert decisions == {DATASET: {"permit": True, "reason": "reconsented"}}
    bundle = client.get(f"/api/consent/subjects/{s}/fhir", headers=TOKEN).json()
    consents = [e["resource"] for e in bundle["entry"]]
    withdrawn, reconsented = consents[1], consents[2]
    assert (withdrawn["status"], withdrawn["decision"]) == ("inactive", "deny")
    assert (reconsented["status"], reconsented["decision"]) == ("active", "permit")
    assert reconsented["sourceReference"] == [{"reference": f"Consent/{withdrawn['id']}"}]
    assert withdrawn["provision"][0]["period"]["end"] == reconsented["provision"][0]["period"]["start"]
    assert client.get(f"/api/consent/subjects/{s}/enrolments", headers=TOKEN).json()[0]["category"] == "B"
    assert client.get("/api/consent/subjects/not-a-pseudonym/events", headers=TOKEN).status_code == 422


def test_release_manifest_withdrawals_and_acknowledgement_over_the_api(client: TestClient, subjects: list[str]) -> None:
    until = (date.today() + timedelta(days=90)).isoformat()
    body = {
        "application": "APP-9",
        "dataset": DATASET,
        "purpose": "GRU",
        "active_until": until,
        "case_ids": ["case-0", "case-1", "case-2", "case-x"],
    }
    created = client.post("/api/consent/releases", json=body, headers=TOKEN)
    assert created.status_code == 201, created.text
    manifest = created.json()
    assert (manifest["cases_out"], manifest["unknown_case_ids"]) == (3, ["case-x"])
    fetched = client.get(f"/api/consent/releases/{manifest['release_id']}/manifest", headers=TOKEN)
    assert fetched.json() == manifest
    client.post("/api/consent/events", json={"subject": subjects[1], "kind": "withdrawn"}, headers=TOKEN)
    (notice,) = client.get("/api/consent/withdrawal-notices", params={"pending": True}, headers=TOKEN).json()
    assert notice["release_id"] == manifest["release_id"] and len(notice["release_pseudonyms"]) == 1
    ack = client.post(
        f"/api/consent/withdrawal-notices/{notice['notice_id']}/acknowledge", json={"by": "holder"}, headers=TOKEN
    )
    assert ack.json()["acknowledged_by"] == "holder"
    assert client.get("/api/consent/withdrawal-notices", params={"pending": True}, headers=TOKEN).json() == []
    unknown = client.post(
        "/api/consent/releases", json={**body, "dataset": "dg.X/00000000-0000-0000-0000-000000000000"}, headers=TOKEN
    )
    assert unknown.status_code == 422 and "unknown dataset" in unknown.json()["detail"]["message"]


def test_report_and_verify_over_the_api(client: TestClient, subjects: list[str]) -> None:
    client.post("/api/consent/events", json={"subject": subjects[0], "kind": "notice_sent"}, headers=TOKEN)
    report = client.get("/api/consent/report", headers=TOKEN).json()
    assert report[-1]["institution"] == "ALL" and report[-1]["sent"] == 1
    verdict = client.post("/api/consent/verify", headers=TOKEN).json()
    assert verdict["ok"] and verdict["events_checked"] == 1


def _every_route(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every operation the app documents, path parameters filled with well-formed values."""
    fill = {"{pseudonym}": "a" * 64, "{release_id}": "r/1", "{event_id}": "e1", "{notice_id}": "n1"}
    found = []
    for path, operations in app.openapi()["paths"].items():
        for name, value in fill.items():
            path = path.replace(name, value)
        found += [(method.upper(), path) for method in operations]
    return found


def test_every_route_needs_the_token_and_stays_closed_without_one(settings: ConsentSettings) -> None:
    app = app_for(settings)
    routes = _every_route(app)
    assert ("POST", "/api/consent/events") in routes and len(routes) >= 13
    closed = app_for(settings.model_copy(update={"steward_token": None}))
    with TestClient(app) as c, TestClient(closed) as off:
        for method, path in routes:
            assert c.request(method, path, json={}).status_code == 401, (method, path)
            assert c.request(method, path, json={}, headers={"Authorization": "Bearer no"}).status_code == 401
            assert off.request(method, path, json={}, headers=TOKEN).status_code == 503, (method, path)


def test_a_malformed_event_gets_422_naming_the_field_without_echoing_its_value(client: TestClient) -> None:
    raw_id = national_id(7)  # sent where the pseudonym belongs
    response = client.post("/api/consent/events", json={"subject": raw_id, "kind": "opted_out"}, headers=TOKEN)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "subject"]
    assert raw_id not in response.text
    broken = client.post("/api/consent/events", content=b"{not json", headers=TOKEN)
    assert broken.status_code == 422 and broken.json()["detail"][0]["type"] == "json_invalid"


def test_an_idempotency_key_longer_than_200_characters_is_refused(client: TestClient, subjects: list[str]) -> None:
    body = {"subject": subjects[0], "kind": "opted_out"}
    response = client.post("/api/consent/events", json=body, headers={**TOKEN, "Idempotency-Key": "k" * 201})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    assert client.get(f"/api/consent/subjects/{subjects[0]}/events", headers=TOKEN).json() == []


def test_the_openapi_document_describes_the_event_body_and_every_reference_resolves(settings: ConsentSettings) -> None:
    document = app_for(settings).openapi()
    operation = document["paths"]["/api/consent/events"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == set(EventRequest.model_fields) and body["required"] == ["subject", "kind"]
    assert {p["name"] for p in operation["parameters"]} == {"idempotency-key", "authorization"}
    references = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document))
    assert "EventKind" in references and set(references) <= set(document["components"]["schemas"])
