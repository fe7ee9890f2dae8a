"""Properties of the query parser (:func:`catalog.search.plan.plan_query`) over any string at all:
it never fails, its clauses come only from the words the user typed (or the vocabulary they
matched), quotes make phrases, and the same words always give the same plan."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.search.plan import MAX_CLAUSES, plan_query
from catalog.search.terms import Terms, load_terms
from catalog.search.text import normalise, pieces, stem

_WORDS = st.sampled_from(
    ["lung", "CT", "nodules", "肺部", "胸腔", "X光", "breast", "MRI", "the", "of", "乳房", "腫瘤", "and", "OR"]
)
_NOISE = st.sampled_from(['"', "“", "」", "(", ")", "*", ":", "-", " ", "  ", "\u3000", "🙂", "\x00", "，"])
QUERIES = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_WORDS, _NOISE), max_size=30).map("".join),
)


@cache
def terms() -> Terms:
    return load_terms()


def _tokens_of(raw: str) -> set[str]:
    """Every token the indexer's analysis could make of ``raw``: stemmed words and CJK characters."""
    out: set[str] = set()
    for p in pieces(normalise(raw.replace("“", '"').replace("」", '"'))):
        out.update(p.text if p.cjk else [stem(p.text)])
    return out


@settings(max_examples=400, deadline=None)
@given(q=QUERIES)
def test_any_string_gives_a_bounded_plan_made_only_of_its_own_words(q: str) -> None:
    plan = plan_query(q, terms())
    assert len(plan.clauses) <= MAX_CLAUSES
    typed = _tokens_of(q)
    for clause in plan.clauses:
        assert clause.units, "a clause must ask for something"
        assert clause.text.strip()
        assert set(clause.units) <= typed, (clause.units, typed)
        for kind, tokens in clause.phrases:
            assert kind in ("units", "bigrams") and tokens
    assert set(plan.concepts) == {c for cl in plan.clauses for c in cl.concepts}
    assert plan.highlight == sorted(set(plan.highlight), key=lambda h: (-len(h), h))
    if not typed:
        assert plan.empty


@settings(max_examples=200, deadline=None)
@given(q=QUERIES)
def test_the_same_words_give_the_same_plan(q: str) -> None:
    assert plan_query(q, terms()) == plan_query(q, terms())


@settings(max_examples=200, deadline=None)
@given(a=st.sampled_from(["lung", "breast", "brain", "knee"]), b=st.sampled_from(["nodule", "mass", "scan", "study"]))
def test_quoted_words_make_one_adjacent_clause(a: str, b: str) -> None:
    plan = plan_query(f'chest "{a} {b}"', terms())
    quoted = [cl for cl in plan.clauses if cl.adjacent]
    assert len(quoted) == 1
    assert quoted[0].units == [a, b]


def test_words_of_only_stopwords_and_punctuation_ask_for_nothing() -> None:
    assert plan_query('the of and () "" :-', terms()).empty
