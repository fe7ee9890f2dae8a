"""The consent workbench in real headless Chromium: a steward uploads an enrolment file with two bad rows,
sees them in the preview, fixes the file, commits, and the report shows the new counts; axe-core finds
nothing on any workbench page in either language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.consent.subjects import national_id
from tests.web.conftest import PASSWORD, LiveServer, add_user, axe_violations

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    from catalog.context import open_context
    from schemas import Dataset
    from tests.web.conftest import free_port, make_settings, minimal_dataset, start_server

    tmp = tmp_path_factory.mktemp("consentwb")
    port = free_port()
    ctx = open_context(make_settings(tmp, host="127.0.0.1", port=port, base_url=f"http://127.0.0.1:{port}"))
    add_user(ctx, "steward@ntuh.gov.tw", "steward")
    guid = ctx.store.save(Dataset.model_validate(minimal_dataset("Chest CT")), actor="test", activity="create").guid
    server, thread = start_server(ctx)
    try:
        yield LiveServer(ctx.settings.base_url, ctx), guid
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _sign_in(page: Any, url: str) -> None:
    page.goto(url + "/sign-in?next=/steward/consent/upload")
    page.fill("#f-email", "steward@ntuh.gov.tw")
    page.fill("#f-password", PASSWORD)
    page.press("#f-password", "Enter")
    page.wait_for_url(lambda u: urlsplit(u).path == "/steward/consent/upload")


def _file(tmp_path: Path, name: str, guid: str, first: int, broken: bool) -> Path:
    rows = ["national_id,institution,dataset,category,case_ids,enrolled_on"]
    for n in range(first, first + 4):
        rows.append(f"{national_id(n, 'B')},Chang Gung,{guid},C,cg-{n},2019-01-01")
    if broken:
        rows[2] = rows[2].replace(national_id(first + 1, "B"), "B12345")
        rows[4] = rows[4].replace(",C,", ",Q,")
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _upload(page: Any, url: str, kind: str, path: Path) -> None:
    page.goto(url + "/steward/consent/upload?lang=en")
    page.check(f"#kind-{kind}")
    page.set_input_files("#f-file", str(path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_load_state()


def test_a_steward_fixes_two_bad_rows_commits_and_sees_the_counts(
    page: Any, server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, guid = server
    _sign_in(page, live.url)
    _upload(page, live.url, "enrolments", _file(tmp_path, "cg.csv", guid, 1, broken=True))
    assert page.locator("#preview-refused").count() == 1
    lines = page.locator("#problems tbody tr").evaluate_all("rows => rows.map(r => [r.dataset.line, r.dataset.column])")
    assert lines == [["3", "national_id"], ["5", "category"]]
    assert page.locator("#commit-form").count() == 0
    _upload(page, live.url, "enrolments", _file(tmp_path, "cg.csv", guid, 1, broken=False))
    assert page.locator('[data-count="enrolments"]').inner_text() == "4"
    page.click("#commit")
    page.wait_for_load_state()
    assert page.locator("#committed").count() == 1
    mailing = tmp_path / "mail.csv"
    mailing.write_text(
        "national_id,institution,sent_on\n"
        + "".join(f"{national_id(n, 'B')},Chang Gung,2020-03-01\n" for n in range(1, 5)),
        encoding="utf-8",
    )
    _upload(page, live.url, "notices-sent", mailing)
    page.click("#commit")
    page.wait_for_load_state()
    with page.expect_download() as download:
        page.click("#download-letters")
    assert download.value.suggested_filename == "mail.merge.csv"
    page.goto(live.url + "/steward/consent/report?lang=en")
    row = page.locator('#report tr[data-institution="Chang Gung"]')
    assert row.locator('[data-col="sent"]').inner_text() == "4"
    assert page.locator("#chart svg[role=img]").count() == 1


@pytest.mark.parametrize("lang", ["zh-Hant", "en"])
def test_workbench_pages_have_no_axe_violations(
    page: Any, server: tuple[LiveServer, str], axe_source: str, lang: str, tmp_path: Path
) -> None:
    live, guid = server
    _sign_in(page, live.url)
    for path in ("/steward/consent/upload", "/steward/consent/record", "/steward/consent/report"):
        page.goto(f"{live.url}{path}?lang={lang}")
        assert axe_violations(page, axe_source) == [], path
    # A preview with bad rows, and one ready to confirm.
    first = 100 if lang == "en" else 200
    _upload(page, live.url, "enrolments", _file(tmp_path, "x.csv", guid, first, broken=True))
    page.goto(page.url.split("?")[0] + f"?lang={lang}")
    assert axe_violations(page, axe_source) == [], "preview with problems"
    _upload(page, live.url, "enrolments", _file(tmp_path, "x.csv", guid, first, broken=False))
    page.goto(page.url.split("?")[0] + f"?lang={lang}")
    assert axe_violations(page, axe_source) == [], "preview ready"
    page.click("#commit")
    page.wait_for_load_state()
    assert axe_violations(page, axe_source) == [], "committed"
    # The paper form sent back with problems, then recorded.
    page.goto(f"{live.url}/steward/consent/record?lang={lang}")
    page.click("#record-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#form-errors").count() == 1
    assert axe_violations(page, axe_source) == [], "record with errors"
    page.goto(f"{live.url}/steward/consent/record?lang={lang}")
    page.fill("#f-national_id", national_id(first, "B"))
    page.select_option("#f-choice", "withdrawn")
    page.fill("#f-signed_on", "2024-02-02")
    page.fill("#f-evidence", "archive 12")
    page.click("#record-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#pseudonym").count() == 1
    assert national_id(first, "B") not in page.content()
    assert axe_violations(page, axe_source) == [], "recorded"
    page.goto(f"{live.url}/steward/consent/report?lang={lang}")
    page.click("#verify-now")
    page.wait_for_load_state()
    assert page.locator('#last-verify [data-ok="true"]').count() == 1
    assert axe_violations(page, axe_source) == [], "report after verify"
