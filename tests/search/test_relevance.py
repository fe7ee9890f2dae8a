"""Ranking quality on a judged query set: mean nDCG@10 must stay at or above 0.85."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from catalog.search.index import SearchIndex
from catalog.search.query import SearchQuery
from tests.search.conftest import depositar_corpus, sample_corpus
from tests.search.judgements import EN, ZH

THRESHOLD = 0.85

pytestmark = pytest.mark.fixtures


def ndcg_at_10(ranked: list[str], grades: dict[str, int]) -> float:
    def dcg(gains: list[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains[:10]))

    ideal = dcg(sorted(grades.values(), reverse=True))
    return dcg([grades.get(guid, 0) for guid in ranked]) / ideal


def test_the_judged_set_is_balanced_and_large_enough() -> None:
    assert len(ZH) >= 20 and len(EN) >= 20
    assert all(any(g >= 2 for g in grades.values()) for grades in [*ZH.values(), *EN.values()])


def test_ndcg_rewards_the_ideal_order_and_punishes_a_reversed_one() -> None:
    grades = {"a": 3, "b": 1}
    assert ndcg_at_10(["a", "b"], grades) == pytest.approx(1.0)
    assert ndcg_at_10(["b", "a"], grades) < 0.8
    assert ndcg_at_10([], grades) == 0.0


def _scores(index: SearchIndex, judged: dict[str, dict[str, int]]) -> dict[str, float]:
    out = {}
    for q, grades in judged.items():
        hits = index.search(SearchQuery(q=q, limit=10, facet_limit=0)).hits
        out[q] = ndcg_at_10([h.guid for h in hits], grades)
    return out


@pytest.mark.parametrize("language", ["zh", "en"])
def test_mean_ndcg_at_10_is_at_least_085(relevance_index: SearchIndex, language: str) -> None:
    scores = _scores(relevance_index, ZH if language == "zh" else EN)
    mean = sum(scores.values()) / len(scores)
    worst = sorted(scores.items(), key=lambda kv: kv[1])[:5]
    assert mean >= THRESHOLD, f"mean nDCG@10 {mean:.3f} < {THRESHOLD}; worst queries: {worst}"


def test_every_judged_record_exists_in_the_corpus(shared_fixtures: Path) -> None:
    corpus = {**sample_corpus(), **depositar_corpus(shared_fixtures)}
    missing = {guid for grades in [*ZH.values(), *EN.values()] for guid in grades if guid not in corpus}
    assert not missing
