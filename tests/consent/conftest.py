"""Fixtures of the consent tests: a registry on a fresh SQLite file, valid national ids, a dataset GUID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from consent.registry import ConsentRegistry
from consent.settings import ConsentSettings


@pytest.fixture
def settings(tmp_path: Path) -> ConsentSettings:
    return ConsentSettings(data_dir=tmp_path / "var", steward_token="s3cret-steward-token")


@pytest.fixture
def registry(settings: ConsentSettings) -> Iterator[ConsentRegistry]:
    reg = ConsentRegistry.from_settings(settings)
    yield reg
    reg.engine.dispose()


@pytest.fixture
def steward(settings: ConsentSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsentSettings]:
    """The steward commands (``consent.cli``) pointed at this test's settings."""
    from consent import cli

    monkeypatch.setattr(cli, "settings_factory", lambda: settings)
    yield settings
