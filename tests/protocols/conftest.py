"""Fixtures of the protocol tests: a fairgate serving the sample catalog plus one record that
fills every field, over real HTTP (uvicorn), and an empty second fairgate to harvest into."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from catalog.bootstrap import open_store
from catalog.commands.core import ensure_sample, initialise
from catalog.harvest import HarvestService
from catalog.settings import Settings
from catalog.store import Store
from schemas import Dataset
from tests.web.conftest import LiveServer, free_port, start_server

#: One record with a value in every field the protocols can carry.
RICH: dict[str, Any] = {
    "identifier": "RICH-001",
    "title": {"zh-Hant": "胸部 X 光標註資料集", "en": "Annotated chest X-ray set"},
    "description": {"zh-Hant": "用於測試的完整資料集描述。", "en": "A fully described dataset for the protocol tests."},
    "keywords": {"en": ["chest", "X-ray"], "zh-Hant": ["胸部", "X光"]},
    "themes": ["http://publications.europa.eu/resource/authority/data-theme/HEAL"],
    "publisher": {
        "name": {"zh-Hant": "測試醫院", "en": "Test Hospital"},
        "email": "data@hospital.example",
        "homepage": "https://hospital.example/",
    },
    "creators": [{"name": {"en": "Imaging Lab"}, "iri": "https://orcid.org/0000-0002-1825-0097"}],
    "contact_points": [{"name": {"en": "Data desk"}, "email": "desk@hospital.example"}],
    "issued": "2020-01-15",
    "modified": "2024-06-30",
    "temporal": [{"start": "2015-01-01", "end": "2019-12-31"}],
    "spatial": ["http://publications.europa.eu/resource/authority/country/TWN"],
    "access_rights": "RESTRICTED",
    "license": {"iri": "https://creativecommons.org/licenses/by/4.0/", "label": {"en": "CC BY 4.0"}},
    "language": ["ZHO", "ENG"],
    "conforms_to": ["https://w3id.org/healthdcat-ap"],
    "version": "2.1",
    "version_notes": {"en": "Second release", "zh-Hant": "第二版"},
    "frequency": "http://publications.europa.eu/resource/authority/frequency/ANNUAL",
    "provenance": {"en": "Collected at one hospital", "zh-Hant": "單一醫院收集"},
    "documentation": ["https://hospital.example/docs"],
    "relation": ["https://hospital.example/related"],
    "is_referenced_by": ["https://doi.org/10.1234/paper.1"],
    "applicable_legislation": ["http://data.europa.eu/eli/reg/2025/327/oj"],
    "health": {
        "number_of_records": 1200,
        "number_of_unique_individuals": 1000,
        "min_typical_age": 18,
        "max_typical_age": 90,
        "population_coverage": {"en": "Adults in northern Taiwan", "zh-Hant": "北臺灣成人"},
        "health_categories": ["http://data.europa.eu/bna/c_6bb6bbd8"],
    },
    "imaging": {"modalities": ["CR"], "body_sites": ["CHEST"], "shared": {"image_only": 5, "fully_annotated": 7}},
    "distributions": [
        {
            "title": {"en": "Images (DICOM)", "zh-Hant": "影像（DICOM）"},
            "description": {"en": "All studies"},
            "access_url": "https://hospital.example/access",
            "download_url": "https://hospital.example/files/images.zip",
            "format": "ZIP",
            "media_type": "application/zip",
            "byte_size": 123456,
            "checksum": {"algorithm": "sha256", "value": "a" * 64},
            "license": {"iri": "https://creativecommons.org/licenses/by/4.0/"},
        }
    ],
}


@dataclass
class Served(LiveServer):
    rich_guid: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A fairgate with the sample catalog and :data:`RICH`, served by uvicorn on a free port."""
    root = tmp_path_factory.mktemp("fairgate-source")
    port = free_port()
    settings = Settings(
        data_dir=root / "var",
        database_url=f"sqlite:///{root / 'var' / 'catalog.db'}",
        base_url=f"http://127.0.0.1:{port}",
        host="127.0.0.1",
        port=port,
    )
    ctx = initialise(settings)
    ensure_sample(ctx)
    rich = ctx.store.save(Dataset.model_validate(RICH), actor="test", activity="create").guid
    server, thread = start_server(ctx)
    try:
        yield Served(settings.base_url, ctx, rich)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def second_store(tmp_path: Path) -> Store:
    """An empty second fairgate's store."""
    return open_store(Settings(data_dir=tmp_path / "second"))


@pytest.fixture
def second(second_store: Store) -> HarvestService:
    return HarvestService(second_store, batch_size=40)
