"""Account and steward pages in real headless Chromium: keyboard sign-in, and axe-core on every page in
both languages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import PASSWORD, LiveServer, axe_violations, served_with_users

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with served_with_users(tmp_path_factory.mktemp("accounts"), ("admin@moh.gov.tw", "admin", "steward")) as live:
        yield live


def _sign_in_with_keyboard(page: Any, url: str) -> None:
    page.goto(url + "/sign-in?next=/admin/users")
    page.focus("#f-email")
    page.keyboard.type("admin@moh.gov.tw")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: urlsplit(url).path == "/admin/users")


def test_an_admin_signs_in_with_the_keyboard_only(page: Any, server: LiveServer) -> None:
    _sign_in_with_keyboard(page, server.url)
    assert page.locator('#users tr[data-user="admin@moh.gov.tw"]').count() == 1


@pytest.mark.parametrize("lang", ["zh-Hant", "en"])
def test_account_and_steward_pages_have_no_axe_violations(
    page: Any, server: LiveServer, axe_source: str, lang: str
) -> None:
    for path in ("/sign-in", "/register"):
        page.goto(f"{server.url}{path}?lang={lang}")
        assert axe_violations(page, axe_source) == [], path
    # A form sent back with problems, as a person sees it.
    page.goto(f"{server.url}/register?lang={lang}")
    page.click("#register-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#form-errors").count() == 1
    assert axe_violations(page, axe_source) == [], "register with errors"
    _sign_in_with_keyboard(page, server.url)
    for path in ("/account", "/admin/users", "/admin/audit", "/steward/harvest"):
        page.goto(f"{server.url}{path}?lang={lang}")
        assert axe_violations(page, axe_source) == [], path
