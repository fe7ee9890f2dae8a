"""The dataset workbench in real headless Chromium: a steward edits both titles and a vocabulary field
and sees the diff in the history; axe-core finds nothing on any workbench page in either language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from schemas import Dataset
from tests.web.conftest import (
    LiveServer,
    axe_violations,
    minimal_dataset,
    served_with_users,
    sign_in_page,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with served_with_users(tmp_path_factory.mktemp("workbench"), ("steward@ntu.edu.tw", "steward")) as live:
        yield live


def _sign_in(page: Any, url: str, then: str) -> None:
    sign_in_page(page, url, "steward@ntu.edu.tw", then)


def test_a_steward_edits_both_titles_and_a_vocabulary_field_and_sees_the_diff(page: Any, server: LiveServer) -> None:
    guid = server.ctx.store.save(Dataset.model_validate(minimal_dataset("Chest CT")), actor="seed").guid
    _sign_in(page, server.url, "/steward/datasets")
    page.click(f'#datasets tr[data-guid="{guid}"] a >> nth=0')
    page.wait_for_selector("#dataset-form")
    page.fill('[id="f-title__zh-Hant"]', "胸部電腦斷層（新版）")
    page.fill('[id="f-title__en"]', "Chest CT, second edition")
    page.check('[id="f-modalities-MR"]')
    page.fill("#f-reason", "titles in both languages; MR added")
    page.click("#save")
    page.wait_for_selector("#saved")
    page.goto(f"{server.url}/steward/datasets/{guid}/history?lang=en")
    diff = page.locator("#diff")
    assert diff.locator('tr[data-path="title"][data-lang="zh-Hant"]').inner_text().count("胸部電腦斷層（新版）") == 1
    assert "Chest CT, second edition" in diff.locator('tr[data-path="title"][data-lang="en"]').inner_text()
    assert "MR" in diff.locator('tr[data-path="imaging.modalities"]').inner_text()
    assert "titles in both languages; MR added" in page.locator("#revisions").inner_text()


@pytest.mark.parametrize("lang", ["zh-Hant", "en"])
def test_workbench_pages_have_no_axe_violations(page: Any, server: LiveServer, axe_source: str, lang: str) -> None:
    guid = server.ctx.store.save(Dataset.model_validate(minimal_dataset(f"Axe {lang}")), actor="seed").guid
    _sign_in(page, server.url, "/steward/datasets")
    for path in ("/steward/datasets", "/steward/datasets/new", f"/steward/datasets/{guid}/edit",
                 f"/steward/datasets/{guid}/history", "/steward/import"):  # fmt: skip
        page.goto(f"{server.url}{path}?lang={lang}")
        assert axe_violations(page, axe_source) == [], path
    # The form sent back with messages beside its fields, and a stale edit showing both versions.
    page.goto(f"{server.url}/steward/datasets/{guid}/edit?lang={lang}")
    page.fill('[id="f-title__en"]', "")
    page.fill('[id="f-title__zh-Hant"]', "")
    page.fill('[id="f-dist-0-access_url"]', "not a url")
    page.click("#save")
    page.wait_for_selector("#form-errors")
    assert axe_violations(page, axe_source) == [], "form with errors"
    page.goto(f"{server.url}/steward/datasets/{guid}/edit?lang={lang}")
    current = server.ctx.store.get(guid)
    server.ctx.store.save(current.dataset.model_copy(update={"title": {"en": "Theirs"}}), actor="other")
    page.fill('[id="f-title__en"]', "Mine")
    page.click("#save")
    page.wait_for_selector("#conflict")
    assert axe_violations(page, axe_source) == [], "stale edit"
    # The upload preview with its SHACL report.
    from tests.test_upload_import import TURTLE

    page.goto(f"{server.url}/steward/import?lang={lang}")
    page.set_input_files("#f-file", files=[{"name": "c.ttl", "mimeType": "text/turtle", "buffer": TURTLE}])
    page.click("#upload")
    page.wait_for_selector("#preview")
    assert axe_violations(page, axe_source) == [], "import preview"
    page.goto(f"{server.url}/steward/datasets/{guid}/edit?lang={lang}")
    page.fill('[id="f-title__en"]', "Mine")
    page.click("#add-contact")
    page.wait_for_selector("#contact-1")
    assert page.input_value('[id="f-title__en"]') == "Mine"
