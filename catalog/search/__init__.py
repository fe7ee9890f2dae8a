"""Bilingual full-text search over the catalog: one interface, an embedded and an Elasticsearch backend.

Use ``ctx.extensions["search"]`` (a :class:`SearchIndex`) and call
``index.search(SearchQuery(q=..., filters={...}))``; see ``query.py`` for the contract.
"""

from catalog.search.document import SearchDocument, build_document
from catalog.search.index import SearchIndex, Suggestion, apply_changes, open_index
from catalog.search.query import (
    FACETS,
    SORTS,
    Facet,
    FacetValue,
    Hit,
    QueryError,
    SearchQuery,
    SearchResults,
)

__all__ = [
    "FACETS",
    "SORTS",
    "Facet",
    "FacetValue",
    "Hit",
    "QueryError",
    "SearchDocument",
    "SearchIndex",
    "SearchQuery",
    "SearchResults",
    "Suggestion",
    "apply_changes",
    "build_document",
    "open_index",
]
