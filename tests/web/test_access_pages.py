"""The access application pages over a real app: the whole route through the forms, uploads checked and
stored by SHA-256, the rules' refusals beside their fields, role refusals, figures and the output check."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from catalog.app import create_app
from catalog.context import Context
from consent.api import registry_for
from consent.registry import EnrolmentInput
from schemas.access import Criterion
from schemas.consent import Category
from tests.consent.subjects import T0, national_id
from tests.web.conftest import add_user, csrf_of, sign_in

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def form_data(**changes: str) -> dict[str, str]:
    values = {
        "title": "Lung nodules in low-dose CT",
        "purpose": "DUO:0000006",
        "applicant_type": "academic",
        "institution": "NTU Hospital",
        "irb_board": "NTUH REC",
        "irb_number": "202601001RINA",
        "irb_approved_on": "2026-01-05",
        "irb_expires_on": "2030-01-04",
        "irb_role": "pi",
        "fields": "age\nsex\nnodule_size",
        "selection_criteria": "adults with a nodule over 6 mm",
        "imaging": "1",
        "period_months": "6",
        "channel": "vpn",
        "person_name_0": "Lin",
        "person_institution_0": "NTU Hospital",
    }
    values.update(changes)
    return values


@pytest.fixture
def people(ctx: Context) -> Iterator[dict[str, TestClient]]:
    app = create_app(ctx.settings, context=ctx)
    found = {}
    for name, role, inst in [
        ("r", "researcher", "NTU Hospital"),
        ("rev", "reviewer", "NCKU"),
        ("c", "chair", "Programme"),
        ("s", "steward", "Programme"),
    ]:
        add_user(ctx, f"{name}@x.tw", role, institution=inst)
        c = TestClient(app)
        assert sign_in(c, f"{name}@x.tw").status_code == 303
        c.get("/sign-in?lang=en")  # the language cookie: English pages from here on
        found[name] = c
    yield found
    for c in found.values():
        c.close()


def post(c: TestClient, page: str, action: str, data: dict[str, str], files: Any = None) -> Any:
    csrf = csrf_of(c.get(page).text)
    return c.post(action, data={"csrf": csrf, **data}, files=files, follow_redirects=False)


def apply(c: TestClient, dataset: str, **changes: str) -> str:
    files = {"irb_document": ("approval.pdf", PDF, "application/pdf")}
    data = {**form_data(**changes), "datasets": dataset, "action": "submit"}
    r = post(c, f"/applications/new?dataset={dataset}", "/applications", data, files)
    assert r.status_code == 303, r.text
    found = re.match(r"/applications/(A-[0-9a-f]+)\?done=submit", r.headers["location"])
    assert found, r.headers["location"]
    return found.group(1)


def test_the_whole_route_through_the_pages(people: dict[str, TestClient], ctx: Context, add: Any) -> None:
    r, rev, c, s = people["r"], people["rev"], people["c"], people["s"]
    guid = add("Lung CT", imaging={"modalities": ["CT"], "access_routes": ["review"]})
    registry = registry_for(ctx.settings)
    subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, 4)]
    registry.enrol([EnrolmentInput(x, guid, "NTU", Category.B, T0, (f"case-{i}",)) for i, x in enumerate(subjects)])

    assert "/applications/new?dataset=" in r.get(f"/dataset/{guid}").text
    aid = apply(r, guid)
    mine = r.get(f"/applications/{aid}").text
    assert 'data-status="submitted"' in mine and "approval.pdf" in mine
    digest = hashlib.sha256(PDF).hexdigest()
    stored = ctx.settings.data_dir / "access" / "documents" / aid / f"{digest}.pdf"
    assert stored.read_bytes() == PDF
    history = r.get(f"/api/applications/{aid}/events")  # no bearer token: the API never reads the cookie
    assert history.status_code == 401

    assert aid in rev.get("/review").text
    assert rev.get(f"/review/{aid}/documents/{digest}").content == PDF
    r2 = post(c, f"/review/{aid}", f"/review/{aid}/return", {"return_reason": "sign the IRB page"})
    assert r2.status_code == 303
    returned = r.get(f"/applications/{aid}").text
    assert 'data-status="returned"' in returned and "sign the IRB page" in returned

    page = f"/applications/{aid}"
    resubmit = {**form_data(), "irb_document_id": f"sha256:{digest}", "action": "resubmit"}
    assert post(r, page, f"/applications/{aid}/form", resubmit).status_code == 303
    scores = {f"score_{c.value}": "4" for c in Criterion}
    assert post(rev, f"/review/{aid}", f"/review/{aid}/scores", scores).status_code == 303
    decision = {"decision": "approve", "conditions": "on-site only"}
    assert post(c, f"/review/{aid}", f"/review/{aid}/decision", decision).status_code == 303

    steward_page = f"/steward/applications/{aid}"
    agreement = {"signed_on": "2026-12-01", "pledges": "Lin", "fee_paid": "1"}
    assert post(s, steward_page, f"{steward_page}/agreement", agreement).status_code == 303
    release = {"dataset": guid, "case_ids": "case-0\ncase-1"}
    assert post(s, steward_page, f"{steward_page}/release", release).status_code == 303

    active = r.get(f"/applications/{aid}?lang=en").text
    assert 'data-status="active"' in active and "2 cases released" in active
    cases = r.get(f"/applications/{aid}/releases/1/cases")
    assert cases.status_code == 200 and len(cases.text.split()) == 3
    types = [e.type for e in ctx_history(ctx, aid)]
    assert types[:5] == ["created", "draft_saved", "submitted", "returned", "resubmitted"]
    assert types[-1] == "released"
    figures = s.get("/steward/applications/figures?lang=en").text
    assert 'data-state="active"' in figures and "<svg" in figures and "100%" in figures
    assert aid in s.get("/steward/applications?state=active").text
    assert aid not in s.get("/steward/applications?state=draft").text


def ctx_history(ctx: Context, aid: str) -> list[Any]:
    from catalog.applications.service import service_of

    return service_of(ctx).events.history(aid)


def test_incomplete_form_keeps_input_and_puts_each_rule_beside_its_field(
    people: dict[str, TestClient], add: Any
) -> None:
    r = people["r"]
    guid = add("Lung CT")
    data = {**form_data(fields="", period_months="12"), "datasets": guid, "action": "submit"}
    response = post(r, f"/applications/new?dataset={guid}", "/applications", data)
    assert response.status_code == 409
    html = response.text
    assert 'id="e-fields"' in html and 'id="e-period_months"' in html and "at most 6 months" in html
    assert 'value="Lung nodules in low-dose CT"' in html  # the input is kept


def test_an_upload_that_is_not_a_pdf_is_refused_beside_its_field(people: dict[str, TestClient], add: Any) -> None:
    r = people["r"]
    guid = add("Lung CT")
    files = {"irb_document": ("approval.pdf", b"MZ not a pdf", "application/pdf")}
    data = {**form_data(), "datasets": guid, "action": "save"}
    response = post(r, f"/applications/new?dataset={guid}", "/applications", data, files)
    assert response.status_code == 400
    assert 'id="e-irb_document"' in response.text and "is not a PDF document" in response.text


def test_forms_without_the_csrf_token_are_refused(people: dict[str, TestClient], add: Any) -> None:
    guid = add("Lung CT")
    response = people["r"].post("/applications", data={**form_data(), "datasets": guid}, follow_redirects=False)
    assert response.status_code == 403


def test_pages_refuse_the_wrong_role(people: dict[str, TestClient], add: Any) -> None:
    r, rev, s = people["r"], people["rev"], people["s"]
    aid = apply(r, add("Lung CT"))
    assert rev.get("/applications").status_code == 403
    assert r.get("/review").status_code == 403
    assert r.get(f"/review/{aid}").status_code == 403
    assert r.get(f"/steward/applications/{aid}").status_code == 403
    assert rev.get("/steward/outputs").status_code == 403
    assert s.get(f"/applications/{aid}").status_code == 403


def test_another_researcher_cannot_see_an_application(people: dict[str, TestClient], ctx: Context, add: Any) -> None:
    aid = apply(people["r"], add("Lung CT"))
    add_user(ctx, "other@x.tw", "researcher")
    with TestClient(create_app(ctx.settings, context=ctx)) as other:
        sign_in(other, "other@x.tw")
        assert other.get(f"/applications/{aid}").status_code == 404


def test_output_check_page_shows_the_findings(people: dict[str, TestClient]) -> None:
    s = people["s"]
    table = b"sex,young,old,total\nfemale,3,20,23\nmale,12,30,42\ntotal,15,50,65\n"
    files = {"table": ("counts.csv", table, "text/csv")}
    response = post(s, "/steward/outputs", "/steward/outputs", {"threshold": "5"}, files)
    assert response.status_code == 200
    assert 'data-kind="small_cell"' in response.text and "output check of counts.csv" in response.text
    not_csv = {"table": ("x.pdf", PDF, "application/pdf")}
    bad = post(s, "/steward/outputs", "/steward/outputs", {"threshold": "5"}, not_csv)
    assert bad.status_code == 400 and 'id="e-table"' in bad.text


def test_the_expiry_job_records_the_end_of_access_once(ctx: Context) -> None:
    from catalog.applications.expiry import ExpiryScheduler
    from catalog.applications.service import service_of
    from tests.access.history import APP, released

    service = service_of(ctx)
    service.events.create(released(start="2026-04-01", ends="2026-10-01"))  # ended before today (2026-12 on)
    job = ExpiryScheduler(service, interval=3600)
    assert job.tick() == [APP]
    assert job.tick() == []
    assert [e.type for e in service.events.history(APP)][-1] == "expired"


def test_a_decision_without_a_choice_is_refused_beside_its_field(people: dict[str, TestClient], add: Any) -> None:
    aid = apply(people["r"], add("Lung CT"))
    response = post(people["c"], f"/review/{aid}", f"/review/{aid}/decision", {"decision_reason": "x"})
    assert response.status_code == 400 and 'id="e-decision"' in response.text
    missing = post(people["c"], f"/review/{aid}", "/review/A-000000000000/decision", {})
    assert missing.status_code == 404
    rejected = post(people["c"], f"/review/{aid}", f"/review/{aid}/decision", {"decision": "reject"})
    assert rejected.status_code == 409 and "a refusal must state its reasons" in rejected.text


def test_members_score_and_only_the_chair_returns_or_decides(people: dict[str, TestClient], add: Any) -> None:
    r, rev, c = people["r"], people["rev"], people["c"]
    aid = apply(r, add("Lung CT"))
    member_page = rev.get(f"/review/{aid}").text
    assert 'id="score-form"' in member_page and 'id="decision-form"' not in member_page
    assert 'id="chair-decides"' in member_page
    chair_page = c.get(f"/review/{aid}").text
    assert 'id="decision-form"' in chair_page and 'id="return-form"' in chair_page
    assert 'id="score-form"' not in chair_page
    assert aid in c.get("/review").text  # the chair sees the queue
    decision = {"decision": "approve"}
    assert post(rev, f"/review/{aid}", f"/review/{aid}/decision", decision).status_code == 403
    assert post(rev, f"/review/{aid}", f"/review/{aid}/return", {"return_reason": "x"}).status_code == 403
    scores = {f"score_{k.value}": "4" for k in Criterion}
    assert post(c, f"/review/{aid}", f"/review/{aid}/scores", scores).status_code == 403
    assert post(rev, f"/review/{aid}", f"/review/{aid}/scores", scores).status_code == 303
    assert post(c, f"/review/{aid}", f"/review/{aid}/decision", decision).status_code == 303
    assert [e.type for e in ctx_history(people_ctx(c), aid)][-2:] == ["reviewed", "decided"]


def people_ctx(client: TestClient) -> Context:
    ctx: Context = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def _active(people: dict[str, TestClient], ctx: Context, add: Any) -> tuple[str, str]:
    """An application approved, agreed and released through the pages: (id, dataset)."""
    r, rev, c, s = people["r"], people["rev"], people["c"], people["s"]
    guid = add("Lung CT", imaging={"modalities": ["CT"], "access_routes": ["review"]})
    registry = registry_for(ctx.settings)
    subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, 3)]
    registry.enrol([EnrolmentInput(x, guid, "NTU", Category.B, T0, (f"case-{i}",)) for i, x in enumerate(subjects)])
    aid = apply(r, guid)
    scores = {f"score_{k.value}": "4" for k in Criterion}
    assert post(rev, f"/review/{aid}", f"/review/{aid}/scores", scores).status_code == 303
    assert post(c, f"/review/{aid}", f"/review/{aid}/decision", {"decision": "approve"}).status_code == 303
    steward_page = f"/steward/applications/{aid}"
    agreement = {"signed_on": "2026-12-01", "pledges": "Lin", "fee_paid": "1"}
    assert post(s, steward_page, f"{steward_page}/agreement", agreement).status_code == 303
    release = {"dataset": guid, "case_ids": "case-0\ncase-1"}
    assert post(s, steward_page, f"{steward_page}/release", release).status_code == 303
    return aid, guid


def test_change_requests_follow_the_rules_and_say_why_when_refused(
    people: dict[str, TestClient], ctx: Context, add: Any
) -> None:
    r = people["r"]
    aid, _ = _active(people, ctx, add)
    page = f"/applications/{aid}"
    assert 'id="change-form"' in r.get(page).text
    change = {"change_kind": "personnel", "change_person_name_0": "Chen", "change_person_institution_0": "NTU Hospital"}
    assert post(r, page, f"{page}/changes", change).status_code == 303
    assert "Chen (NTU Hospital)" in r.get(f"{page}?lang=en").text
    again = post(r, page, f"{page}/changes", {**change, "change_person_name_0": "Wu"})
    assert again.status_code == 409 and 'id="change-refusal"' in again.text
    assert "personnel may change once every 6 months" in again.text
    assert 'value="Wu"' in again.text  # the input is kept
    no_kind = post(r, page, f"{page}/changes", {"change_fields": "bmi"})
    assert no_kind.status_code == 400 and 'id="e-change_kind"' in no_kind.text
    outsider = {"change_kind": "personnel", "change_person_name_0": "Ho", "change_person_institution_0": "NCKU"}
    fields = post(r, page, f"{page}/changes", {"change_kind": "fields", "change_fields": "bmi\nsmoking"})
    assert fields.status_code == 303
    assert post(r, page, f"{page}/changes", outsider).status_code == 409  # also inside the 6 months
    kinds = [e.kind.value for e in ctx_history(ctx, aid) if e.type == "change_requested"]
    assert kinds == ["personnel", "fields"]


def test_a_personnel_change_too_soon_is_refused_in_chinese_on_a_chinese_page(
    people: dict[str, TestClient], ctx: Context, add: Any
) -> None:
    r = people["r"]
    aid, _ = _active(people, ctx, add)
    page = f"/applications/{aid}"
    change = {"change_kind": "personnel", "change_person_name_0": "Chen", "change_person_institution_0": "NTU Hospital"}
    assert post(r, page, f"{page}/changes", change).status_code == 303
    last = ctx_history(ctx, aid)[-1].at.date()
    again = post(r, page, f"{page}/changes?lang=zh-Hant", {**change, "change_person_name_0": "Wu"})
    assert again.status_code == 409 and 'id="change-refusal"' in again.text
    assert f"資料處理人員每 6 個月只能變更一次；上次變更日期為 {last.isoformat()}" in again.text
    assert "personnel may change" not in again.text


def test_a_fourth_concurrent_application_waits_with_the_reason_in_chinese(
    people: dict[str, TestClient], add: Any
) -> None:
    r = people["r"]
    guid = add("Lung CT")
    running = sorted(apply(r, guid) for _ in range(3))
    data = {**form_data(), "datasets": guid, "action": "submit"}
    files = {"irb_document": ("approval.pdf", PDF, "application/pdf")}
    fourth = post(r, f"/applications/new?dataset={guid}", "/applications?lang=zh-Hant", data, files)
    assert fourth.status_code == 409, fourth.text
    html = fourth.text
    assert 'id="refusal"' in html and "每位申請者同時進行中的申請案最多 3 件" in html
    assert "、".join(running) in html and "running at once" not in html
    english = post(r, f"/applications/new?dataset={guid}", "/applications?lang=en", data, files)
    assert "at most 3 applications running at once" in english.text


def test_an_incomplete_form_names_each_rule_in_chinese_beside_its_field(
    people: dict[str, TestClient], add: Any
) -> None:
    r = people["r"]
    guid = add("Lung CT")
    data = {**form_data(fields="", period_months="12"), "datasets": guid, "action": "submit"}
    html = post(r, f"/applications/new?dataset={guid}", "/applications?lang=zh-Hant", data).text
    assert "試辦期間影像資料最長核給 6 個月，不能是 12 個月" in html
    assert "請列出所需的欄位" in html and "at most 6 months" not in html


def test_extension_and_usage_report_from_the_application_page(
    people: dict[str, TestClient], ctx: Context, add: Any
) -> None:
    r = people["r"]
    aid, _ = _active(people, ctx, add)
    page = f"/applications/{aid}"
    before = ctx_history(ctx, aid)[-1]
    assert post(r, page, f"{page}/extension", {"extension_months": "3"}).status_code == 303
    too_long = post(r, page, f"{page}/extension", {"extension_months": "12"})
    assert too_long.status_code == 409 and "at most 6 months" in too_long.text
    empty = post(r, page, f"{page}/reports", {"report_text": ""})
    assert empty.status_code == 400 and 'id="e-report_text"' in empty.text
    assert post(r, page, f"{page}/reports", {"report_text": "trained the nodule model"}).status_code == 303
    types = [e.type for e in ctx_history(ctx, aid)]
    assert types[-2:] == ["extended", "report_filed"] and before.type == "released"
    assert post(r, page, f"{page}/destruction", {"destruction_confirm": "1"}).status_code == 409  # still running
    stranger = people["rev"].post(f"{page}/reports", data={"report_text": "x"}, follow_redirects=False)
    assert stranger.status_code == 403


def test_destruction_is_confirmed_on_the_page_after_access_ends(ctx: Context) -> None:
    from catalog.applications.service import service_of
    from tests.access.history import APP, RESEARCHER, released

    uid = add_user(ctx, "ended@x.tw", "researcher", institution="NTU Hospital")
    me = f"user:{uid}"
    events = []
    for e in released(start="2026-04-01", ends="2026-10-01"):  # ended before today
        update: dict[str, Any] = {"actor": me} if e.actor == RESEARCHER else {}
        if getattr(e, "applicant", None) == RESEARCHER:
            update["applicant"] = me
        events.append(e.model_copy(update=update))
    service_of(ctx).events.create(events)
    with TestClient(create_app(ctx.settings, context=ctx)) as client:
        assert sign_in(client, "ended@x.tw").status_code == 303
        page = f"/applications/{APP}?lang=en"
        html = client.get(page).text
        assert 'data-status="expired"' in html and 'id="destruction-form"' in html
        assert 'id="change-form"' not in html and 'id="extension-form"' not in html
        unticked = post(client, page, f"/applications/{APP}/destruction", {"destruction_statement": "wiped"})
        assert unticked.status_code == 400 and 'id="e-destruction_confirm"' in unticked.text
        done = {"destruction_statement": "wiped the disks", "destruction_confirm": "1"}
        assert post(client, page, f"/applications/{APP}/destruction", done).status_code == 303
        closed = client.get(page).text
        assert 'data-status="closed"' in closed and 'id="destruction-confirmed"' in closed
    assert [e.type for e in service_of(ctx).events.history(APP)][-1] == "destruction_confirmed"


def test_stewards_see_every_unmet_obligation_and_what_it_blocks(people: dict[str, TestClient], ctx: Context) -> None:
    from catalog.applications.service import service_of
    from tests.access.history import APP, released

    service_of(ctx).events.create(released(start="2026-04-01", ends="2026-10-01"))  # ended, nothing filed
    s = people["s"]
    html = s.get("/steward/applications?lang=en").text
    assert f'data-application="{APP}" data-kind="destruction_missing"' in html
    assert f'data-application="{APP}" data-kind="report_overdue"' in html
    assert "Destruction not confirmed" in html and "destruction of the data is not confirmed" in html
    assert "未確認資料銷毀" in s.get("/steward/applications?lang=zh-Hant").text
    assert people["r"].get("/steward/applications").status_code == 403


SMALL = b"sex,young,old,total\nfemale,3,20,23\nmale,4,30,34\ntotal,7,50,57\n"
CLEAN = b"sex,young,old\nfemale,30,20\nmale,12,30\n"


def test_the_chair_attaches_output_check_reports_to_the_decision(
    people: dict[str, TestClient], ctx: Context, add: Any
) -> None:
    r, rev, c = people["r"], people["rev"], people["c"]
    aid = apply(r, add("Lung CT"))
    review = f"/review/{aid}"
    assert 'id="no-output-reports"' in c.get(review).text
    checked = post(rev, review, f"{review}/outputs", {"check_threshold": "5"}, {"check_table": ("counts.csv", SMALL)})
    assert checked.status_code == 303 and checked.headers["location"].endswith("done=output_check#h-outputs")
    from catalog.applications.service import service_of

    (first,) = service_of(ctx).output_reports(service_of(ctx).events.get(aid))
    assert (first.ok, first.flagged_cells, first.table) == (False, 2, "counts.csv")  # the 3 and the 4
    chair_page = c.get(review).text
    assert f'value="{first.id}"' in chair_page and 'enctype="multipart/form-data"' in chair_page
    scores = {f"score_{k.value}": "4" for k in Criterion}
    assert post(rev, review, f"{review}/scores", scores).status_code == 303
    decision: dict[str, Any] = {"decision": "approve", "output_reports": [first.id]}
    decided = post(c, review, f"{review}/decision", decision, {"decision_table": ("clean.csv", CLEAN)})
    assert decided.status_code == 303, decided.text
    event = ctx_history(ctx, aid)[-1]
    assert event.type == "decided"
    assert [(x.table, x.ok, x.flagged_cells) for x in event.output_checks] == [
        ("counts.csv", False, 2),
        ("clean.csv", True, 0),
    ]
    mine = r.get(f"/applications/{aid}?lang=en").text
    assert 'id="outputs-attached"' in mine and 'data-verdict="flagged"' in mine and 'data-verdict="ok"' in mine
    assert "2 cells flagged" in mine and "2 output-check report(s) attached" in mine  # the list and the history
    digest = first.id.removeprefix("sha256:")
    report = r.get(f"/applications/{aid}/outputs/{digest}?lang=zh-Hant")
    assert report.status_code == 200 and 'id="flagged-cells">2<' in report.text and "有問題" in report.text
    assert "output check of counts.csv" in report.text
    assert "決議所附的輸出審查報告" in r.get(f"/applications/{aid}?lang=zh-Hant").text
    assert c.get(f"{review}/outputs/{digest}").status_code == 200
    assert people["s"].get(f"/steward/applications/{aid}/outputs/{digest}").status_code == 200
    assert r.get(f"/applications/{aid}/outputs/{'0' * 64}").status_code == 404


def test_a_researcher_reads_only_the_reports_attached_to_the_decision(
    people: dict[str, TestClient], ctx: Context, add: Any
) -> None:
    r, rev = people["r"], people["rev"]
    aid = apply(r, add("Lung CT"))
    review = f"/review/{aid}"
    post(rev, review, f"{review}/outputs", {"check_threshold": "5"}, {"check_table": ("counts.csv", SMALL)})
    from catalog.applications.service import service_of

    (run,) = service_of(ctx).output_reports(service_of(ctx).events.get(aid))
    assert r.get(f"/applications/{aid}/outputs/{run.digest}").status_code == 404  # run, not attached
    assert rev.get(f"{review}/outputs/{run.digest}").status_code == 200


def test_an_unreadable_table_on_the_decision_form_is_refused_beside_its_field(
    people: dict[str, TestClient], ctx: Context, add: Any
) -> None:
    c = people["c"]
    aid = apply(people["r"], add("Lung CT"))
    review = f"/review/{aid}"
    bad = post(
        c,
        review,
        f"{review}/decision",
        {"decision": "reject", "decision_reason": "no"},
        {"decision_table": ("x.pdf", PDF)},
    )
    assert bad.status_code == 400 and 'id="e-decision_table"' in bad.text
    assert 'value="no"' in bad.text or ">no</textarea>" in bad.text  # the input is kept
    assert ctx_history(ctx, aid)[-1].type == "submitted"
    unknown = post(
        c,
        review,
        f"{review}/decision?lang=zh-Hant",
        {"decision": "reject", "decision_reason": "no", "output_reports": "sha256:" + "a" * 64},
    )
    assert unknown.status_code == 409 and "並非為申請案" in unknown.text


def test_a_steward_check_is_kept_with_the_application_named(
    people: dict[str, TestClient], ctx: Context, add: Any
) -> None:
    s = people["s"]
    aid = apply(people["r"], add("Lung CT"))
    files = {"table": ("counts.csv", SMALL, "text/csv")}
    kept = post(s, "/steward/outputs", "/steward/outputs", {"threshold": "5", "application": aid}, files)
    assert kept.status_code == 200 and 'id="report-kept"' in kept.text
    from catalog.applications.service import service_of

    assert [x.table for x in service_of(ctx).output_reports(service_of(ctx).events.get(aid))] == ["counts.csv"]
    assert f'value="{aid}"' in s.get(f"/steward/outputs?application={aid}").text
    unknown = post(s, "/steward/outputs", "/steward/outputs", {"threshold": "5", "application": "A-nope"}, files)
    assert unknown.status_code == 400 and 'id="e-application"' in unknown.text
