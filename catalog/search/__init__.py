"""Bilingual full-text search over the catalog: one interface, an embedded and an Elasticsearch backend.

Use ``ctx.extensions["search"]`` (a :class:`SearchIndex`) and call
``index.search(SearchQuery(q=..., filters={...}))``; see ``query.py`` for the contract.

The names below are imported when first asked for, not with the package: the search
indexer's child process starts from a module of this package and must read its pipe
before it spends most of a second importing them (``index_child.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.lazy_exports import lazy_getattr

if TYPE_CHECKING:
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

_HOME = {
    "SearchDocument": "document",
    "build_document": "document",
    "SearchIndex": "index",
    "Suggestion": "index",
    "apply_changes": "index",
    "open_index": "index",
    "FACETS": "query",
    "SORTS": "query",
    "Facet": "query",
    "FacetValue": "query",
    "Hit": "query",
    "QueryError": "query",
    "SearchQuery": "query",
    "SearchResults": "query",
}

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


__getattr__ = lazy_getattr(__name__, _HOME, globals())
