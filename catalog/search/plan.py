"""Query analysis and expansion: a user's words become an engine-neutral :class:`QueryPlan`.

Any string is accepted. Quotes that pair up make phrases; everything else (operators,
brackets, SQL or Lucene syntax, emoji) is just text, cut into words and CJK runs by
the same analysis the indexer uses. Each clause may also match through the bilingual
vocabulary (a concept), which backends weight below the literal words. Backends compile
a plan into their own syntax; no user text ever reaches an engine unquoted.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from functools import cache

from catalog.search.terms import Terms
from catalog.search.text import STOPWORDS, normalise, pieces, stem

MAX_CLAUSES = 12
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "『": '"', "』": '"', "＂": '"'})
_QUOTED = re.compile(r'"([^"]*)"')


@dataclass
class Clause:
    """One thing the user asked for. A record matches it through ``units`` (all present)
    or through any of ``concepts``; ``phrases`` only raise the score of literal matches."""

    text: str
    units: list[str]
    adjacent: bool = False  # the units must appear as a phrase (quoted by the user)
    concepts: frozenset[str] = frozenset()
    #: Optional phrases that imply ``units``: (kind, tokens), kind "units" or "bigrams".
    phrases: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass
class QueryPlan:
    clauses: list[Clause]
    #: Normalised strings worth highlighting in results (literal words and concept forms).
    highlight: list[str]
    concepts: list[str]

    @property
    def empty(self) -> bool:
        return not self.clauses


@dataclass(frozen=True)
class _Unit:
    token: str
    raw: str
    piece: int
    cjk: bool


def _units_of(text: str) -> list[_Unit]:
    out: list[_Unit] = []
    for i, p in enumerate(pieces(text)):
        if p.cjk:
            out.extend(_Unit(ch, ch, i, True) for ch in p.text)
        else:
            out.append(_Unit(stem(p.text), p.text, i, False))
    return out


def _bigram_phrase(units: list[_Unit]) -> list[str]:
    """Bigrams of the units when they are one contiguous CJK stretch of one piece."""
    if len(units) < 2 or not all(u.cjk for u in units) or len({u.piece for u in units}) != 1:
        return []
    return [a.token + b.token for a, b in itertools.pairwise(units)]


def _surface(units: list[_Unit]) -> str:
    out = ""
    for prev, u in zip([None, *units[:-1]], units, strict=False):
        if prev is not None and not (prev.cjk and u.cjk and prev.piece == u.piece):
            out += " "
        out += u.raw
    return out


def _clause(units: list[_Unit], concepts: frozenset[str], adjacent: bool = False) -> Clause:
    tokens = [u.token for u in units]
    clause = Clause(text=_surface(units), units=tokens, adjacent=adjacent, concepts=concepts)
    bigrams = _bigram_phrase(units)
    if bigrams:
        clause.phrases.append(("bigrams", bigrams))
    elif len(tokens) > 1 and not adjacent:
        clause.phrases.append(("units", tokens))
    return clause


def _segment_clauses(units: list[_Unit], terms: Terms) -> list[Clause]:
    """Clauses of an unquoted stretch: vocabulary terms first, then leftover words and CJK runs."""
    matches = terms.find([u.token for u in units])
    covered: dict[int, tuple[int, frozenset[str]]] = {m.start: (m.end, m.concepts) for m in matches}
    out: list[Clause] = []
    i = 0
    while i < len(units):
        if i in covered:
            end, ids = covered[i]
            out.append(_clause(units[i:end], ids))
            i = end
            continue
        u = units[i]
        if not u.cjk:
            if u.raw not in STOPWORDS:
                out.append(_clause([u], frozenset()))
            i += 1
            continue
        j = i + 1
        while j < len(units) and j not in covered and units[j].cjk and units[j].piece == u.piece:
            j += 1
        out.append(_clause(units[i:j], frozenset()))
        i = j
    if len(out) > 1 and len(units) <= 16:
        # The whole stretch as typed, as a phrase, ranks records that say it verbatim first.
        # A phrase over all units implies the first clause's units, so it cannot widen it.
        out[0].phrases.append(("units", [u.token for u in units]))
    return out


def plan_query(raw: str, terms: Terms) -> QueryPlan:
    """Analyse ``raw`` (any string at all) into clauses with vocabulary expansions."""
    text = normalise(raw.translate(_QUOTES))[:1000]
    clauses: list[Clause] = []
    pos = 0
    segments: list[tuple[str, bool]] = []
    for m in _QUOTED.finditer(text):
        segments.append((text[pos : m.start()], False))
        segments.append((m.group(1), True))
        pos = m.end()
    segments.append((text[pos:].replace('"', " "), False))
    for seg, quoted in segments:
        units = _units_of(seg)
        if not units:
            continue
        if quoted:
            whole = terms.find([u.token for u in units])
            ids = whole[0].concepts if len(whole) == 1 and whole[0].end - whole[0].start == len(units) else frozenset()
            clauses.append(_clause(units, ids, adjacent=len(units) > 1))
        else:
            clauses.extend(_segment_clauses(units, terms))
    clauses = clauses[:MAX_CLAUSES]

    concept_ids = list(dict.fromkeys(c for cl in clauses for c in sorted(cl.concepts)))
    highlight: list[str] = []
    for cl in clauses:
        highlight.append(cl.text)
        for cid in sorted(cl.concepts):
            highlight.extend(normalise(f) for f in terms.forms_of(cid))
    highlight = sorted({h for h in highlight if h.strip()}, key=lambda h: (-len(h), h))
    return QueryPlan(clauses=clauses, highlight=highlight, concepts=concept_ids)


@cache  # concept ids are the vocabulary's few hundred; indexing asks for them per record
def concept_token(concept_id: str) -> str:
    """The index token standing for a vocabulary concept (letters and digits only)."""
    return "cx" + re.sub(r"[^0-9a-z]", "", concept_id.lower())
