"""What the home page shows: one page of datasets, from the search index when there is one.

Without a search index (``ctx.extensions["search"]`` absent) the store is listed in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from catalog.context import Context
from catalog.store import StoredDataset


@dataclass
class FacetOption:
    value: str
    label: str
    count: int
    checked: bool


@dataclass
class Facet:
    name: str
    vocab: str | None
    options: list[FacetOption] = field(default_factory=list)


@dataclass
class SearchView:
    items: list[StoredDataset]
    total: int
    next_cursor: str | None = None
    facets: list[Facet] = field(default_factory=list)
    searching: bool = False
    search_available: bool = False


def run_search(ctx: Context, request: Request, *, q: str, cursor: str | None, limit: int) -> SearchView:
    """The datasets the home page lists for query ``q`` (store order when there is no index)."""
    index = ctx.extensions.get("search")
    page = ctx.store.page(limit=limit, cursor=cursor)
    return SearchView(
        items=page.items,
        total=ctx.store.count(),
        next_cursor=page.next_cursor,
        searching=bool(q.strip()),
        search_available=index is not None,
    )
