"""Fixtures of the search suite: one contract, run against every backend.

The embedded backends (tantivy, the default, and SQLite FTS5) always run. The
Elasticsearch backend runs against a real cluster whenever ``FAIRGATE_TEST_ELASTICSEARCH_URL``
is set and is skipped with that reason otherwise (no cluster can run on the development
machines).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from catalog.search.document import build_document
from catalog.search.embedded import EmbeddedIndex
from catalog.search.index import SearchIndex
from catalog.search.tantivy_backend import TantivyIndex
from schemas import Dataset

ES_URL_VAR = "FAIRGATE_TEST_ELASTICSEARCH_URL"
BACKENDS = ["tantivy", "sqlite", "elasticsearch"]


def _open(backend: str, tmp: Path) -> SearchIndex:
    if backend == "elasticsearch":
        url = os.environ.get(ES_URL_VAR)
        if not url:
            pytest.skip(f"Elasticsearch contract suite runs only when {ES_URL_VAR} is set (no cluster here)")
        from catalog.search.elasticsearch import ElasticsearchIndex

        return ElasticsearchIndex.connect(url, f"fairgate-test-{uuid.uuid4().hex[:10]}", refresh=True)
    if backend == "tantivy":
        return TantivyIndex.open(tmp / "search")
    return EmbeddedIndex.open(tmp / "search")


def _close(index: SearchIndex) -> None:
    drop = getattr(index, "drop", None)
    if callable(drop):
        drop()
    index.close()


@pytest.fixture(params=BACKENDS)
def make_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[dict[str, Dataset]], SearchIndex]]:
    """``make_index({guid: dataset})`` -> a fresh index of this backend holding those datasets."""
    opened: list[SearchIndex] = []

    def make(datasets: dict[str, Dataset]) -> SearchIndex:
        index = _open(request.param, tmp_path / str(len(opened)))
        opened.append(index)
        index.upsert([build_document(ds, guid) for guid, ds in datasets.items()])
        return index

    yield make
    for index in opened:
        _close(index)


def sample_corpus() -> dict[str, Dataset]:
    """The 25 sample datasets keyed S01…S25 (their programme number)."""
    from catalog.samples import sample_datasets

    out: dict[str, Dataset] = {}
    for ds in sample_datasets():
        assert ds.identifier is not None
        out["S" + ds.identifier.rsplit("-", 1)[-1]] = ds
    return out


def depositar_corpus(fixtures: Path) -> dict[str, Dataset]:
    """The 300 depositar CKAN packages mapped by the CKAN harvester, keyed ckan:<name>."""
    from harvesters.ckan import package_to_dataset

    out: dict[str, Dataset] = {}
    path = fixtures / "ckan" / "depositar_packages_300.jsonl"
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            pkg = json.loads(line)
            out["ckan:" + pkg["name"]] = package_to_dataset(pkg, "https://data.depositar.io")
    return out


@pytest.fixture(scope="module", params=BACKENDS)
def relevance_index(
    request: pytest.FixtureRequest, shared_fixtures: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SearchIndex]:
    corpus = {**sample_corpus(), **depositar_corpus(shared_fixtures)}
    index = _open(request.param, tmp_path_factory.mktemp("relevance"))
    index.upsert([build_document(ds, guid) for guid, ds in corpus.items()])
    yield index
    _close(index)
