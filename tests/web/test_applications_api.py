"""The applications API end to end over a real app (SQLite catalog, consent registry): roles, rules, release."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from catalog.api.auth import accounts_of
from catalog.context import Context
from consent.api import registry_for
from consent.registry import EnrolmentInput
from schemas.access import Criterion, Irb, IrbRole
from schemas.consent import Category, EventKind, EventRequest
from tests.access.history import good_form
from tests.consent.subjects import T0, national_id
from tests.web.conftest import add_user

DATASET = "dg.TW01/00000000-0000-0000-0000-0000000000aa"
Api = Callable[..., dict]


def _form() -> dict:
    irb = Irb(
        board="NTUH REC",
        number="1",
        approved_on=date(2026, 1, 1),
        expires_on=date(2030, 1, 1),
        applicant_role=IrbRole.PI,
        document="doc",
    )
    return json.loads(good_form(irb=irb).model_dump_json())


@pytest.fixture
def tokens(ctx: Context) -> dict[str, str]:
    service = accounts_of(ctx)
    found = {}
    for email, role, inst in [
        ("r@ntu.edu.tw", "researcher", "NTU Hospital"),
        ("rev1@x.tw", "reviewer", "NCKU"),
        ("rev2@x.tw", "reviewer", "NTU Hospital"),
        ("chair@x.tw", "chair", "Programme"),
        ("s@x.tw", "steward", "Programme"),
    ]:
        user = add_user(ctx, email, role, institution=inst)
        found[email.split("@")[0]] = service.create_token(user, "test")[1]
    return found


@pytest.fixture
def api(client: TestClient, tokens: dict[str, str]) -> Api:
    def call(who: str, method: str, path: str, status: int = 200, json: Any = None) -> dict:
        response = client.request(method, path, headers={"Authorization": f"Bearer {tokens[who]}"}, json=json)
        assert response.status_code == status, response.text
        body: dict = response.json()
        return body

    return call


def test_apply_return_resubmit_review_approve_release_download_and_withdrawal(
    api: Api, client: TestClient, tokens: dict[str, str], ctx: Context
) -> None:
    registry = registry_for(ctx.settings)
    subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, 4)]
    registry.enrol([EnrolmentInput(s, DATASET, "NTU", Category.B, T0, (f"case-{i}",)) for i, s in enumerate(subjects)])

    app = api("r", "POST", "/api/applications", 201, json={"datasets": [DATASET], "form": _form()})
    aid = app["id"]
    assert app["status"] == "draft" and app["applicant"].startswith("user:")
    api("r", "POST", f"/api/applications/{aid}/submit")
    api("chair", "POST", f"/api/applications/{aid}/return", json={"reason": "sign the IRB page"})
    returned = api("r", "GET", f"/api/applications/{aid}")
    assert returned["status_today"] == "returned" and returned["correction_deadline"]
    api("r", "POST", f"/api/applications/{aid}/resubmit", json=_form())
    scores = {c: 4 for c in ["scientific_basis", "interpretation", "use_security", "social_impact", "reciprocity"]}
    api("rev1", "POST", f"/api/applications/{aid}/reviews", json={"scores": scores, "comment": "sound"})
    second = api("rev2", "POST", f"/api/applications/{aid}/reviews", json={"scores": scores})
    assert [r["conflict_of_interest"] for r in second["reviews"]] == [False, True]
    api("chair", "POST", f"/api/applications/{aid}/decision", json={"decision": "approve", "conditions": ["on-site"]})
    refused = api("s", "POST", f"/api/applications/{aid}/releases", 409, json={"dataset": DATASET, "case_ids": ["c"]})
    assert "data-use agreement" in refused["error"]["message"]
    agreement = {"signed_on": "2026-12-01", "pledges": ["Lin", "Chen"], "fee_paid": True}
    api("s", "POST", f"/api/applications/{aid}/agreement", json=agreement)
    released = api(
        "s",
        "POST",
        f"/api/applications/{aid}/releases",
        201,
        json={"dataset": DATASET, "case_ids": ["case-0", "case-1"]},
    )
    assert released["status"] == "active" and released["releases"][0]["cases_out"] == 2

    headers = {"Authorization": f"Bearer {tokens['r']}"}
    manifest = client.get(f"/api/applications/{aid}/releases/1/manifest", headers=headers).json()
    assert manifest["project"]["title"] == "Lung nodules in low-dose CT"
    assert manifest["project"]["institution"] == "NTU Hospital"
    assert manifest["application"] == aid
    cases = client.get(f"/api/applications/{aid}/releases/1/cases", headers=headers)
    assert cases.status_code == 200 and len(cases.text.split()) == 3  # header + 2 pseudonyms
    other = {"Authorization": f"Bearer {tokens['rev1']}"}
    assert client.get(f"/api/applications/{aid}/releases/1/cases", headers=other).status_code == 403

    registry.append([EventRequest(subject=subjects[0], kind=EventKind.WITHDRAWN)])
    state = api("r", "GET", f"/api/applications/{aid}")
    (notice,) = state["withdrawal_notices"]
    assert any("is not acknowledged" in o for o in state["obligations"])
    blocked = api("r", "POST", "/api/applications", 409, json={"datasets": [DATASET]})
    assert "withdrawal notice" in blocked["error"]["message"]
    acked = api("r", "POST", f"/api/applications/{aid}/withdrawals/{notice}/acknowledge")
    assert acked["obligations"] == []
    shown = api("s", "GET", "/api/applications/figures/programme")
    assert shown["per_state"]["active"] == 1 and shown["approval_rate"] == 1.0 and shown["decided"] == 1
    history = api("r", "GET", f"/api/applications/{aid}/events")
    assert [e["type"] for e in history][:4] == ["created", "draft_saved", "submitted", "returned"]


def test_roles_are_enforced_on_every_step(api: Api, client: TestClient) -> None:
    aid = api("r", "POST", "/api/applications", 201, json={"datasets": [DATASET], "form": _form()})["id"]
    api("rev1", "POST", "/api/applications", 403, json={"datasets": [DATASET]})
    api("r", "POST", f"/api/applications/{aid}/return", 403, json={"reason": "x"})
    api(
        "rev1",
        "POST",
        f"/api/applications/{aid}/agreement",
        403,
        json={"signed_on": "2026-12-01", "pledges": [], "fee_paid": True},
    )
    assert client.get(f"/api/applications/{aid}").status_code == 401


def test_a_fourth_concurrent_application_waits_with_the_reason(api: Api) -> None:
    running = []
    for _ in range(3):
        aid = api("r", "POST", "/api/applications", 201, json={"datasets": [DATASET], "form": _form()})["id"]
        api("r", "POST", f"/api/applications/{aid}/submit")
        running.append(aid)
    fourth = api("r", "POST", "/api/applications", 201, json={"datasets": [DATASET], "form": _form()})["id"]
    refused = api("r", "POST", f"/api/applications/{fourth}/submit", 409)
    assert "at most 3 applications running at once" in refused["error"]["message"]
    assert refused["error"]["code"] == "rule"
    assert refused["error"]["refusal"] == {"code": "too_many_running", "params": {"max": 3, "running": sorted(running)}}
    assert api("r", "GET", f"/api/applications/{fourth}")["status"] == "draft"


def test_an_incomplete_form_is_refused_with_a_message_per_field(api: Api) -> None:
    form = {**_form(), "fields": [], "period_months": 12}
    aid = api("r", "POST", "/api/applications", 201, json={"datasets": [DATASET], "form": form})["id"]
    error = api("r", "POST", f"/api/applications/{aid}/submit", 409)["error"]
    problems = error["problems"]
    assert set(problems) == {"fields", "period_months"}
    assert "at most 6 months" in problems["period_months"]
    assert error["problem_refusals"]["period_months"] == {"code": "period_pilot", "params": {"max": 6, "months": 12}}
    assert error["refusal"]["code"] == "form_incomplete"
    assert [p["code"] for p in error["refusal"]["parts"]] == ["fields_required", "period_pilot"]


def test_a_rejection_needs_a_reason(api: Api) -> None:
    aid = api("r", "POST", "/api/applications", 201, json={"datasets": [DATASET], "form": _form()})["id"]
    api("r", "POST", f"/api/applications/{aid}/submit")
    refused = api("chair", "POST", f"/api/applications/{aid}/decision", 409, json={"decision": "reject"})
    assert refused["error"]["message"] == "a refusal must state its reasons"


def test_members_score_and_only_the_chair_decides_or_returns(api: Api) -> None:
    aid = api("r", "POST", "/api/applications", 201, json={"datasets": [DATASET], "form": _form()})["id"]
    api("r", "POST", f"/api/applications/{aid}/submit")
    api("rev1", "POST", f"/api/applications/{aid}/decision", 403, json={"decision": "approve"})
    api("rev1", "POST", f"/api/applications/{aid}/return", 403, json={"reason": "x"})
    scores = {c: 4 for c in ["scientific_basis", "interpretation", "use_security", "social_impact", "reciprocity"]}
    api("chair", "POST", f"/api/applications/{aid}/reviews", 403, json={"scores": scores})
    assert [a["id"] for a in api("chair", "GET", "/api/applications?state=submitted")] == [aid]
    api("rev1", "POST", f"/api/applications/{aid}/reviews", json={"scores": scores})
    decided = api("chair", "POST", f"/api/applications/{aid}/decision", json={"decision": "approve"})
    assert decided["status"] == "approved"


def test_the_service_refuses_a_decision_to_anyone_but_the_chair(ctx: Context) -> None:
    from catalog.applications.service import NotPermitted, service_of
    from schemas.access import Criterion, Decision
    from schemas.accounts import Principal, Role
    from tests.access.history import APP, submitted

    service = service_of(ctx)
    service.events.create(submitted())
    member = Principal(kind="user", user_id=2, roles=frozenset({Role.REVIEWER, Role.STEWARD, Role.ADMIN}))
    service.review(member, APP, {c: 4 for c in Criterion})
    with pytest.raises(NotPermitted, match="only a committee chair may decide"):
        service.decide(member, APP, Decision.APPROVE)
    chair = Principal(kind="user", user_id=3, roles=frozenset({Role.CHAIR}))
    assert service.decide(chair, APP, Decision.APPROVE).status.value == "approved"


def test_the_chair_attaches_an_output_check_run_for_the_application_to_the_decision(api: Api) -> None:
    aid = api("r", "POST", "/api/applications", 201, json={"datasets": [DATASET], "form": _form()})["id"]
    api("r", "POST", f"/api/applications/{aid}/submit")
    table = {"name": "counts.csv", "csv": "sex,young,old\nfemale,3,20\nmale,40,30\n"}
    report = api("rev1", "POST", f"/api/applications/{aid}/output-checks", 201, json=table)
    assert (report["ok"], report["flagged_cells"], report["application_id"]) == (False, 1, aid)
    listed: Any = api("chair", "GET", f"/api/applications/{aid}/output-checks")
    assert [r["id"] for r in listed] == [report["id"]]
    api("r", "POST", f"/api/applications/{aid}/output-checks", 403, json=table)
    api("rev1", "POST", f"/api/applications/{aid}/reviews", json={"scores": {c.value: 4 for c in Criterion}})
    unknown = {"decision": "approve", "output_reports": ["sha256:" + "b" * 64]}
    refused = api("chair", "POST", f"/api/applications/{aid}/decision", 409, json=unknown)["error"]
    assert refused["refusal"]["code"] == "output_report_unknown"
    assert "was not run for application" in refused["message"]
    decided = api(
        "chair",
        "POST",
        f"/api/applications/{aid}/decision",
        json={"decision": "approve", "output_reports": [report["id"]]},
    )
    assert decided["output_checks"] == [
        {"id": report["id"], "table": "counts.csv", "threshold": 5, "ok": False, "findings": 1, "flagged_cells": 1}
    ]
    events: Any = api("r", "GET", f"/api/applications/{aid}/events")
    assert events[-1]["type"] == "decided" and events[-1]["output_checks"][0]["id"] == report["id"]
