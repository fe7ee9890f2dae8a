"""The search contract's data: what a caller asks (:class:`SearchQuery`) and gets back
(:class:`SearchResults`), the facet names, and opaque cursors. Pure data, no engine."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog.search.document import facet_label

Sort = Literal["relevance", "newest", "title", "cases"]
SORTS: tuple[str, ...] = ("relevance", "newest", "title", "cases")

#: Facet name -> (English label, Traditional Chinese label). Order is display order.
FACETS: dict[str, tuple[str, str]] = {
    "modality": ("Modality", "影像類型"),
    "body_site": ("Body site", "部位"),
    "publisher": ("Publisher", "發布者"),
    "access_route": ("Access route", "取用方式"),
    "access_rights": ("Access rights", "取用權限"),
    "license": ("Licence", "授權"),
    "format": ("Format", "格式"),
    "annotation_status": ("Annotation status", "標註狀態"),
    "health_category": ("Health category", "健康資料類別"),
    "keyword": ("Keyword", "關鍵字"),
    "language": ("Language", "語言"),
}

MAX_QUERY_CHARS = 1000
MAX_LIMIT = 100


class QueryError(ValueError):
    """The request cannot be answered as asked (unknown facet, foreign cursor); HTTP 400."""

    code = "bad_search_request"


class SearchQuery(BaseModel):
    """One search request. ``filters`` maps a facet name to the values any of which may match."""

    model_config = ConfigDict(extra="forbid")

    q: str = ""
    filters: dict[str, list[str]] = Field(default_factory=dict)
    sort: Sort = "relevance"
    cursor: str | None = None
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT)
    lang: Literal["en", "zh-Hant"] = "en"
    facet_limit: int = Field(default=20, ge=0, le=200)

    @field_validator("q")
    @classmethod
    def _trim(cls, v: str) -> str:
        # Very long input is cut, not refused: a pasted abstract still finds something.
        return v[:MAX_QUERY_CHARS]

    @field_validator("filters")
    @classmethod
    def _known_facets(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, values in v.items():
            if name not in FACETS:
                raise ValueError(f"unknown facet {name!r}; use one of: {', '.join(FACETS)}")
            kept = list(dict.fromkeys(x for x in values if x))
            if kept:
                out[name] = kept
        return out

    def fingerprint(self) -> str:
        """What a cursor belongs to: the same words, filters and sort."""
        blob = json.dumps(
            [self.q, sorted((k, sorted(v)) for k, v in self.filters.items()), self.sort, self.lang], ensure_ascii=False
        )
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:12]


class FacetValue(BaseModel):
    value: str
    count: int
    label: dict[str, str] = Field(default_factory=dict)
    selected: bool = False


class Facet(BaseModel):
    name: str
    label: dict[str, str]
    values: list[FacetValue]


def facet_of(
    name: str,
    counts: Mapping[str, int],
    chosen: Sequence[str],
    limit: int,
    labels: Mapping[tuple[str, str], dict[str, str]],
) -> Facet:
    """One facet as every backend answers it: the ``limit`` most frequent values (ties by value),
    then each chosen value not among them with its count (0 if none), so a selection never
    disappears from its own facet. Labels come from the index, else from the vocabulary."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    listed = {v for v, _ in ranked}
    ranked += [(v, counts.get(v, 0)) for v in chosen if v not in listed]
    en, zh = FACETS[name]
    return Facet(
        name=name,
        label={"en": en, "zh-Hant": zh},
        values=[
            FacetValue(value=v, count=c, label=labels.get((name, v)) or facet_label(name, v), selected=v in chosen)
            for v, c in ranked
        ],
    )


class Hit(BaseModel):
    """One result: the GUID, what a result list shows, and highlighted HTML snippets.

    ``highlights`` values are HTML-escaped text in which only ``<mark>…</mark>`` is markup.
    """

    guid: str
    score: float | None = None
    title: dict[str, str]
    description: dict[str, str] = Field(default_factory=dict)
    highlights: dict[str, dict[str, str]] = Field(default_factory=dict)
    keywords: list[str] = Field(default_factory=list)
    publisher: dict[str, str] = Field(default_factory=dict)
    modalities: list[str] = Field(default_factory=list)
    body_sites: list[str] = Field(default_factory=list)
    access_rights: str | None = None
    cases: int | None = None
    modified: str | None = None


class SearchResults(BaseModel):
    total: int
    hits: list[Hit]
    facets: list[Facet] = Field(default_factory=list)
    next_cursor: str | None = None
    #: Vocabulary concepts the query was also expanded to (for "also searched" hints).
    expanded: list[dict[str, str]] = Field(default_factory=list)


def encode_cursor(query: SearchQuery, position: dict[str, Any]) -> str:
    blob = json.dumps({"f": query.fingerprint(), **position}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(blob.encode("utf-8")).decode().rstrip("=")


def decode_cursor(query: SearchQuery) -> dict[str, Any] | None:
    """The position a cursor points after, or ``None`` for the first page."""
    if not query.cursor:
        return None
    try:
        padded = query.cursor + "=" * (-len(query.cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except Exception as exc:
        raise QueryError("the cursor is not one this server handed out; start again without it") from exc
    if data.get("f") != query.fingerprint():
        raise QueryError(
            "the cursor belongs to a different search (words, filters or sort changed); start again without it"
        )
    return data
