"""The access route in real headless Chromium, in both languages, to the end of the project: a researcher
applies from the dataset page, the chair returns it, the researcher corrects and resubmits, two committee
members score, the chair checks an output table and approves with a condition and that report attached, a
steward records the agreement and releases, the researcher downloads the case list, files a usage report,
a data subject opts out (in the consent registry), the researcher acknowledges the withdrawal notice, the
period ends (the expiry job run as of the end date) and the researcher confirms destruction. axe-core reports
no violation on any page of the route (the forms with their problems shown too)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORD, LiveServer, add_user, axe_violations, minimal_dataset

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
CRITERIA = ["scientific_basis", "interpretation", "use_security", "social_impact", "reciprocity"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from catalog.context import open_context
    from consent.api import registry_for
    from consent.registry import EnrolmentInput
    from schemas import Dataset
    from schemas.consent import Category
    from tests.consent.subjects import T0, national_id
    from tests.web.conftest import free_port, make_settings, start_server

    tmp = tmp_path_factory.mktemp("access")
    port = free_port()
    ctx = open_context(make_settings(tmp, host="127.0.0.1", port=port, base_url=f"http://127.0.0.1:{port}"))
    ds = Dataset.model_validate(minimal_dataset("Lung CT", imaging={"modalities": ["CT"], "access_routes": ["review"]}))
    guid = ctx.store.save(ds, actor="test", activity="create").guid
    registry = registry_for(ctx.settings)
    subjects = [registry.pseudonymiser.subject(national_id(n)) for n in range(1, 4)]
    registry.enrol([EnrolmentInput(s, guid, "NTU", Category.B, T0, (f"case-{i}",)) for i, s in enumerate(subjects)])
    add_user(ctx, "r@ntu.edu.tw", "researcher", institution="NTU Hospital")
    add_user(ctx, "rev@ncku.edu.tw", "reviewer", institution="NCKU")
    add_user(ctx, "rev2@ntu.edu.tw", "reviewer", institution="NTU Hospital")  # the applicant's: a conflict
    add_user(ctx, "chair@nhri.org.tw", "chair", institution="NHRI")
    add_user(ctx, "s@moh.gov.tw", "steward", institution="Programme")
    ctx.extensions["test_dataset"] = guid
    ctx.extensions["test_subjects"] = subjects
    server, thread = start_server(ctx)
    try:
        yield LiveServer(ctx.settings.base_url, ctx)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _person(browser: Any, server: LiveServer, email: str, lang: str) -> Any:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/sign-in?lang={lang}")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.press("#f-password", "Enter")
    page.wait_for_load_state()
    return page


def _clean(page: Any, axe_source: str, where: str) -> None:
    assert axe_violations(page, axe_source) == [], where


def _fill_form(page: Any, criteria: str) -> None:
    page.fill("#f-title", "Lung nodules in low-dose CT")
    page.select_option("#f-purpose", "DUO:0000006")
    page.check("input[name=applicant_type][value=academic]")
    page.fill("#f-institution", "NTU Hospital")
    page.fill("#f-irb_board", "NTUH REC")
    page.fill("#f-irb_number", "202601001RINA")
    page.fill("#f-irb_approved_on", "2026-01-05")
    page.fill("#f-irb_expires_on", "2030-01-04")
    page.check("input[name=irb_role][value=pi]")
    page.fill("#f-fields", "age\nsex\nnodule_size")
    page.fill("#f-selection_criteria", criteria)
    page.select_option("#f-period_months", "6")
    page.check("input[name=channel][value=vpn]")
    page.fill("#f-person_name_0", "Lin")
    page.fill("#f-person_institution_0", "NTU Hospital")


@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
def test_apply_review_release_and_follow_the_project_to_its_end(
    browser: Any, server: LiveServer, axe_source: str, lang: str
) -> None:
    guid = server.ctx.extensions["test_dataset"]
    researcher = _person(browser, server, "r@ntu.edu.tw", lang)
    reviewer = _person(browser, server, "rev@ncku.edu.tw", lang)
    reviewer2 = _person(browser, server, "rev2@ntu.edu.tw", lang)
    chair = _person(browser, server, "chair@nhri.org.tw", lang)
    steward = _person(browser, server, "s@moh.gov.tw", lang)

    researcher.goto(f"{server.url}/dataset/{guid}")
    researcher.click("#apply-for-access")
    researcher.wait_for_selector("#application-form")
    _clean(researcher, axe_source, "new application")
    researcher.fill("#f-title", "Lung nodules in low-dose CT")
    researcher.click("#action-submit")
    researcher.wait_for_selector("#form-errors")
    _clean(researcher, axe_source, "new application with its problems")
    _fill_form(researcher, "adults with a nodule")
    researcher.set_input_files(
        "#f-irb_document", {"name": "approval.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    researcher.click("#action-submit")
    researcher.wait_for_selector("#done-notice")
    assert researcher.get_attribute("#app-status", "data-status") == "submitted"
    app_url = researcher.url.split("?")[0]
    app_id = app_url.rsplit("/", 1)[1]
    _clean(researcher, axe_source, "submitted application")
    researcher.goto(f"{server.url}/applications")
    assert researcher.locator(f'tr[data-application="{app_id}"]').count() == 1
    _clean(researcher, axe_source, "my applications")

    chair.goto(f"{server.url}/review")
    _clean(chair, axe_source, "review queue (chair)")
    chair.click(f'tr[data-application="{app_id}"] a')
    chair.wait_for_selector("#return-form")
    assert chair.locator("#documents a").count() == 1 and chair.locator("#score-form").count() == 0
    _clean(chair, axe_source, "application under review (chair)")
    chair.fill("#f-return_reason", "state the nodule size in the criteria")
    chair.click("#submit-return")
    chair.wait_for_selector("#done-notice")

    researcher.goto(app_url)
    assert researcher.get_attribute("#app-status", "data-status") == "returned"
    assert "state the nodule size" in researcher.inner_text("#return-reason")
    _clean(researcher, axe_source, "returned application")
    researcher.fill("#f-selection_criteria", "adults with a nodule over 6 mm")
    researcher.click("#action-resubmit")
    researcher.wait_for_selector("#done-notice")
    assert researcher.get_attribute("#app-status", "data-status") == "submitted"

    reviewer.goto(f"{server.url}/review")
    _clean(reviewer, axe_source, "review queue")
    reviewer.click(f'tr[data-application="{app_id}"] a')
    reviewer.wait_for_selector("#score-form")
    assert reviewer.locator("#decision-form").count() == 0
    _clean(reviewer, axe_source, "application under review (member)")
    for member, score in ((reviewer, "4"), (reviewer2, "3")):
        member.goto(f"{server.url}/review/{app_id}")
        for c in CRITERIA:
            member.select_option(f"#f-score_{c}", score)
        member.fill("#f-comment", "sound design")
        member.click("#submit-scores")
        member.wait_for_selector("#done-notice")
    assert reviewer2.locator("#conflict").count() == 1  # same institution as the applicant
    _clean(reviewer2, axe_source, "scored application with a conflict of interest")
    chair.goto(f"{server.url}/review/{app_id}")
    assert chair.locator("#reviews tbody tr").count() == 2
    counts = b"sex,young,old,total\nfemale,3,20,23\nmale,12,30,42\ntotal,15,50,65\n"
    chair.set_input_files("#f-check_table", {"name": "counts.csv", "mimeType": "text/csv", "buffer": counts})
    chair.click("#run-output-check")
    chair.wait_for_selector("#output-reports li")
    _clean(chair, axe_source, "output check run for the application (chair)")
    chair.check("input[name=output_reports]")
    chair.check("input[name=decision][value=approve]")
    chair.fill("#f-conditions", "analysis on site only")
    chair.click("#submit-decision")
    chair.wait_for_selector("#done-notice")
    _clean(chair, axe_source, "decided application")
    chair.click("#outputs-attached a")
    chair.wait_for_selector("#flagged-cells")
    assert chair.get_attribute("#verdict", "data-verdict") == "flagged"
    _clean(chair, axe_source, "attached output-check report")

    steward.goto(f"{server.url}/steward/applications?state=approved")
    _clean(steward, axe_source, "all applications")
    steward.click(f'tr[data-application="{app_id}"] a')
    steward.wait_for_selector("#agreement-form")
    _clean(steward, axe_source, "approved application (steward)")
    steward.fill("#f-signed_on", "2026-12-01")
    steward.check("input[name=fee_paid]")
    steward.click("#submit-agreement")
    steward.wait_for_selector("#release-form")
    _clean(steward, axe_source, "release form")
    steward.fill("#f-case_ids", "case-0\ncase-1")
    steward.click("#submit-release")
    steward.wait_for_selector("#releases")
    steward.goto(f"{server.url}/steward/applications/figures")
    assert steward.locator("#state-chart rect").count() == 9
    _clean(steward, axe_source, "figures")
    steward.goto(f"{server.url}/steward/outputs")
    _clean(steward, axe_source, "output check form")
    table = b"sex,young,old,total\nfemale,3,20,23\nmale,12,30,42\ntotal,15,50,65\n"
    steward.set_input_files("#f-table", {"name": "counts.csv", "mimeType": "text/csv", "buffer": table})
    steward.click("#run-check")
    steward.wait_for_selector("#findings")
    _clean(steward, axe_source, "output check report")

    researcher.goto(app_url)
    assert researcher.get_attribute("#app-status", "data-status") == "active"
    assert researcher.locator("#releases a").count() == 2  # the case list and its manifest
    _clean(researcher, axe_source, "active application")
    timeline = [e.get_attribute("data-event") for e in researcher.locator("#timeline li").all()]
    # The first try saved a draft and was refused; then submitted, returned, resubmitted.
    assert timeline[:5] == ["created", "draft_saved", "draft_saved", "submitted", "returned"]
    assert "resubmitted" in timeline
    assert timeline[-1] == "released"
    assert "analysis on site only" in researcher.inner_text("#h-state + dl")
    assert researcher.locator("#outputs-attached li").count() == 1  # the report the chair attached

    with researcher.expect_download() as download:
        researcher.click("#releases a >> nth=0")
    lines = Path(download.value.path()).read_text().split()
    assert lines[0] == '"release_pseudonym"' and len(lines) >= 2  # the header and the released pseudonyms
    researcher.check("input[name=change_kind][value=fields]")
    researcher.click("#submit-change")
    researcher.wait_for_selector("#change-refusal")
    refusal = {"en": "name the fields to add", "zh-Hant": "請列出要增加的欄位"}[lang]  # the rule in the page's language
    assert refusal in researcher.inner_text("#change-refusal")
    _clean(researcher, axe_source, "refused change request")
    researcher.fill("#f-report_text", "trained a nodule detector on site")
    researcher.click("#submit-report")
    researcher.wait_for_selector("#done-notice")

    # A data subject of the release opts out in the consent registry: the release gets a withdrawal notice.
    _opt_out(server, 0 if lang == "en" else 1)
    steward.goto(f"{server.url}/steward/applications")
    owed = f'#blocked tr[data-application="{app_id}"][data-kind="withdrawal_unacknowledged"]'
    assert steward.locator(owed).count() == 1
    _clean(steward, axe_source, "unmet obligations (steward)")
    researcher.goto(app_url)
    researcher.wait_for_selector("#notices")
    assert researcher.locator("#obligations li").count() == 1
    _clean(researcher, axe_source, "withdrawal notice")
    researcher.click("#notices button")
    researcher.wait_for_selector("#done-notice")
    assert researcher.locator("#notices").count() == 0 and researcher.locator("#obligations").count() == 0
    assert researcher.get_attribute("#timeline li:last-child", "data-event") == "withdrawal_acknowledged"

    # The period ends: the expiry job, run as of the end date, records it.
    ends_on = _ends_on(server, app_id)
    expired = _expire(server, datetime.combine(ends_on, time(1)).astimezone())
    assert app_id in expired
    researcher.goto(app_url)
    assert researcher.get_attribute("#app-status", "data-status") == "expired"
    assert researcher.locator("#releases a").count() == 0 and researcher.locator("#change-form").count() == 0
    _clean(researcher, axe_source, "expired application")
    researcher.click("#submit-destruction")
    researcher.wait_for_selector("#e-destruction_confirm")
    _clean(researcher, axe_source, "destruction form with its problem")
    researcher.fill("#f-destruction_statement", "deleted from the VPN workstation")
    researcher.check("#f-destruction_confirm")
    researcher.click("#submit-destruction")
    researcher.wait_for_selector("#destruction-confirmed")
    assert researcher.get_attribute("#app-status", "data-status") == "closed"
    _clean(researcher, axe_source, "closed application")
    steward.goto(f"{server.url}/steward/applications?overdue=1")
    assert steward.locator(f'tr[data-application="{app_id}"]').count() == 0
    _clean(steward, axe_source, "nothing overdue (steward)")
    for p in (researcher, reviewer, reviewer2, chair, steward):
        p.context.close()


def _opt_out(server: LiveServer, index: int) -> None:
    from consent.api import registry_for
    from schemas.consent import EventKind, EventRequest

    subject = server.ctx.extensions["test_subjects"][index]
    registry_for(server.ctx.settings).append([EventRequest(subject=subject, kind=EventKind.OPTED_OUT)])


def _ends_on(server: LiveServer, app_id: str) -> Any:
    from catalog.applications.service import service_of

    ends_on = service_of(server.ctx).events.get(app_id).ends_on
    assert ends_on is not None
    return ends_on


def _expire(server: LiveServer, at: datetime) -> list[str]:
    from catalog.applications.service import service_of

    assert at > datetime.now().astimezone() + timedelta(days=60)  # a true end of access, months ahead
    return service_of(server.ctx).expire_due(at)
