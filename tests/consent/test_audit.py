"""The access audit log: every look-up of a person and every release is recorded, by API and CLI alike."""

from __future__ import annotations

import csv
import getpass
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from consent import cli
from consent import tables as t
from consent.api import get_consent_settings, router
from consent.audit import Actor
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release import audit_release, create_release
from consent.settings import ConsentSettings
from schemas.consent import Category, EventKind, EventRequest
from tests.consent.subjects import DATASET, T0, national_id

TOKEN = {"Authorization": "Bearer s3cret-steward-token"}
runner = CliRunner()


@pytest.fixture
def client(settings: ConsentSettings) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(router, prefix="/api/consent")
    app.dependency_overrides[get_consent_settings] = lambda: settings
    with TestClient(app) as c:
        yield c


@pytest.fixture
def subjects(registry: ConsentRegistry) -> list[str]:
    ids = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, 4)]
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.B, T0, (f"case-{i}",)) for i, s in enumerate(ids)])
    return ids


def test_every_api_look_up_of_a_person_is_audited_with_the_steward_and_the_request_id(
    client: TestClient, registry: ConsentRegistry, subjects: list[str]
) -> None:
    s = subjects[0]
    request_id = "0f" * 16
    for path, action in [
        ("enrolments", "subject.lookup"),
        ("events", "subject.events"),
        ("decisions", "subject.decisions"),
        ("fhir", "subject.fhir"),
    ]:
        response = client.get(f"/api/consent/subjects/{s}/{path}", headers={**TOKEN, "X-Request-ID": request_id})
        assert response.status_code == 200 and response.headers["x-request-id"] == request_id
        (entry,) = [e for e in registry.audit_log(subject=s) if e.action == action]
        assert (entry.actor, entry.subject, entry.request_id) == ("steward-token", s, request_id)
    decisions = [e for e in registry.audit_log(subject=s) if e.action == "subject.decisions"]
    assert decisions[0].purpose == "DUO:0000042"


def test_a_release_is_audited_in_the_same_commit_and_its_manifest_and_audit_reads_too(
    client: TestClient, registry: ConsentRegistry, subjects: list[str], tmp_path: Path
) -> None:
    body = {
        "application": "APP-1",
        "dataset": DATASET,
        "purpose": "HMB",
        "active_until": (date.today() + timedelta(days=30)).isoformat(),
        "case_ids": ["case-0", "case-1"],
    }
    release_id = client.post("/api/consent/releases", json=body, headers=TOKEN).json()["release_id"]
    client.get(f"/api/consent/releases/{release_id}/manifest", headers=TOKEN)
    client.get("/api/consent/withdrawal-notices", params={"release": release_id}, headers=TOKEN)
    audit_release(registry, release_id, create_cases(["case-0"]), Actor("auditor"))
    by_action = {e.action: e for e in registry.audit_log() if e.release_id == release_id}
    assert set(by_action) == {"release.create", "release.manifest", "withdrawals.list", "release.audit"}
    created = by_action["release.create"]
    assert (created.actor, created.dataset, created.purpose) == ("steward-token", DATASET, "DUO:0000006")
    assert by_action["release.audit"].actor == "auditor"
    with registry.engine.connect() as conn:
        stored = conn.execute(select(t.releases.c.created_at).where(t.releases.c.release_id == release_id)).scalar()
    assert stored is not None


def create_cases(ids: list[str]) -> pa.Table:
    return pa.table({"case_id": ids})


def test_a_failed_release_leaves_no_audit_row_and_no_manifest(
    registry: ConsentRegistry, subjects: list[str], tmp_path: Path
) -> None:
    # The store fails after the audit row was written (a trigger refuses the release's scopes): the
    # audit row must roll back with the release, so the log never claims a release that does not exist.
    with registry.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_release BEFORE INSERT ON consent_release_scopes "
                "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
            )
        )
    with pytest.raises(Exception, match="refused for the test"):
        create_release(
            registry, "APP-1", DATASET, "GRU", create_cases(["case-0"]), tmp_path / "r", date.today() + timedelta(1)
        )
    with registry.engine.connect() as conn:
        assert conn.execute(select(t.audit_log).where(t.audit_log.c.action == "release.create")).all() == []
        assert conn.execute(select(t.releases)).all() == []


