"""The portal in real headless Chromium: the consent story end to end, and axe-core on every portal page in
both languages (zero violations)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from consent.api import registry_for
from consent.release import create_release
from schemas import Dataset
from tests.consent.subjects import national_id
from tests.web.conftest import LiveServer, axe_violations, minimal_dataset
from tests.web.test_portal_pages import PROJECT, enrol_two

pytestmark = pytest.mark.browser


def _axe_both_languages(page: Any, axe_source: str, where: str) -> None:
    """axe-core on the page as shown, then in the other language (switched by its link), then back."""
    for _ in range(2):
        lang = page.get_attribute("html", "lang")
        assert axe_violations(page, axe_source) == [], (where, lang)
        page.click(".lang-switch a.lang-link")
        page.wait_for_load_state()
        assert page.get_attribute("html", "lang") != lang


def test_the_consent_story_and_every_page_accessible(
    live_server: LiveServer, page: Any, axe_source: str, tmp_path: Any
) -> None:
    ctx = live_server.ctx
    ntu = ctx.store.save(Dataset.model_validate(minimal_dataset("NTU chest CT")), actor="t", activity="create").guid
    tmu = ctx.store.save(Dataset.model_validate(minimal_dataset("TMU brain MRI")), actor="t", activity="create").guid
    registry = registry_for(ctx.settings)
    # The steward's side: two datasets enrolled, the notices sent with their one-time codes.
    _, code = enrol_two(registry, ntu, tmu, n=41)
    enrol_two(registry, ntu, tmu, n=42)
    before = create_release(
        registry,
        "app-1",
        ntu,
        "GRU",
        pa.table({"case_id": ["ntu-41", "ntu-42"]}),
        tmp_path / "r1",
        date(2099, 1, 1),
        project=PROJECT,
    )
    base = live_server.url
    page.goto(base + "/portal")
    assert page.get_attribute("html", "lang") == "zh-Hant-TW"
    _axe_both_languages(page, axe_source, "sign-in")
    page.fill("#f-national_id", national_id(41))
    page.fill("#f-secret", code)
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/password")
    _axe_both_languages(page, axe_source, "password")
    page.fill("#f-password", "my own sentence")
    page.fill("#f-password_again", "my own sentence")
    page.click("#portal-password button[type=submit]")
    page.wait_for_url("**/portal/my-data**")
    _axe_both_languages(page, axe_source, "my data")
    page.goto(base + "/portal/language?to=en&next=/portal/my-data")
    page.click(f"[data-dataset='{ntu}'] a.button")
    page.wait_for_url("**/portal/change**")
    assert "Future releases of NTU chest CT will not include your data." in page.inner_text("#portal-plan")
    assert "The 1 projects" in page.inner_text("#portal-plan")
    _axe_both_languages(page, axe_source, "confirm")
    page.click("#portal-confirm button[type=submit]")
    page.wait_for_url("**/portal/receipt/**")
    _axe_both_languages(page, axe_source, "receipt")
    # Releases made after the opt-out: NTU's leaves person 41 out, TMU's still holds them.
    after = create_release(
        registry, "app-2", ntu, "GRU", pa.table({"case_id": ["ntu-41", "ntu-42"]}), tmp_path / "r2", date(2099, 1, 1)
    )
    other = create_release(
        registry,
        "app-3",
        tmu,
        "GRU",
        pa.table({"case_id": ["tmu-41"]}),
        tmp_path / "r3",
        date(2099, 1, 1),
        project=PROJECT,
    )
    assert (after.cases_out, after.excluded.get("opted_out"), other.cases_out) == (1, 1, 1)
    page.goto(base + "/portal/my-data")
    releases = page.inner_text("#portal-releases")
    assert page.locator(f"[data-release='{before.release_id}']").count() == 1
    assert page.locator(f"[data-release='{other.release_id}']").count() == 1
    assert page.locator(f"[data-release='{after.release_id}']").count() == 0
    assert "have not confirmed yet" in releases or "尚未確認" in releases
    page.goto(base + "/portal/history")
    _axe_both_languages(page, axe_source, "history")
    page.click("#portal-sign-out")
    page.wait_for_url("**/portal**")
    # The used code cannot sign in again; the page says the same as for a wrong code.
    page.fill("#f-national_id", national_id(41))
    page.fill("#f-secret", code)
    page.click("#portal-sign-in button[type=submit]")
    page.wait_for_selector("#portal-message")
    _axe_both_languages(page, axe_source, "sign-in failed")


def test_the_steward_reissue_page_is_accessible(live_server: LiveServer, page: Any, axe_source: str) -> None:
    from tests.web.conftest import PASSWORD, add_user

    add_user(live_server.ctx, "portal-steward@ntu.edu.tw", "steward")
    page.goto(live_server.url + "/sign-in?next=/steward/portal-code")
    page.fill("#f-email", "portal-steward@ntu.edu.tw")
    page.fill("#f-password", PASSWORD)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_url("**/steward/portal-code")
    for lang in ("zh-Hant", "en"):
        page.goto(live_server.url + f"/steward/portal-code?lang={lang}")
        assert axe_violations(page, axe_source) == [], lang
