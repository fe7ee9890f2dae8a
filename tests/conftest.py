"""Shared test fixtures: real PostgreSQL databases, the shared real-world corpora, Chromium.

Rules (see README): PostgreSQL tests use ``FAIRGATE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``) and skip when it is unreachable, except
under ``CI=true``, where that is a failure. The same holds for ``../shared/fixtures``
and for Debian's Chromium. Every test run creates its own databases and drops them.

No test may leave a process behind: this process becomes the subreaper of everything the tests
start (so an orphan, say a worker whose supervisor was killed, is still seen here), and a run ends
failed when any of them is still alive at its end (:func:`pytest_sessionfinish`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from catalog.bootstrap import open_store
from catalog.settings import Settings
from catalog.store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"
IN_CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


LEFT_BEHIND_GRACE = 10.0  # seconds a process stopped by the last teardown may take to exit
_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def _become_subreaper() -> None:
    """Orphaned descendants of the test run are re-parented to this process instead of init (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


_become_subreaper()


def _still_running() -> list[str]:
    """Descendants of this process that are alive (zombies are reaped: they have ended)."""
    import psutil

    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(child.pid, os.WNOHANG)
                continue
            alive.append(f"pid {child.pid}: {' '.join(child.cmdline())[:200]}")
        except psutil.NoSuchProcess:
            continue
    return alive


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a process any test started is still alive at its end (after a short grace)."""
    deadline = time.monotonic() + LEFT_BEHIND_GRACE
    while (alive := _still_running()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["processes started by the tests are still running; stop them in the test's teardown:", *alive]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        else:
            print("\n".join(lines), file=sys.stderr)


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason`` on a user's machine; fail under CI, where everything must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must run in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """``../shared/fixtures`` (real-world DCAT, CKAN and SHACL corpora)."""
    if not SHARED_FIXTURES.is_dir():
        skip_or_fail(f"real-world corpora not found at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


def _pg_admin_url() -> str:
    return os.environ.get("FAIRGATE_TEST_POSTGRES_URL", DEFAULT_PG)


def _sqlalchemy_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@pytest.fixture(scope="session")
def pg_database_factory() -> Iterator[Callable[[], str]]:
    """Make fresh PostgreSQL databases for this run; all are dropped at the end."""
    import psycopg

    admin = _pg_admin_url()
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except Exception as exc:  # any connection failure means "no server here"
        skip_or_fail(f"PostgreSQL not reachable at {admin}: {exc}")
        raise  # unreachable: skip_or_fail raises
    created: list[str] = []
    base = admin.rsplit("/", 1)[0]

    def make() -> str:
        name = f"fairgate_test_{uuid.uuid4().hex[:12]}"
        conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return _sqlalchemy_url(f"{base}/{name}")

    yield make
    for name in created:
        with contextlib.suppress(Exception):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture
def pg_url(pg_database_factory: Callable[[], str]) -> str:
    """A SQLAlchemy URL of an empty PostgreSQL database of this test's own."""
    return pg_database_factory()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's Chromium for Playwright's ``executable_path``."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
        raise AssertionError  # unreachable
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh catalog database: a SQLite file, then a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    factory: Callable[[], str] = request.getfixturevalue("pg_database_factory")
    return factory()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a deployment living in this test's temporary folder."""
    return Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'var' / 'catalog.db'}")


@pytest.fixture
def store(store_url: str, settings: Settings) -> Store:
    """A migrated, empty catalog store (runs once on SQLite, once on PostgreSQL)."""
    return open_store(settings, url=store_url)
