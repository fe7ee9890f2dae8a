"""What the home page shows: one page of dataset cards and the facets, from the search index.

Without a search index (``ctx.extensions["search"]`` absent) the store is listed in order and
there are no facets. Only data is computed here; the template decides how it looks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from starlette.requests import Request

from catalog.context import Context
from catalog.search import FACETS, SORTS, SearchQuery, SearchResults
from catalog.store import StoredDataset
from schemas import text_in

#: Facets offered as checkboxes on the home page, in display order.
PAGE_FACETS = ("modality", "body_site", "publisher", "access_route", "access_rights", "annotation_status", "format")


@dataclass
class Card:
    """One dataset in the result list."""

    guid: str
    title: dict[str, str]
    description: dict[str, str]
    publisher: dict[str, str]
    access_rights: str | None
    modalities: list[str]
    body_sites: list[str]
    cases: int | None
    title_html: Markup | None = None
    snippet_html: Markup | None = None


@dataclass
class FacetOption:
    value: str
    label: str
    count: int
    checked: bool


@dataclass
class Facet:
    name: str
    label: str
    options: list[FacetOption] = field(default_factory=list)


@dataclass
class SearchView:
    cards: list[Card]
    total: int
    next_cursor: str | None = None
    facets: list[Facet] = field(default_factory=list)
    searching: bool = False
    search_available: bool = False
    sort: str = "relevance"
    also_searched: list[str] = field(default_factory=list)


def selected_filters(request: Request) -> dict[str, list[str]]:
    """Facet values ticked in the query string (``?modality=CT&modality=MR``)."""
    out: dict[str, list[str]] = {}
    for name in FACETS:
        values = [v for v in request.query_params.getlist(name) if v]
        if values:
            out[name] = values
    return out


def run_search(
    ctx: Context, request: Request, *, q: str, cursor: str | None, limit: int, sort: str, lang: str
) -> SearchView:
    """The cards and facets for query ``q`` with the ticked filters (raises the index's QueryError)."""
    index = ctx.extensions.get("search")
    filters = selected_filters(request)
    if index is None:
        page = ctx.store.page(limit=limit, cursor=cursor)
        return SearchView(
            cards=[_card_of_stored(s) for s in page.items],
            total=ctx.store.count(),
            next_cursor=page.next_cursor,
            searching=bool(q.strip() or filters),
        )
    query = SearchQuery(
        q=q,
        filters=filters,
        sort=sort if sort in SORTS else "relevance",
        cursor=cursor,
        limit=min(limit, 100),
        lang="zh-Hant" if lang == "zh-Hant" else "en",
    )
    results: SearchResults = index.search(query)
    return SearchView(
        cards=[_card_of_hit(h, lang, highlight=bool(q.strip())) for h in results.hits],
        total=results.total,
        next_cursor=results.next_cursor,
        facets=_facets(results, lang),
        searching=bool(q.strip() or filters),
        search_available=True,
        sort=query.sort,
        also_searched=[text_in({k: v for k, v in e.items() if k != "id"}, lang) for e in results.expanded],
    )


def _card_of_stored(stored: StoredDataset) -> Card:
    ds = stored.dataset
    imaging = ds.imaging
    return Card(
        guid=stored.guid,
        title=ds.title,
        description=ds.description,
        publisher=ds.publisher.name if ds.publisher else {},
        access_rights=ds.access_rights,
        modalities=imaging.modalities if imaging else [],
        body_sites=imaging.body_sites if imaging else [],
        cases=imaging.total_cases if imaging and imaging.total_cases else None,
    )


def _card_of_hit(hit: Any, lang: str, *, highlight: bool) -> Card:
    card = Card(
        guid=hit.guid,
        title=hit.title,
        description=hit.description,
        publisher=hit.publisher,
        access_rights=hit.access_rights,
        modalities=hit.modalities,
        body_sites=hit.body_sites,
        cases=hit.cases,
    )
    if highlight:
        # The index escapes the text and adds only <mark> elements (its documented contract).
        title = text_in(hit.highlights.get("title", {}), lang)
        snippet = text_in(hit.highlights.get("description", {}), lang)
        card.title_html = Markup(title) if "<mark>" in title else None
        card.snippet_html = Markup(snippet) if snippet else None
    return card


def _facets(results: SearchResults, lang: str) -> list[Facet]:
    by_name = {f.name: f for f in results.facets}
    out: list[Facet] = []
    for name in PAGE_FACETS:
        facet = by_name.get(name)
        if facet is None or not facet.values:
            continue
        out.append(
            Facet(
                name=name,
                label=text_in(facet.label, lang) or name,
                options=[
                    FacetOption(v.value, text_in(v.label, lang) or v.value, v.count, v.selected)
                    for v in facet.values
                ],
            )
        )
    return out
