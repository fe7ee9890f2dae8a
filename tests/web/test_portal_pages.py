"""The portal pages over a real app: sign in with the letter's code, set a password, opt out of one
dataset, see the releases; one answer for unknown ids; the steward re-issues a code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi.testclient import TestClient

from access.store import EventStore
from catalog.context import Context
from consent.api import registry_for
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release import create_release
from schemas.access import Created, PublicationRegistered
from schemas.consent import Category, EventKind, EventRequest, ReleaseProject
from tests.consent.subjects import T0, national_id
from tests.web.conftest import csrf_of

PROJECT = ReleaseProject(
    title="Lung nodule AI",
    institution="NCKU",
    purpose_text="nodule detection",
    starts_on=date(2026, 1, 1),
    ends_on=date(2027, 12, 31),
)


def enrol_two(registry: ConsentRegistry, ntu: str, tmu: str, n: int = 1) -> tuple[str, str]:
    """Person ``n`` in two datasets (C at NTU, B at TMU) with their notice sent; returns (pseudonym, code)."""
    subject = registry.pseudonymiser.subject(national_id(n))
    registry.enrol(
        [
            EnrolmentInput(subject, ntu, "NTU", Category.C, T0, (f"ntu-{n}",)),
            EnrolmentInput(subject, tmu, "TMU", Category.B, T0, (f"tmu-{n}",)),
        ]
    )
    registry.append([EventRequest(subject=subject, kind=EventKind.NOTICE_SENT, effective_at=T0 + timedelta(days=1))])
    [code] = registry.issue_access_codes([subject])
    return subject, code


def release(registry: ConsentRegistry, dataset: str, case: str, out: Path) -> tuple[str, int]:
    m = create_release(
        registry, "app-1", dataset, "GRU", pa.table({"case_id": [case]}), out, date(2099, 1, 1), project=PROJECT
    )
    return m.release_id, m.cases_out


def portal_sign_in(client: TestClient, who: str, secret: str) -> Any:
    page = client.get("/portal")
    return client.post(
        "/portal/sign-in",
        data={"csrf": csrf_of(page.text), "national_id": who, "secret": secret},
        follow_redirects=False,
    )


def test_the_story_through_the_pages(client: TestClient, ctx: Context, add: Callable[..., str], tmp_path: Path) -> None:
    ntu, tmu = add("NTU chest CT"), add("TMU brain MRI")
    registry = registry_for(ctx.settings)
    subject, code = enrol_two(registry, ntu, tmu)
    before, _ = release(registry, ntu, "ntu-1", tmp_path / "r1")
    first = client.get("/portal")
    assert first.status_code == 200 and 'lang="zh-Hant-TW"' in first.text  # Traditional Chinese by default
    r = portal_sign_in(client, national_id(1), code)
    assert r.status_code == 303 and r.headers["location"] == "/portal/password"
    assert client.get("/portal/my-data", follow_redirects=False).headers["location"] == "/portal/password"
    page = client.get("/portal/password")
    r = client.post(
        "/portal/password",
        data={"csrf": csrf_of(page.text), "password": "a sentence of mine", "password_again": "a sentence of mine"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    client.get("/portal/language?to=en&next=/portal/my-data")
    mine = client.get("/portal/my-data")
    assert "NTU chest CT" in mine.text and "TMU brain MRI" in mine.text and "Lung nodule AI" in mine.text
    assert national_id(1) not in mine.text
    confirm = client.get("/portal/change", params={"direction": "out", "dataset": ntu})
    assert "Future releases of NTU chest CT will not include your data." in confirm.text
    assert "The 1 projects that already received your data will be told to delete it." in confirm.text
    form = {"csrf": csrf_of(confirm.text), "direction": "out", "dataset": ntu, "purpose": "", "key": "k1"}
    r = client.post("/portal/change", data=form, follow_redirects=False)
    assert r.status_code == 303
    receipt = client.get(r.headers["location"])
    assert "Your choice is recorded." in receipt.text
    receipt_json = client.get(r.headers["location"] + ".json").json()
    assert receipt_json["consentState"] == "opted_out" and receipt_json["piiPrincipalId"] == subject
    assert client.get("/portal/record.fhir.json").json()["resourceType"] == "Bundle"
    _, after_out = release(registry, ntu, "ntu-1", tmp_path / "r2")
    other, other_out = release(registry, tmu, "tmu-1", tmp_path / "r3")
    assert (after_out, other_out) == (0, 1)
    mine = client.get("/portal/my-data").text
    assert "They have not confirmed yet." in mine and other in mine and before in mine
    assert "Published from this project" not in mine
    # The project registers a publication on its application (the access route): the person sees it.
    at = datetime(2026, 6, 1, tzinfo=UTC)
    EventStore(ctx.store.engine).append(
        "user:1",
        0,
        [
            Created(application_id="app-1", at=at, actor="user:1", applicant="user:1", datasets=[ntu]),
            PublicationRegistered(
                application_id="app-1",
                at=at,
                actor="user:1",
                title="Nodules found by AI",
                reference="https://doi.org/10.1234/x",
                published_on=date(2026, 5, 20),
                acknowledges_source=True,
            ),
        ],
    )
    mine = client.get("/portal/my-data").text
    assert "Published from this project" in mine and 'href="https://doi.org/10.1234/x">Nodules found by AI' in mine
    history = client.get("/portal/history").text
    assert history.index("Said no (opted out)") < history.index("Letter sent")  # newest first
    out = client.post("/portal/sign-out", data={"csrf": csrf_of(history)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/portal/my-data", follow_redirects=False).headers["location"].startswith("/portal")
    assert portal_sign_in(client, national_id(1), code).status_code == 401  # the code worked once
    assert portal_sign_in(client, national_id(1), "a sentence of mine").status_code == 303
    actions = {e.action for e in registry.audit_log(subject=subject) if e.actor == "portal"}
    assert {"portal.sign_in", "portal.view", "portal.change", "portal.receipt", "portal.history"} <= actions


def test_twenty_wrong_codes_lock_with_the_same_page_for_an_unknown_id(
    client: TestClient, ctx: Context, add: Callable[..., str]
) -> None:
    registry = registry_for(ctx.settings)
    _, code = enrol_two(registry, add("A"), add("B"))
    answers = []
    for who in (national_id(1), national_id(555)):
        wrong = [portal_sign_in(client, who, f"nope-{i}") for i in range(20)]
        assert {w.status_code for w in wrong} == {401}
        locked = portal_sign_in(client, who, code)
        answers.append((wrong[0].status_code, locked.status_code, locked.text.replace(csrf_of(locked.text), "")))
        assert who not in locked.text
    assert answers[0] == answers[1]
    assert answers[0][1] == 429


def test_a_steward_reissues_a_code_that_signs_in(
    steward_client: TestClient, ctx: Context, add: Callable[..., str]
) -> None:
    registry = registry_for(ctx.settings)
    _, lost = enrol_two(registry, add("A"), add("B"))
    page = steward_client.get("/steward/portal-code")
    r = steward_client.post("/steward/portal-code", data={"csrf": csrf_of(page.text), "national_id": national_id(1)})
    assert r.status_code == 200
    marker = '<code id="new-code">'
    code = r.text[r.text.index(marker) + len(marker) : r.text.index("</code>", r.text.index(marker))]
    assert portal_sign_in(steward_client, national_id(1), lost).status_code == 401
    assert portal_sign_in(steward_client, national_id(1), code).status_code == 303
