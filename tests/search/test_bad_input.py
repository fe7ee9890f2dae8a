"""Property: no query string, however odd, makes search fail or leak engine syntax."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.search.document import build_document
from catalog.search.embedded import EmbeddedIndex, fts_expression
from catalog.search.query import SearchQuery
from tests.search.test_contract import ZH_ONLY

_SYNTAX = st.sampled_from(
    [
        '"',
        "'",
        "(",
        ")",
        "*",
        "^",
        ":",
        "{",
        "}",
        "-",
        "+",
        "AND",
        "OR",
        "NOT",
        "NEAR",
        ";",
        "--",
        "\\",
        "肺部",
        "lung",
        "🙂",
        "\u2028",
        "\x00",
        " ",
        "title:",
        "%",
        "_",
        "[",
        "]",
    ]
)
_OURS = {"AND", "OR", ":", "{t", "k", "d}", "{tb", "kb", "db}", "{ct", "cd}"}
QUERIES = st.one_of(st.text(max_size=300), st.lists(_SYNTAX, max_size=40).map("".join))


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedIndex:
    ix = EmbeddedIndex.open(tmp_path_factory.mktemp("prop") / "search")
    ix.upsert([build_document(ds, guid) for guid, ds in ZH_ONLY.items()])
    return ix


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=QUERIES)
def test_search_never_fails_on_any_string(index: EmbeddedIndex, q: str) -> None:
    res = index.search(SearchQuery(q=q, filters={"modality": ["CT"]}))
    assert 0 <= len(res.hits) <= res.total


@settings(max_examples=300, deadline=None)
@given(q=QUERIES)
def test_engine_expression_quotes_every_user_token(q: str) -> None:
    from catalog.search.terms import load_terms

    plan = EmbeddedIndex(Path("."), load_terms()).plan(q)
    expression = fts_expression(plan)
    # Outside our own quotes there are only operators and column filters we wrote.
    outside = expression.split('"')[::2]
    for part in outside:
        for word in part.replace("(", " ").replace(")", " ").split():
            assert word in _OURS or word.startswith("cx")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.text(max_size=100))
def test_suggest_never_fails(index: EmbeddedIndex, prefix: str) -> None:
    assert len(index.suggest(prefix)) <= 10
