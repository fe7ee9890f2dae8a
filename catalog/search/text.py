"""Text analysis shared by indexing and querying: normalisation, Simplified→Traditional, tokens.

Chinese has no spaces, so a run of Han characters becomes single characters (for
scattered matches and phrases) plus overlapping bigrams (for word-like matches);
Latin-script text becomes lower-cased words with a light plural stemmer. Both the
indexer and the query parser use these functions, so both sides always agree.
"""

from __future__ import annotations

import itertools
import operator
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

# Han (incl. extension A and the compatibility block), kana and hangul are written
# without spaces: each character is a unit.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_RUN = f"[{_CJK}\U00020000-\U0002ffff]+"
_TOKEN = re.compile(f"({_CJK_RUN})|([^\\W_{_CJK}]+)")
_CJK_CHAR = re.compile(f"[{_CJK}\U00020000-\U0002ffff]")

#: Words a query may contain that say nothing about what is wanted.
STOPWORDS = frozenset(
    {
        "a", "an", "the", "of", "and", "or", "not", "in", "on", "for", "with", "to", "by", "from",
        "at", "is", "are", "as", "be", "this", "that", "these", "those", "any", "all", "its", "it",
    }
)


@cache
def _simplified_only() -> dict[int, str]:
    """Characters that exist only in Simplified Chinese, mapped to their usual Traditional form.

    Characters that are also valid Traditional characters (their own candidate) are left
    out: converting them would change correct Traditional text.
    """
    table: dict[int, str] = {}
    path = resources.files("opencc") / "dictionary" / "STCharacters.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        simp, _, trads = line.partition("\t")
        candidates = trads.split()
        if len(simp) == 1 and candidates and simp not in candidates:
            table[ord(simp)] = candidates[0]
    return table


@cache
def _converter() -> object:
    from opencc import OpenCC

    return OpenCC("s2t")


@cache
def _simplified_chars() -> frozenset[str]:
    return frozenset(chr(c) for c in _simplified_only())


def to_traditional(text: str) -> str:
    """Convert Simplified Chinese in ``text`` to Traditional; Traditional text is left alone.

    The phrase-aware OpenCC conversion is slow, so it only runs when ``text`` contains a
    character that exists only in Simplified Chinese (most records contain none).
    """
    if _simplified_chars().isdisjoint(text):
        return text
    return str(_converter().convert(text))  # type: ignore[attr-defined]


#: Full-width ASCII forms and the ideographic space: NFKC maps each to one ASCII character.
_WIDE = re.compile("[\uff01-\uff5e\u3000]")


def _narrow(m: re.Match[str]) -> str:
    c = m.group()
    return " " if c == "\u3000" else chr(ord(c) - 0xFEE0)


def normalise(text: str) -> str:
    """Width-, case- and script-normalised text (NFKC, Traditional Chinese, case-folded).

    Runs on every indexed text and on every text highlighted in a result page, so the
    common cases take shortcuts with the same result: ASCII is NFKC-stable, has no Chinese
    and case-folds as it lowers; in Chinese text full-width punctuation (，：（）) is
    usually all that is not NFKC already, and replacing it by the ASCII character NFKC
    maps it to leaves the text normal, skipping a full NFKC pass (about 5x slower).
    """
    if text.isascii():
        return text.lower()
    if not unicodedata.is_normalized("NFKC", text):
        text = _WIDE.sub(_narrow, text)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    return to_traditional(text).casefold()


def stem(word: str) -> str:
    """A light English stemmer: plural endings only (nodules→nodule, studies→study).

    Deliberately weak: stronger stemmers conflate medical terms (metastasis/metastases
    are linked through the bilingual vocabulary instead).
    """
    if word[-1] != "s" or len(word) <= 3 or word[-2] in "su" or not word.isascii():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("is"):
        return word
    return word[:-1]


@dataclass
class Analysed:
    """Token streams of one text. ``units`` holds words and single CJK characters in order;
    ``bigrams`` holds overlapping CJK bigrams in order (a phrase of bigrams is a substring)."""

    units: list[str] = field(default_factory=list)
    bigrams: list[str] = field(default_factory=list)

    def extend(self, other: Analysed) -> None:
        self.units.extend(other.units)
        self.bigrams.extend(other.bigrams)


@dataclass(frozen=True)
class Piece:
    """A contiguous piece of normalised text: a CJK run or one word."""

    text: str
    cjk: bool


def pieces(normalised: str) -> list[Piece]:
    """Split already-normalised text into CJK runs and (unstemmed) words."""
    out: list[Piece] = []
    for m in _TOKEN.finditer(normalised):
        if m.group(1):
            out.append(Piece(m.group(1), True))
        else:
            out.append(Piece(m.group(2), False))
    return out


def piece_starts(normalised: str) -> list[int]:
    """Where each piece of already-normalised text starts (offsets into it)."""
    return [m.start() for m in _TOKEN.finditer(normalised)]


def analyse_piece(piece: Piece) -> Analysed:
    if not piece.cjk:
        return Analysed([stem(piece.text)], [])
    chars = list(piece.text)
    return Analysed(chars, [a + b for a, b in itertools.pairwise(chars)])


def analyse(text: str) -> Analysed:
    """Token streams of raw text (normalised here). Hot path of indexing: kept flat."""
    units: list[str] = []
    bigrams: list[str] = []
    # findall's (run, word) tuples cost less than a match object and two group() calls.
    for run, word in _TOKEN.findall(normalise(text)):
        if run:
            units.extend(run)
            if len(run) > 1:
                bigrams.extend(map(operator.add, run, run[1:]))
        else:
            units.append(stem(word) if word[-1] == "s" else word)  # stem() changes only words in -s
    return Analysed(units, bigrams)


def has_cjk(text: str) -> bool:
    return _CJK_CHAR.search(text) is not None
