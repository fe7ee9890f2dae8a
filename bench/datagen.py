"""Generated bilingual imaging datasets for the benchmarks (made from the packaged sample)."""

from __future__ import annotations

import random
from collections.abc import Iterator

from catalog.samples import sample_datasets
from schemas import Dataset


def generated_datasets(n: int, seed: int = 42) -> Iterator[Dataset]:
    """``n`` distinct datasets, varied copies of the 25 sample records."""
    rng = random.Random(seed)
    base = sample_datasets()
    for i in range(n):
        proto = base[i % len(base)]
        title = {lang: f"{text} #{i}" for lang, text in proto.title.items()}
        keywords = {lang: [*words, f"k{rng.randrange(1000)}"] for lang, words in proto.keywords.items()}
        yield proto.model_copy(
            update={"identifier": f"GEN-{i:07d}", "title": title, "keywords": keywords, "guid": None}
        )
