"""Fixtures of the harvest tests: a migrated SQLite store and the depositar packages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog.bootstrap import open_store
from catalog.harvest import HarvestService
from catalog.settings import Settings
from catalog.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    settings = Settings(data_dir=tmp_path)
    return open_store(settings)


@pytest.fixture
def service(store: Store) -> HarvestService:
    return HarvestService(store, batch_size=40)


@pytest.fixture(scope="session")
def depositar(shared_fixtures: Path) -> list[dict[str, Any]]:
    path = shared_fixtures / "ckan" / "depositar_packages_300.jsonl"
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]