def test_the_audit_log_is_append_only_on_sqlite(registry: ConsentRegistry, subjects: list[str]) -> None:
    registry.events_of(subjects[0])
    for statement in ("UPDATE consent_audit_log SET actor = 'x'", "DELETE FROM consent_audit_log"):
        with pytest.raises(Exception, match="append-only"), registry.engine.begin() as conn:
            conn.execute(text(statement))
    assert [e.action for e in registry.audit_log()] == ["subject.events"]


def test_the_audit_route_filters_by_subject_and_time_and_is_itself_audited(
    client: TestClient, registry: ConsentRegistry, subjects: list[str]
) -> None:
    for s in subjects:
        client.get(f"/api/consent/subjects/{s}/events", headers=TOKEN)
    rows = client.get("/api/consent/audit", params={"subject": subjects[1]}, headers=TOKEN).json()
    assert [(r["action"], r["subject"]) for r in rows] == [("subject.events", subjects[1])]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/api/consent/audit", params={"since": later}, headers=TOKEN).json() == []
    assert registry.audit_log(action="audit.read")[0].actor == "steward-token"
    assert client.get("/api/consent/audit", params={"subject": "A123456789"}, headers=TOKEN).status_code == 422


def test_cli_actions_are_audited_as_the_os_user_and_the_audit_command_filters(
    settings: ConsentSettings, registry: ConsentRegistry, subjects: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "settings_factory", lambda: settings)
    assert runner.invoke(cli.release_app, ["withdrawals"]).exit_code == 0
    assert runner.invoke(cli.consent_app, ["report"]).exit_code == 0
    registry.events_of(subjects[0])
    result = runner.invoke(cli.consent_app, ["audit", "--subject", national_id(1), "--since", "2000-01-01", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["action"] for r in json.loads(result.output)] == ["subject.events"]
    actors = {e.action: e.actor for e in registry.audit_log()}
    assert actors["withdrawals.list"] == actors["report.read"] == actors["audit.read"] == f"cli:{getpass.getuser()}"
    bad = runner.invoke(cli.consent_app, ["audit", "--since", "yesterday"])
    assert bad.exit_code == 1 and "--since" in bad.output


def test_no_raw_national_id_ever_reaches_the_audit_log(
    settings: ConsentSettings,
    registry: ConsentRegistry,
    client: TestClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "settings_factory", lambda: settings)
    ids = [national_id(n) for n in range(1, 4)]
    enrol = tmp_path / "e.csv"
    with enrol.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["national_id", "institution", "dataset", "category", "case_ids", "enrolled_on"])
        writer.writerows([[i, "NTU", DATASET, "B", f"case-{n}", "2019-01-01"] for n, i in enumerate(ids)])
    assert runner.invoke(cli.consent_app, ["enrol", str(enrol)]).exit_code == 0
    runner.invoke(cli.consent_app, ["record", "--subject-id", ids[0], "--event", "withdrawn"])
    runner.invoke(cli.consent_app, ["audit", "--subject", ids[1]])
    runner.invoke(cli.consent_app, ["audit", "--subject", ids[2].lower()])
    pseudonym = registry.pseudonymiser.subject(ids[0])
    # A client that puts a national id in its correlation header gets an id of ours instead.
    response = client.get(f"/api/consent/subjects/{pseudonym}/events", headers={**TOKEN, "X-Request-ID": ids[0]})
    assert response.headers["x-request-id"] != ids[0]
    registry.append([EventRequest(subject=pseudonym, kind=EventKind.RECONSENTED)])
    with registry.engine.connect() as conn:
        rows = conn.execute(select(t.audit_log)).all()
    assert {r.action for r in rows} >= {"audit.read", "subject.events"}
    dump = "\n".join(repr(tuple(r)) for r in rows).upper()
    for raw in ids:
        assert raw.upper() not in dump
    assert registry.pseudonymiser.subject(ids[1]) in {r.subject for r in rows}
