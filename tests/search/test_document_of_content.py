"""The indexer's shortcut: a document built from a record's stored JSON is the one a store read gives.

``document_of_content`` skips validating the stored content into a Dataset; these tests hold
it to exactly what ``build_document(dataset_of(...))`` (what ``fairgate reindex`` does) builds.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench.bench_harvest import _package
from catalog.changes import dataset_of
from catalog.search.document import SearchDocument, build_document, document_of_content
from catalog.store import canonical_json
from harvesters.ckan import package_to_dataset
from schemas import CaseCounts, Dataset, Distribution, HealthInfo, ImagingInfo
from tests.search.conftest import depositar_corpus, sample_corpus

UPDATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _both(ds: Dataset) -> tuple[SearchDocument, SearchDocument]:
    """(through a validated store read, from the stored JSON directly)."""
    guid = "dg.TEST/" + (ds.identifier or "x")
    stored = canonical_json(ds.content())
    validated = build_document(dataset_of(guid, json.loads(stored)), guid, updated=UPDATED)
    direct = document_of_content(guid, json.loads(stored), updated=UPDATED)
    return validated, direct


def _assert_same(ds: Dataset) -> None:
    validated, direct = _both(ds)
    assert direct == validated
    assert repr(direct) == repr(validated)  # the same order too: display JSON and facet lists


def test_sample_catalog_documents_are_the_same_from_stored_json() -> None:
    for ds in sample_corpus().values():
        _assert_same(ds)


def test_depositar_documents_are_the_same_from_stored_json(shared_fixtures: Path) -> None:
    for ds in depositar_corpus(shared_fixtures).values():
        _assert_same(ds)


def test_ckan_fixture_documents_are_the_same_from_stored_json(shared_fixtures: Path) -> None:
    for path in sorted((shared_fixtures / "ckan").glob("*.json")):
        pkg = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(pkg, dict):  # one package (health_dcat_ap.json is a schema's field list)
            _assert_same(package_to_dataset(pkg, "https://demo.ckan.org"))


def test_generated_benchmark_documents_are_the_same_from_stored_json() -> None:
    for i in range(60):
        _assert_same(package_to_dataset(_package(i), "https://data.example.org"))


@pytest.mark.parametrize(
    "modified",
    [
        datetime(2020, 1, 1, tzinfo=UTC),  # midnight reads back as a date
        datetime(2020, 1, 1, 0, 0, 0, 1),
        datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC),
        datetime.fromisoformat("2020-05-06T00:00:00+08:00"),
        datetime.fromisoformat("2020-05-06T10:30:00-03:30"),
        date(2021, 2, 3),
        None,
    ],
)
def test_times_read_back_the_same_from_stored_json(modified: date | datetime | None) -> None:
    _assert_same(Dataset(identifier="t", title={"en": "T"}, modified=modified))
    _assert_same(Dataset(identifier="t", title={"en": "T"}, issued=modified))


def test_counts_and_imaging_edge_cases_are_the_same_from_stored_json() -> None:
    _assert_same(
        Dataset(
            identifier="zero",
            title={"en": "Zero", "zh-Hant": "零"},
            imaging=ImagingInfo(modalities=["CT"], shared=CaseCounts(), annotation_tools=["3D Slicer"]),
            health=HealthInfo(number_of_unique_individuals=0, number_of_records=7),
        )
    )
    _assert_same(
        Dataset(
            identifier="counts",
            title={"en": "Counts"},
            imaging=ImagingInfo(not_shared=CaseCounts(fully_annotated=3), building_team="Team A"),
            distributions=[Distribution(title={"en": "part"}, description={"zh-Hant": "部分"}, format="CSV")],
        )
    )
    _assert_same(Dataset(identifier="bare", title={"en": "Bare"}, imaging=ImagingInfo()))
