"""Ranking benchmark: nDCG@10 and MRR@10 of fairgate on both judged sets, beside BM25 in the same run.

The sets are the test suite's: the generated English set (``tests/search/english_corpus.py``)
and the bilingual set over the sample catalog and the depositar CKAN packages
(``tests/search/judgements.py``, read from ../shared/fixtures; skipped with a note when
that folder is absent). BM25 ranks the same title and description text
(``tests/search/ranking_eval.py``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from catalog.search.document import build_document
from catalog.search.embedded import EmbeddedIndex
from catalog.search.index import SearchIndex
from catalog.search.query import SearchQuery
from catalog.search.tantivy_backend import TantivyIndex
from schemas import Dataset
from tests.search import english_corpus
from tests.search.ranking_eval import BM25, mean, mrr_at_10, ndcg_at_10

Judged = dict[str, dict[str, int]]
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def english() -> tuple[dict[str, Dataset], Judged]:
    corpus = english_corpus.records()
    return english_corpus.datasets(corpus), english_corpus.judged(corpus)


def bilingual(shared: Path = SHARED) -> tuple[dict[str, Dataset], Judged, Judged] | None:
    from tests.search.conftest import depositar_corpus, sample_corpus
    from tests.search.judgements import EN, ZH

    if not (shared / "fixtures" / "ckan").is_dir():
        return None
    return {**sample_corpus(), **depositar_corpus(shared / "fixtures")}, ZH, EN


def text_of(ds: Dataset) -> str:
    return " ".join([*ds.title.values(), *ds.description.values()])


def scores(rank: Callable[[str], list[str]], judged: Judged) -> tuple[float, float]:
    runs = [(rank(q), grades) for q, grades in judged.items()]
    return mean(ndcg_at_10(r, g) for r, g in runs), mean(mrr_at_10(r, g) for r, g in runs)


def fairgate_ranker(index: SearchIndex) -> Callable[[str], list[str]]:
    return lambda q: [h.guid for h in index.search(SearchQuery(q=q, limit=10, facet_limit=0)).hits]


def open_index(backend: str, where: Path, corpus: dict[str, Dataset]) -> SearchIndex:
    index: SearchIndex = TantivyIndex.open(where) if backend == "tantivy" else EmbeddedIndex.open(where)
    index.upsert([build_document(ds, guid) for guid, ds in corpus.items()])
    return index


def _line(name: str, n: int, system: str, figures: tuple[float, float], base: tuple[float, float]) -> str:
    return (
        f"ranking {name} ({n} queries) {system}: nDCG@10 {figures[0]:.3f} MRR@10 {figures[1]:.3f}"
        f" | BM25 same run: nDCG@10 {base[0]:.3f} MRR@10 {base[1]:.3f}"
    )


def run(backends: tuple[str, ...] = ("tantivy", "sqlite")) -> None:
    sets: list[tuple[str, dict[str, Dataset], Judged]] = []
    corpus, judged = english()
    sets.append(("english-generated", corpus, judged))
    found = bilingual()
    if found is None:
        print(f"ranking bilingual: skipped, {SHARED}/fixtures/ckan not found")
    else:
        bi, zh, en = found
        sets += [("bilingual-zh", bi, zh), ("bilingual-en", bi, en)]
    with tempfile.TemporaryDirectory(prefix="fairgate-rank-") as tmp:
        built: dict[tuple[int, str], SearchIndex] = {}
        for name, corpus, judged in sets:
            base = scores(BM25({g: text_of(d) for g, d in corpus.items()}).rank, judged)
            for backend in backends:
                key = (id(corpus), backend)
                if key not in built:
                    built[key] = open_index(backend, Path(tmp) / f"{len(built)}", corpus)
                figures = scores(fairgate_ranker(built[key]), judged)
                print(_line(name, len(judged), f"fairgate {backend}", figures, base))
        for index in built.values():
            index.close()


def main(argv: list[str]) -> None:
    """``--quick`` changes nothing here (the judged sets are small)."""
    run()


if __name__ == "__main__":
    run()
