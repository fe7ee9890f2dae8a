"""The AI-model pages in real headless Chromium: a steward records a model with the keyboard-free form
and finds it by class; axe-core finds nothing on any new page in either language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from catalog.models.store import models_of
from schemas import AIModel
from tests.models.conftest import a_dataset, model_json
from tests.web.conftest import LiveServer, axe_violations, served_with_users, sign_in_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with served_with_users(tmp_path_factory.mktemp("models"), ("steward@ntu.edu.tw", "steward")) as live:
        yield live


def _sign_in(page: Any, url: str, then: str) -> None:
    sign_in_page(page, url, "steward@ntu.edu.tw", then)


def test_a_steward_records_an_application_model_and_finds_it_under_its_class(page: Any, server: LiveServer) -> None:
    lung = a_dataset(server.ctx.store, "Browser lung CT")
    _sign_in(page, server.url, "/steward/models/new")
    page.fill('[id="f-name__zh-Hant"]', "肺部應用模型")
    page.fill('[id="f-name__en"]', "Lung application model")
    page.fill('[id="f-description__zh-Hant"]', "聯邦學習")
    page.fill('[id="f-description__en"]', "Federated")
    page.fill('[id="f-reciprocity__zh-Hant"]', "回饋評估")
    page.fill('[id="f-reciprocity__en"]', "Feedback")
    page.check("#f-sharing_class-application_model")
    page.check("#f-channels-federated_learning")
    page.select_option("#f-task", "segmentation")
    page.fill("#f-training_datasets", lung)
    page.fill("#f-version", "0.1")
    page.click("#save")
    page.wait_for_selector("#saved")
    page.goto(f"{server.url}/models?sharing_class=application_model&lang=en")
    page.click("text=Lung application model")
    assert "Browser lung CT" in page.locator("#training").inner_text()


@pytest.mark.parametrize("lang", ["zh-Hant", "en"])
def test_model_pages_have_no_axe_violations(page: Any, server: LiveServer, axe_source: str, lang: str) -> None:
    lung = a_dataset(server.ctx.store, f"Axe {lang}")
    fig = {"metric": "AUROC", "value": 0.9, "dataset_guid": lung}
    body = model_json("validated_software", training=[lung], performance=[fig], regulatory_approval="sample")
    guid = models_of(server.ctx).save(AIModel.model_validate(body), actor="seed").guid
    for path in ("/models", f"/model/{guid}", f"/dataset/{lung}"):
        page.goto(f"{server.url}{path}?lang={lang}")
        assert axe_violations(page, axe_source) == [], path
    _sign_in(page, server.url, "/steward/models/new")
    for path in (
        "/steward/models/new",
        f"/steward/models/{guid}/edit",
        f"/steward/models/{guid}/history",
        f"/model/{guid}",
    ):
        page.goto(f"{server.url}{path}?lang={lang}")
        assert axe_violations(page, axe_source) == [], path
    page.goto(f"{server.url}/steward/models/new?lang={lang}")
    page.fill('[id="f-name__en"]', "Half named")
    page.fill("#f-training_datasets", "dg.TW01/00000000-0000-4000-8000-000000000000")
    page.fill("#f-perf-0-value", "high")
    page.click("#save")
    page.wait_for_selector("#form-errors")
    assert page.locator("#e-training_datasets").is_visible()
    assert axe_violations(page, axe_source) == [], "form with errors"
