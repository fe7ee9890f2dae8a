"""Fixtures for the web tests: an app over a fresh store, and a real uvicorn server on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from catalog.app import create_app
from catalog.commands.core import effective_settings, ensure_sample, initialise, make_server
from catalog.context import Context, open_context
from catalog.settings import Settings
from schemas import Dataset

TOKEN = "test-steward-token-0123456789"


def minimal_dataset(title_en: str = "Lung CT", **extra: Any) -> dict[str, Any]:
    """The JSON of a small valid dataset, bilingual like every record fairgate authors."""
    return {
        "title": {"zh-Hant": f"{title_en}（中文）", "en": title_en},
        "description": {"zh-Hant": "測試用資料集", "en": "A dataset for tests"},
        "access_rights": "RESTRICTED",
        "imaging": {
            "modalities": ["CT"],
            "body_sites": ["LUNG"],
            "shared": {"image_only": 10, "partially_annotated": 5, "fully_annotated": 3},
            "not_shared": {"image_only": 1, "partially_annotated": 0, "fully_annotated": 2},
        },
        **extra,
    }


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "database_url": f"sqlite:///{tmp_path / 'var' / 'catalog.db'}",
        "base_url": "http://testserver",
        "steward_token": TOKEN,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def ctx(web_settings: Settings) -> Context:
    return open_context(web_settings)


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx.settings, context=ctx)) as c:
        yield c


@pytest.fixture
def add(ctx: Context) -> Callable[..., str]:
    """Put a dataset straight into the store; returns its GUID."""

    def put(title_en: str = "Lung CT", **extra: Any) -> str:
        ds = Dataset.model_validate(minimal_dataset(title_en, **extra))
        return ctx.store.save(ds, actor="test", activity="create").guid

    return put


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    ctx: Context


def start_server(ctx: Context) -> tuple[Any, threading.Thread]:
    server = make_server(ctx, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30  # startup wait only; nothing is asserted about time
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread


@contextmanager
def served_with_users(tmp: Path, *users: tuple[str, ...]) -> Iterator[LiveServer]:
    """A fresh deployment in ``tmp`` with these accounts ((email, role, …) each), served over real HTTP
    on a free port until the block ends."""
    port = free_port()
    ctx = open_context(make_settings(tmp, host="127.0.0.1", port=port, base_url=f"http://127.0.0.1:{port}"))
    for email, *roles in users:
        add_user(ctx, email, *roles)
    server, thread = start_server(ctx)
    try:
        yield LiveServer(ctx.settings.base_url, ctx)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sign_in_page(page: Any, url: str, email: str, then: str) -> None:
    """Sign in through the form in the browser and wait to land on ``then``."""
    page.goto(f"{url}/sign-in?next={then}")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.press("#f-password", "Enter")
    page.wait_for_url(lambda u: urlsplit(u).path == then)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``fairgate run`` minus the blocking: a fresh ./var with the sample catalog, served over real HTTP."""
    workdir = tmp_path_factory.mktemp("fairgate-run")
    mp = pytest.MonkeyPatch()
    mp.chdir(workdir)
    for name in ("FAIRGATE_DATA_DIR", "FAIRGATE_DATABASE_URL", "FAIRGATE_BASE_URL", "FAIRGATE_STEWARD_TOKEN"):
        mp.delenv(name, raising=False)
    try:
        # As `fairgate run` does in the current directory: ./var is resolved to an absolute path here.
        settings = effective_settings(host="127.0.0.1", port=free_port())
    finally:
        mp.undo()
    assert settings.data_dir == workdir.resolve() / "var"
    ctx = initialise(settings)
    ensure_sample(ctx)
    server, thread = start_server(ctx)
    try:
        yield LiveServer(settings.base_url, ctx)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


PASSWORD = "correct horse battery"


def add_user(ctx: Context, email: str, *roles: str, password: str = PASSWORD, institution: str = "NTU") -> int:
    """An account straight in the accounts service; returns its id."""
    from catalog.api.auth import accounts_of

    return accounts_of(ctx).add_user(email, email.split("@")[0], roles, password=password, institution=institution).id


def csrf_of(html: str) -> str:
    """The CSRF token a rendered form carries."""
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next: str = "/account") -> Any:
    """Sign ``client`` in through the real form (its CSRF token first); returns the POST's response."""
    page = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={"csrf": csrf_of(page.text), "email": email, "password": password, "next": next},
        follow_redirects=False,
    )


@pytest.fixture
def steward_client(client: TestClient, ctx: Context) -> TestClient:
    """``client`` signed in as a steward (steward@ntu.edu.tw)."""
    add_user(ctx, "steward@ntu.edu.tw", "steward")
    assert sign_in(client, "steward@ntu.edu.tw").status_code == 303
    return client


# --- real headless Chromium (Debian's), and axe-core injected into it ------------------------------

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where `make test` (scripts/ensure-browser-tools.sh) installs axe-core from the npm registry.
AXE_SCRIPT = Path(__file__).resolve().parents[2] / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, to inject into pages under test."""
    if not AXE_SCRIPT.is_file():
        from tests.conftest import skip_or_fail

        skip_or_fail(f"axe-core not installed at {AXE_SCRIPT} (run `make test`, which installs it with npm)")
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe_violations(page: Any, axe_source: str) -> list[str]:
    """Every axe-core violation on the page as it is now (WCAG 2.1 A and AA and best practices)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', "
        "values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
