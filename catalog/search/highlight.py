"""Highlighted snippets: mark the query's words (and their vocabulary expansions) in display text.

Output is HTML-escaped text where the only markup is ``<mark>…</mark>``, so pages can
insert it as is. Matching runs on normalised text (Traditional, case-folded) mapped back
to the original characters, so the user sees the record's own wording.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

from catalog.search.text import has_cjk, normalise, stem

SNIPPET_CHARS = 180


@lru_cache(maxsize=4096)
def _norm_char(ch: str) -> str:
    return normalise(ch)


def _normalised_with_offsets(text: str) -> tuple[str, list[int] | None]:
    """Normalised text and, when normalising changed its length, each character's origin
    (``None`` means position i maps to i, the usual case)."""
    whole = normalise(text)
    if len(whole) == len(text):
        return whole, None
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        n = _norm_char(ch)
        out.append(n)
        offsets.extend([i] * len(n))
    return "".join(out), offsets


@lru_cache(maxsize=512)
def _matcher(terms: tuple[str, ...]) -> tuple[re.Pattern[str], tuple[str, ...]] | None:
    """The alternation of ``terms`` (longest first, as given) and the literal every match of
    each alternative starts with: matching is tried only where one of those literals occurs."""
    alts: list[str] = []
    starts: list[str] = []
    for t in terms:
        t = t.strip()
        if not t:
            continue
        if has_cjk(t):
            alts.append(re.escape(t))
            starts.append(t)
        else:
            words = [stem(w) for w in t.split()]
            body = r"\W+".join(re.escape(w) for w in words)
            alts.append(rf"(?<![^\W_]){body}[^\W_]*")
            starts.append(words[0])
    if not alts:
        return None
    return re.compile("|".join(alts)), tuple(dict.fromkeys(starts))


def _candidates(norm: str, starts: tuple[str, ...]) -> list[int]:
    found: set[int] = set()
    for literal in starts:
        i = norm.find(literal)
        while i >= 0:
            found.add(i)
            i = norm.find(literal, i + 1)
    return sorted(found)


def spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Character spans of ``text`` that match ``terms`` (non-overlapping, in order).

    The same matches as scanning the whole text with the alternation, found faster: the
    regex engine tries each alternative at every position, while ``str.find`` for the
    starting literals skips straight to the few places a match can begin (this was most
    of the time spent building a result page).
    """
    matcher = _matcher(terms)
    if matcher is None or not text:
        return []
    norm, offsets = _normalised_with_offsets(text)
    pattern, starts = matcher
    out: list[tuple[int, int]] = []
    pos = 0
    for candidate in _candidates(norm, starts):
        if candidate < pos:
            continue
        m = pattern.match(norm, candidate)
        if m is None or m.end() == m.start():
            continue
        pos = m.end()
        start, end = (m.start(), m.end()) if offsets is None else (offsets[m.start()], offsets[m.end() - 1] + 1)
        if not out or start >= out[-1][1]:
            out.append((start, end))
    return out


def mark(text: str, terms: tuple[str, ...], *, window: int | None = None) -> str:
    """``text`` escaped, with matches wrapped in ``<mark>``; cut to a window around the first
    match when ``window`` is given."""
    found = spans(text, terms)
    lo, hi = 0, len(text)
    if window is not None and len(text) > window:
        first = found[0][0] if found else 0
        lo = max(0, first - window // 4)
        hi = min(len(text), lo + window)
        lo = max(0, hi - window)
    parts: list[str] = ["…" if lo > 0 else ""]
    pos = lo
    for start, end in found:
        if end <= lo or start >= hi:
            continue
        start, end = max(start, lo), min(end, hi)
        parts.append(html.escape(text[pos:start]))
        parts.append("<mark>" + html.escape(text[start:end]) + "</mark>")
        pos = end
    parts.append(html.escape(text[pos:hi]))
    if hi < len(text):
        parts.append("…")
    return "".join(parts)
