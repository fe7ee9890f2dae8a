"""The Elasticsearch backend (official client), for catalogs that outgrow one machine.

Mapping: every analysed field has a ``zh`` sub-field (``cjk_bigram`` with unigrams) and an
``en`` sub-field (``english``); the main field uses the standard tokenizer, which splits
Han text into single characters, so phrase queries are exact substrings. Facets are
keyword fields; the multi-select rule (a facet's counts ignore its own selection) is done
with ``post_filter`` plus one filtered aggregation per facet. Readers use an alias;
``rebuild`` fills a new concrete index and swaps the alias in one atomic call.

Query text never reaches Elasticsearch's query-string syntax: we send structured
queries built from the analysed :class:`~catalog.search.plan.QueryPlan`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from catalog.changes import StoredDataset
from catalog.search.document import SearchDocument
from catalog.search.embedded import RELAX_BELOW, hit_of
from catalog.search.index import Progress, Suggestion, active, document_of
from catalog.search.plan import Clause, QueryPlan, concept_token, plan_query
from catalog.search.query import (
    FACETS,
    Facet,
    SearchQuery,
    SearchResults,
    decode_cursor,
    encode_cursor,
    facet_of,
)
from catalog.search.terms import Terms, document_concepts, load_terms
from catalog.search.text import analyse, normalise, pieces, to_traditional

_TEXT = {
    "type": "text",
    "analyzer": "standard",
    "fields": {"zh": {"type": "text", "analyzer": "zh"}, "en": {"type": "text", "analyzer": "english"}},
}
SETTINGS: dict[str, Any] = {
    "analysis": {
        "filter": {"zh_bigrams": {"type": "cjk_bigram", "output_unigrams": True}},
        "analyzer": {
            "zh": {"type": "custom", "tokenizer": "standard", "filter": ["cjk_width", "lowercase", "zh_bigrams"]}
        },
    }
}
MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "guid": {"type": "keyword"},
        "display": {"type": "object", "enabled": False},
        "title": _TEXT,
        "keywords": _TEXT,
        "description": _TEXT,
        "concepts_title": {"type": "keyword"},
        "concepts": {"type": "keyword"},
        "modified": {"type": "keyword"},
        "title_en": {"type": "keyword"},
        "title_zh": {"type": "keyword"},
        "cases": {"type": "long"},
        "suggest_titles": {"type": "keyword"},
        "suggest_keywords": {"type": "keyword"},
        **{f"f_{name}": {"type": "keyword"} for name in FACETS},
    },
}
# Same field weights as the embedded backend: title > keywords > description, concepts lower.
_FIELDS = [
    "title^10",
    "title.zh^10",
    "title.en^10",
    "keywords^5",
    "keywords.zh^5",
    "keywords.en^5",
    "description",
    "description.zh",
    "description.en",
]
_PHRASE_FIELDS = ["title^10", "keywords^5", "description"]


def _source(doc: SearchDocument, terms: Terms) -> dict[str, Any]:
    title, other = document_concepts(
        analyse(doc.title_text).units,
        [analyse(doc.keyword_text).units, analyse(doc.description_text).units],
        doc.modalities,
        doc.body_sites,
        terms,
    )
    tails: list[str] = []
    for text in doc.display.get("title", {}).values():
        norm = normalise(text)
        tails.append(norm)
        pos = 0
        for p in pieces(norm)[1:12]:
            pos = norm.find(p.text, pos + 1)
            if pos > 0:
                tails.append(norm[pos:])
    return {
        "guid": doc.guid,
        "display": doc.display,
        "title": to_traditional(doc.title_text),
        "keywords": to_traditional(doc.keyword_text),
        "description": to_traditional(doc.description_text),
        "concepts_title": [concept_token(c) for c in sorted(title)],
        "concepts": [concept_token(c) for c in sorted(other)],
        "modified": doc.modified,
        "title_en": doc.title_sort.get("en", ""),
        "title_zh": doc.title_sort.get("zh-Hant", ""),
        "cases": doc.cases,
        "suggest_titles": tails,
        "suggest_keywords": [normalise(k) for k in doc.display.get("keywords", [])],
        **{f"f_{name}": values for name, values in doc.facets.items()},
        "display_labels": [[f, v, lab.get("en", v), lab.get("zh-Hant", v)] for (f, v), lab in doc.labels.items()],
    }


def _clause_query(clause: Clause) -> dict[str, Any]:
    should: list[dict[str, Any]] = []
    if clause.adjacent:
        should.append({"multi_match": {"query": clause.text, "type": "phrase", "fields": _PHRASE_FIELDS}})
    else:
        should.append({"multi_match": {"query": clause.text, "fields": _FIELDS, "operator": "and"}})
        should.append({"multi_match": {"query": clause.text, "type": "phrase", "fields": _PHRASE_FIELDS}})
    if clause.concepts:
        tokens = [concept_token(c) for c in sorted(clause.concepts)]
        should.append({"terms": {"concepts_title": tokens, "boost": 2.5}})
        should.append({"terms": {"concepts": tokens, "boost": 0.5}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def es_query(plan: QueryPlan, require_all: bool = True) -> dict[str, Any]:
    """The Elasticsearch query of a plan (structured; never query-string syntax)."""
    if plan.empty:
        return {"match_all": {}}
    clauses = [_clause_query(c) for c in plan.clauses]
    if require_all:
        return {"bool": {"must": clauses}}
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def _sort(query: SearchQuery, plan: QueryPlan) -> list[Any]:
    sort = query.sort
    if sort == "relevance" and plan.empty:
        sort = "newest"
    if sort == "relevance":
        return ["_score", {"guid": "asc"}]
    if sort == "title":
        field = "title_en" if query.lang == "en" else "title_zh"
        return [{field: {"order": "asc", "missing": "_last"}}, {"guid": "asc"}]
    if sort == "cases":
        return [{"cases": {"order": "desc", "missing": "_last"}}, {"guid": "asc"}]
    return [{"modified": {"order": "desc", "missing": "_last"}}, {"guid": "asc"}]


class ElasticsearchIndex:
    """An Elasticsearch alias with our mapping behind it."""

    backend = "elasticsearch"

    def __init__(self, client: Any, alias: str, terms: Terms, refresh: bool = False) -> None:
        self.client = client
        self.alias = alias
        self.terms = terms
        self._refresh = "wait_for" if refresh else False

    @classmethod
    def connect(
        cls, url: str, alias: str, *, data_dir: str | Path | None = None, refresh: bool = False
    ) -> ElasticsearchIndex:
        from elasticsearch import Elasticsearch

        index = cls(Elasticsearch(url), alias, load_terms(data_dir), refresh=refresh)
        if not index.client.indices.exists_alias(name=alias):
            concrete = index._create_concrete()
            index.client.indices.put_alias(index=concrete, name=alias)
        return index

    def _create_concrete(self) -> str:
        name = f"{self.alias}-{time.time_ns()}"
        self.client.indices.create(index=name, settings=SETTINGS, mappings=MAPPINGS)
        return name

    def _concrete(self) -> list[str]:
        if not self.client.indices.exists_alias(name=self.alias):
            return []
        return list(self.client.indices.get_alias(name=self.alias).keys())

    # --- writing -------------------------------------------------------------------------

    def _bulk(self, actions: Iterable[dict[str, Any]], index: str | None = None, refresh: Any = None) -> int:
        from elasticsearch import helpers

        ok, _errors = helpers.bulk(
            self.client,
            actions,
            index=index or self.alias,
            refresh=self._refresh if refresh is None else refresh,
            raise_on_error=False,
        )
        return int(ok)

    def upsert(self, documents: Sequence[SearchDocument]) -> None:
        if documents:
            self._bulk({"_id": d.guid, "_source": _source(d, self.terms)} for d in documents)

    def remove(self, guids: Sequence[str]) -> None:
        if guids:
            self._bulk({"_op_type": "delete", "_id": g} for g in guids)

    def rebuild(self, records: Iterable[StoredDataset], progress: Progress | None = None) -> int:
        """Fill a new concrete index, then move the alias to it in one atomic call."""
        new = self._create_concrete()
        old = self._concrete()
        written = 0

        def actions() -> Iterator[dict[str, Any]]:
            nonlocal written
            for stored in active(records):
                doc = document_of(stored)
                written += 1
                if progress and written % 500 == 0:
                    progress(written)
                yield {"_id": doc.guid, "_source": _source(doc, self.terms)}

        self._bulk(actions(), index=new, refresh=False)
        self.client.indices.refresh(index=new)
        self.client.indices.update_aliases(
            actions=[
                *({"remove": {"index": o, "alias": self.alias}} for o in old),
                {"add": {"index": new, "alias": self.alias}},
            ]
        )
        for o in old:
            self.client.indices.delete(index=o, ignore_unavailable=True)
        if progress:
            progress(written)
        return written

    def drop(self) -> None:
        """Delete the alias and its indices (tests)."""
        for name in self._concrete():
            self.client.indices.delete(index=name, ignore_unavailable=True)

    def close(self) -> None:
        self.client.close()

    def count(self) -> int:
        return int(self.client.count(index=self.alias)["count"])

    # --- reading -------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        after = decode_cursor(query)
        plan = plan_query(query.q, self.terms)
        body = self._body(query, plan, es_query(plan), after)
        res = self.client.search(index=self.alias, **body)
        strict_total = int(res["aggregations"]["all"]["doc_count"])
        if strict_total < RELAX_BELOW and len(plan.clauses) > 1:
            # Few records have every word: rank those with some of them too (the strict
            # ones score higher because they match more clauses).
            body = self._body(query, plan, es_query(plan, require_all=False), after)
            res = self.client.search(index=self.alias, **body)
        hits_out = res["hits"]["hits"]
        more = len(hits_out) > query.limit
        hits_out = hits_out[: query.limit]
        terms = tuple(plan.highlight)
        hits = [hit_of(h["_source"]["guid"], h["_source"]["display"], terms, h.get("_score")) for h in hits_out]
        cursor = encode_cursor(query, {"sa": hits_out[-1]["sort"]}) if more and hits_out else None
        labels = self._labels(res)
        facets = self._facets(query, res, labels)
        expanded = [{"id": c, **self.terms.concepts[c].labels} for c in plan.concepts if c in self.terms.concepts]
        return SearchResults(
            total=int(res["hits"]["total"]["value"]), hits=hits, facets=facets, next_cursor=cursor, expanded=expanded
        )

    def _body(
        self, query: SearchQuery, plan: QueryPlan, es: dict[str, Any], after: dict[str, Any] | None
    ) -> dict[str, Any]:
        selected = {name: {"terms": {f"f_{name}": values}} for name, values in query.filters.items()}
        # "all" counts what the query matches before filters (post_filter applies after aggs).
        aggs: dict[str, Any] = {"all": {"filter": {"match_all": {}}}}
        size = max(query.facet_limit, 1)
        for name in FACETS:
            others = [f for n, f in selected.items() if n != name]
            aggs[f"facet_{name}"] = {
                "filter": {"bool": {"filter": others}} if others else {"match_all": {}},
                "aggs": {"values": {"terms": {"field": f"f_{name}", "size": size + len(query.filters.get(name, []))}}},
            }
        body: dict[str, Any] = {
            "query": es,
            "size": query.limit + 1,
            "sort": _sort(query, plan),
            "track_total_hits": True,
            "aggs": aggs,
            "source": ["guid", "display", "display_labels"],
        }
        if selected:
            body["post_filter"] = {"bool": {"filter": list(selected.values())}}
        if after and isinstance(after.get("sa"), list):
            body["search_after"] = after["sa"]
        return body

    def _labels(self, res: Any) -> dict[tuple[str, str], dict[str, str]]:
        out: dict[tuple[str, str], dict[str, str]] = {}
        for h in res["hits"]["hits"]:
            for f, v, en, zh in h["_source"].get("display_labels") or []:
                out[(f, v)] = {"en": en, "zh-Hant": zh}
        return out

    def _facets(self, query: SearchQuery, res: Any, labels: dict[tuple[str, str], dict[str, str]]) -> list[Facet]:
        if query.facet_limit == 0:
            return []
        out: list[Facet] = []
        for name in FACETS:
            buckets = res["aggregations"][f"facet_{name}"]["values"]["buckets"]
            counts = {str(b["key"]): int(b["doc_count"]) for b in buckets}
            out.append(
                facet_of(
                    name,
                    counts,
                    query.filters.get(name, []),
                    query.facet_limit,
                    labels,
                )
            )
        return out

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        norm = normalise(prefix).strip()[:200]
        if not norm:
            return []
        limit = max(1, min(limit, 50))
        res = self.client.search(
            index=self.alias,
            size=limit,
            query={"prefix": {"suggest_titles": norm}},
            source=["guid", "display"],
        )
        out = [
            Suggestion(text=text, kind="title", guid=h["_source"]["guid"])
            for h in res["hits"]["hits"]
            for text in h["_source"]["display"].get("title", {}).values()
            if normalise(text).find(norm) >= 0
        ][:limit]
        kw = self.client.search(
            index=self.alias,
            size=0,
            query={"prefix": {"suggest_keywords": norm}},
            aggs={"kw": {"terms": {"field": "f_keyword", "size": 50}}},
        )
        for b in kw["aggregations"]["kw"]["buckets"]:
            if normalise(str(b["key"])).startswith(norm) and len(out) < limit:
                out.append(Suggestion(text=str(b["key"]), kind="keyword", count=int(b["doc_count"])))
        return out
