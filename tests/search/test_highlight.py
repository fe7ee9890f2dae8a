"""Highlight spans: found by jumping to where a term can start, they must be exactly the
spans a scan of the whole text with the terms' alternation finds (the definition)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.search.highlight import _normalised_with_offsets, mark, spans
from catalog.search.text import has_cjk, stem

# Pieces that exercise the matcher: words and their plurals, CJK (Traditional and Simplified),
# characters whose normal form is longer or shorter (ﬁ, ß, full-width), word boundaries.
_PIECES = [
    "lung",
    "lungs",
    "CT",
    "ct",
    "x",
    "ray",
    "x-ray",
    "ﬁbrosis",
    "fibrosis",
    "STRASSE",
    "straße",
    "肺",
    "肺部",
    "脑转移",
    "腦轉移",
    "ＣＴ",
    " ",
    "-",
    "_",
    ".",
    "(",
    "<b>",
    "&",
    "é",
    "e\u0301",
    "1",
    "lungct",
]
_TERMS = ["lung", "ct", "x ray", "fibrosis", "strasse", "肺部", "腦轉移", "轉", "e", "lung ct", "1"]


def _reference(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """The whole-text scan with the alternation (longest term first, as plans give them)."""
    alts: list[str] = []
    for t in terms:
        t = t.strip()
        if not t:
            continue
        if has_cjk(t):
            alts.append(re.escape(t))
        else:
            alts.append(r"(?<![^\W_])" + r"\W+".join(re.escape(stem(w)) for w in t.split()) + r"[^\W_]*")
    if not alts or not text:
        return []
    norm, offsets = _normalised_with_offsets(text)
    out: list[tuple[int, int]] = []
    for m in re.compile("|".join(alts)).finditer(norm):
        if m.end() > m.start():
            start, end = (m.start(), m.end()) if offsets is None else (offsets[m.start()], offsets[m.end() - 1] + 1)
            if not out or start >= out[-1][1]:
                out.append((start, end))
    return out


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(st.sampled_from(_PIECES), max_size=30).map("".join),
    terms=st.lists(st.sampled_from(_TERMS), min_size=1, max_size=4, unique=True),
)
def test_spans_are_those_of_a_whole_text_scan(text: str, terms: list[str]) -> None:
    ordered = tuple(sorted(terms, key=lambda t: (-len(t), t)))
    assert spans(text, ordered) == _reference(text, ordered)


def test_a_word_term_matches_only_at_a_word_start_and_takes_the_rest_of_the_word() -> None:
    assert spans("lungs, bilung, lung-ct", ("lung",)) == [(0, 5), (15, 19)]


def test_mark_maps_matches_back_to_the_original_characters() -> None:
    assert mark("ＣＴ of the 脑转移", ("ct", "腦轉移")) == "<mark>ＣＴ</mark> of the <mark>脑转移</mark>"
