"""normalise() takes shortcuts for ASCII and full-width punctuation; its result must stay
exactly the definition: NFKC, then Simplified→Traditional, then case folding."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.search.text import normalise, to_traditional

# Characters where the shortcuts could differ from the definition: ASCII, full-width forms
# (and their neighbours outside the range), the ideographic space, combining marks after
# full-width letters, ligatures, Simplified and Traditional Han, kana, Hangul jamo.
_CHARS = st.one_of(
    st.characters(max_codepoint=0x7F),
    st.sampled_from(
        [
            "Ａ",
            "ｚ",
            "０",
            "，",
            "（",
            "）",
            "：",
            "！",
            "～",
            "\uff00",
            "\uff5f",
            "｡",
            "ｶ",
            "\u3000",
            "　",
            "\u0301",
            "\u0308",
            "ﬁ",
            "ß",
            "İ",
            "Σ",
            "é",
            "e\u0301",
            "脑",
            "腦",
            "转",
            "轉",
            "肺",
            "。",
            "、",
            "ガ",
            "カ\u3099",
            "\u1100\u1161",
            "한",
            "①",
            "㎏",
            "™",
        ]
    ),
    st.characters(),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_CHARS, max_size=40).map("".join))
def test_normalise_equals_nfkc_then_traditional_then_casefold(text: str) -> None:
    assert normalise(text) == to_traditional(unicodedata.normalize("NFKC", text)).casefold()


def test_full_width_punctuation_and_letters_become_ascii() -> None:
    assert normalise("肺部ＣＴ，（脑转移）\u3000Ｘ光") == "肺部ct,(腦轉移) x光"
