"""Ranking measures and the textbook baseline they are compared with (tests and bench share them).

``BM25`` is Robertson–Spärck Jones BM25 (k1 = 1.2, b = 0.75, the idf of Lucene, which is
never negative) over one bag of tokens per record: lower-cased words as written (no
stemming, no stop words) and, for Chinese, overlapping character bigrams (single
characters for a one-character run), the usual analysis of a CJK BM25. It knows nothing of
fairgate's analysis, fields or vocabulary, which is what makes it a baseline.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for run, word in _TOKEN.findall(unicodedata.normalize("NFKC", text).lower()):
        if run:
            out.extend([run] if len(run) == 1 else [a + b for a, b in itertools.pairwise(run)])
        else:
            out.append(word)
    return out


class BM25:
    """An in-memory BM25 ranking of ``docs`` (id -> text)."""

    def __init__(self, docs: dict[str, str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tf = {guid: Counter(tokens(text)) for guid, text in docs.items()}
        self.length = {guid: sum(c.values()) for guid, c in self.tf.items()}
        self.avg = sum(self.length.values()) / max(len(self.length), 1)
        df: Counter[str] = Counter()
        for c in self.tf.values():
            df.update(c.keys())
        n = len(self.tf)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def rank(self, query: str, k: int = 10) -> list[str]:
        terms = list(dict.fromkeys(tokens(query)))
        scored: list[tuple[float, str]] = []
        for guid, tf in self.tf.items():
            norm = self.k1 * (1 - self.b + self.b * self.length[guid] / self.avg)
            s = sum(self.idf[t] * tf[t] * (self.k1 + 1) / (tf[t] + norm) for t in terms if tf[t])
            if s > 0:
                scored.append((s, guid))
        scored.sort(key=lambda sg: (-sg[0], sg[1]))
        return [g for _, g in scored[:k]]


def ndcg_at_10(ranked: Sequence[str], grades: dict[str, int]) -> float:
    def dcg(gains: Iterable[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))

    ideal = dcg(sorted(grades.values(), reverse=True)[:10])
    return dcg(grades.get(guid, 0) for guid in ranked[:10]) / ideal if ideal else 0.0


def mrr_at_10(ranked: Sequence[str], grades: dict[str, int], relevant: int = 2) -> float:
    """1 / rank of the first record graded ``relevant`` or above within the top 10, else 0."""
    for i, guid in enumerate(ranked[:10]):
        if grades.get(guid, 0) >= relevant:
            return 1.0 / (i + 1)
    return 0.0


def mean(values: Iterable[float]) -> float:
    vs = list(values)
    return sum(vs) / len(vs) if vs else 0.0
