"""Real headless Chromium (Debian's) against a real `fairgate run` server with the sample catalog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_the_home_page_shows_the_25_sample_datasets(page: Any, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    assert page.locator(".dataset-card").count() == 25
    assert page.locator("#result-count").inner_text().strip() == "25 datasets"


def test_clicking_a_dataset_opens_its_page_with_its_case_counts(page: Any, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    card = page.locator(".dataset-card").nth(2)
    guid = card.get_attribute("data-guid")
    title = card.locator(".dataset-title a").inner_text()
    card.locator(".dataset-title a").click()
    page.wait_for_url(f"**/dataset/{guid}")
    assert page.locator("h1").inner_text() == title
    imaging = live_server.ctx.store.get(guid).dataset.imaging
    assert imaging is not None
    total_row = page.locator('#case-counts tr[data-status="total"] td')
    assert total_row.nth(2).inner_text() == f"{imaging.total_cases:,}"
    shared = imaging.shared.total if imaging.shared else None
    assert total_row.nth(0).inner_text() == (f"{shared:,}" if shared is not None else "—")


def test_switching_language_translates_the_page_and_is_remembered(page: Any, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    guid = page.locator(".dataset-card").first.get_attribute("data-guid")
    dataset = live_server.ctx.store.get(guid).dataset
    page.goto(f"{live_server.url}/dataset/{guid}")
    assert page.locator("h1").inner_text() == dataset.title["en"]
    page.locator("a[data-lang='zh-Hant']").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == dataset.title["zh-Hant"]
    assert page.locator("html").get_attribute("lang") == "zh-Hant-TW"
    assert page.locator("#h-cases").inner_text() == "案例數量"
    page.locator(".breadcrumb a").first.click()  # back home, without ?lang= in the URL
    page.wait_for_load_state()
    assert page.locator("#result-count").inner_text().strip() == "共 25 個資料集"


def test_a_narrow_screen_gets_one_column_without_horizontal_scrolling(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(live_server.url + "/")
        guid = page.locator(".dataset-card").first.get_attribute("data-guid")
        for url in ("/", f"/dataset/{guid}"):
            page.goto(live_server.url + url)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


def test_searching_and_ticking_a_facet_narrow_the_list(page: Any, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    page.fill("#q", "lung")
    page.press("#q", "Enter")
    page.wait_for_url("**/?q=lung*")
    found = page.locator(".dataset-card").count()
    assert 0 < found < 25
    assert page.locator(".dataset-card mark").count() >= found
    option = page.locator('fieldset[data-facet="modality"] label.facet-option').first
    expected = int(option.locator(".facet-count").inner_text().replace(",", ""))
    option.locator("input[type=checkbox]").check()
    page.locator("#facet-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".dataset-card").count() == expected
    assert page.locator('fieldset[data-facet="modality"] input:checked').count() == 1
    assert page.locator("#q").input_value() == "lung"


@pytest.fixture(scope="module")
def steward_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real server of its own (stewards are added to it per test)."""
    from catalog.context import open_context
    from tests.web.conftest import free_port, make_settings, start_server

    tmp = tmp_path_factory.mktemp("steward")
    port = free_port()
    ctx = open_context(make_settings(tmp, host="127.0.0.1", port=port, base_url=f"http://127.0.0.1:{port}"))
    server, thread = start_server(ctx)
    try:
        yield LiveServer(ctx.settings.base_url, ctx)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_steward_signs_in_registers_a_folder_and_runs_it(
    page: Any, steward_server: LiveServer, tmp_path: Any
) -> None:
    from tests.web.conftest import PASSWORD, add_user

    add_user(steward_server.ctx, "steward@ntu.edu.tw", "steward")
    folder = tmp_path / "descriptions"
    folder.mkdir()
    (folder / "good.csv").write_text("id,title_zh,title_en\nknee-mr,膝關節磁振造影,Knee MRI\n", encoding="utf-8")
    (folder / "broken.yaml").write_text("title: [unclosed\n", encoding="utf-8")

    page.goto(steward_server.url + "/steward/harvest")
    page.wait_for_url("**/sign-in?next=%2Fsteward%2Fharvest")
    page.fill("#f-email", "steward@ntu.edu.tw")
    page.fill("#f-password", "not the password")
    page.get_by_role("button", name="Sign in").click()
    assert "password is wrong" in page.locator("#sign-in-error").inner_text()
    page.fill("#f-email", "steward@ntu.edu.tw")
    page.fill("#f-password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/steward/harvest")
    assert page.locator("#no-sources").is_visible()

    form = page.locator("#add-source")
    form.locator("select[name=kind]").select_option("local")
    form.locator("input[name=url]").fill(str(folder))
    form.locator("input[name=name]").fill("stewards")
    form.get_by_role("button").click()
    page.wait_for_url("**/steward/harvest/stewards")
    page.locator("#run-form").get_by_role("button").click()
    page.wait_for_url("**/steward/harvest/stewards?started=1")
    # The page refreshes itself (no JavaScript) while the run goes on; rather than race that
    # refresh, load the page afresh each time we look.
    source_url = page.url.split("?", 1)[0]
    for _ in range(240):  # a bound on waiting only (up to 2 minutes on a loaded machine)
        page.goto(source_url)
        if page.locator("#runs .badge").count() and not page.locator("#run-progress").count():
            break
        page.wait_for_timeout(500)
    assert not page.locator("#run-progress").count(), "the background run did not end"
    row = page.locator("#runs tbody tr").first
    assert row.locator(".badge").inner_text() == "succeeded"
    assert page.locator("#errors tbody tr").count() == 1
    assert "broken.yaml" in page.locator("#errors").inner_text()
    page.goto(steward_server.url + "/")
    assert page.locator(".dataset-card").count() == 1
