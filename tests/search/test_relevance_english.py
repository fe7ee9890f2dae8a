"""Ranking on the generated English judged set: at least as good as textbook BM25 over the same text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalog.search.document import build_document
from catalog.search.embedded import EmbeddedIndex
from catalog.search.index import SearchIndex
from catalog.search.query import SearchQuery
from catalog.search.tantivy_backend import TantivyIndex
from tests.search import english_corpus
from tests.search.ranking_eval import BM25, mean, mrr_at_10, ndcg_at_10

CORPUS = english_corpus.records()
JUDGED = english_corpus.judged(CORPUS)


@pytest.fixture(scope="module", params=["tantivy", "sqlite"])
def english_index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    where = tmp_path_factory.mktemp("english") / "search"
    index: SearchIndex = TantivyIndex.open(where) if request.param == "tantivy" else EmbeddedIndex.open(where)
    index.upsert([build_document(ds, guid) for guid, ds in english_corpus.datasets(CORPUS).items()])
    yield index
    index.close()


def _fairgate(index: SearchIndex, q: str) -> list[str]:
    return [h.guid for h in index.search(SearchQuery(q=q, limit=10, facet_limit=0)).hits]


def test_the_english_set_is_large_graded_and_made_of_short_queries() -> None:
    assert len(CORPUS) >= 300 and len(JUDGED) >= 50
    assert all(2 <= len(q.split()) <= 6 for q in JUDGED)
    assert all(any(g == 3 for g in grades.values()) for grades in JUDGED.values())
    # Grades come from concepts, so some relevant records lack a word of their query.
    missing = sum(
        1
        for q, grades in JUDGED.items()
        for guid, g in grades.items()
        if g == 3 and not set(q.lower().split()) <= set(_record_words(guid))
    )
    assert missing >= len(JUDGED)


def _record_words(guid: str) -> list[str]:
    record = next(r for r in CORPUS if r.guid == guid)
    return english_corpus.text_of(record).lower().replace(".", " ").replace(":", " ").replace(",", " ").split()


def test_bm25_prefers_rare_words_and_measures_see_the_order() -> None:
    bm25 = BM25({"a": "coral reef survey", "b": "survey survey of schools", "c": "survey of coral"})
    assert bm25.rank("coral reef")[0] == "a"
    assert bm25.rank("nothing matches") == []
    grades = {"a": 3, "b": 1}
    assert ndcg_at_10(["a", "b"], grades) == pytest.approx(1.0)
    assert ndcg_at_10(["b", "a"], grades) < 0.8
    assert mrr_at_10(["b", "x", "a"], grades) == pytest.approx(1 / 3)


def test_ndcg_at_10_is_at_least_that_of_bm25_over_the_same_text(english_index: SearchIndex) -> None:
    bm25 = BM25({r.guid: english_corpus.text_of(r) for r in CORPUS})
    ours = {q: ndcg_at_10(_fairgate(english_index, q), grades) for q, grades in JUDGED.items()}
    base = {q: ndcg_at_10(bm25.rank(q), grades) for q, grades in JUDGED.items()}
    worst = sorted((ours[q] - base[q], q) for q in JUDGED)[:5]
    assert mean(ours.values()) >= mean(base.values()), (
        f"fairgate nDCG@10 {mean(ours.values()):.3f} < BM25 {mean(base.values()):.3f}; most behind: {worst}"
    )
