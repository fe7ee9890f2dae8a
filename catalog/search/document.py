"""Turn a :class:`~schemas.Dataset` into what an index holds: display text kept apart from
the text to analyse, facet values with their labels, and sort keys.

Both backends index this one shape, so a record looks and filters the same whichever
engine serves it. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from schemas import Dataset
from schemas.dataset import text_in
from schemas.vocabularies import vocabulary

_LANGUAGE_LABELS = {
    "ZHO": {"en": "Chinese", "zh-Hant": "中文"},
    "ENG": {"en": "English", "zh-Hant": "英文"},
    "JPN": {"en": "Japanese", "zh-Hant": "日文"},
}
_VOCAB_FACETS = {
    "modality": "modality",
    "body_site": "body_site",
    "access_route": "access_route",
    "access_rights": "access_rights",
    "annotation_status": "annotation_status",
    "health_category": "health_category",
    "format": "file_type",
}


@dataclass
class SearchDocument:
    """One dataset as the search index sees it."""

    guid: str
    #: What a result shows, untouched by analysis (title/description are language maps).
    display: dict[str, Any]
    #: Text to analyse, by field; each field is weighted differently in ranking.
    title_text: str
    keyword_text: str
    description_text: str
    facets: dict[str, list[str]] = field(default_factory=dict)
    #: (facet, value) -> labels per language, for facet lists.
    labels: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    modified: str = ""
    title_sort: dict[str, str] = field(default_factory=dict)
    cases: int | None = None
    #: Facet codes that link to vocabulary concepts (modality, body site).
    modalities: list[str] = field(default_factory=list)
    body_sites: list[str] = field(default_factory=list)


def _iso(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return value.isoformat()


def _vocab_label(vocab: str, code: str) -> dict[str, str]:
    try:
        v = vocabulary(vocab)
    except KeyError:
        return {"en": code, "zh-Hant": code}
    if code not in v:
        return {"en": code, "zh-Hant": code}
    return {"en": v.label(code, "en"), "zh-Hant": v.label(code, "zh-Hant")}


def facet_label(facet: str, value: str) -> dict[str, str]:
    """Labels of a facet value when the index holds none (vocabulary label or the value)."""
    vocab = _VOCAB_FACETS.get(facet)
    return _vocab_label(vocab, value) if vocab else {"en": value, "zh-Hant": value}


def _health_category(iri: str) -> str:
    code = vocabulary("health_category").code_for_iri(iri)
    return code or iri


def _cases(ds: Dataset) -> int | None:
    if ds.imaging is not None and (ds.imaging.shared or ds.imaging.not_shared):
        return ds.imaging.total_cases
    return ds.health.number_of_unique_individuals or ds.health.number_of_records


def build_document(ds: Dataset, guid: str, *, updated: datetime | None = None) -> SearchDocument:
    """The index document of ``ds`` (stored under ``guid``)."""
    imaging = ds.imaging
    facets: dict[str, list[str]] = {}
    labels: dict[tuple[str, str], dict[str, str]] = {}

    def put(facet: str, value: str | None, label: dict[str, str] | None = None) -> None:
        if not value:
            return
        values = facets.setdefault(facet, [])
        if value in values:
            return
        values.append(value)
        if label is None:
            vocab = _VOCAB_FACETS.get(facet)
            label = _vocab_label(vocab, value) if vocab else {"en": value, "zh-Hant": value}
        labels[(facet, value)] = label

    if imaging is not None:
        for code in imaging.modalities:
            put("modality", code)
        for code in imaging.body_sites:
            put("body_site", code)
        for code in imaging.access_routes:
            put("access_route", code)
        for code in imaging.annotation_statuses():
            put("annotation_status", code)
        for code in imaging.image_formats:
            put("format", code)
    if ds.publisher is not None:
        name = ds.publisher.name
        put("publisher", text_in(name, "en"), {"en": text_in(name, "en"), "zh-Hant": text_in(name, "zh-Hant")})
    put("access_rights", ds.access_rights)
    if ds.license is not None:
        iri = ds.license.iri
        tail = iri.rstrip("/").rsplit("/", 1)[-1] or iri
        lab = ds.license.label
        put("license", iri, {"en": text_in(lab, "en") or tail, "zh-Hant": text_in(lab, "zh-Hant") or tail})
    for dist in ds.distributions:
        if dist.format:
            put("format", dist.format)
    for iri in ds.health.health_categories:
        put("health_category", _health_category(iri))
    seen_kw: set[str] = set()
    for words in ds.keywords.values():
        for w in words:
            if w.casefold() not in seen_kw:
                seen_kw.add(w.casefold())
                put("keyword", w)
    for code in ds.language:
        put("language", code, _LANGUAGE_LABELS.get(code, {"en": code, "zh-Hant": code}))

    # Labels of the coded facets are searchable text too: "磁振造影" finds an MR record
    # whose description never says it.
    coded = [
        labels[(f, v)][lang]
        for f in ("modality", "body_site", "access_route", "publisher")
        for v in facets.get(f, [])
        for lang in ("en", "zh-Hant")
    ]
    extra_text = [
        *(t for d in ds.distributions for t in (*d.title.values(), *d.description.values())),
        *ds.health.population_coverage.values(),
        *(imaging.annotation_tools if imaging else []),
        *([imaging.building_team] if imaging and imaging.building_team else []),
        *(t for c in ds.creators for t in c.name.values()),
    ]
    display = {
        "title": dict(ds.title),
        "description": dict(ds.description),
        "keywords": ds.all_keywords(),
        "publisher": dict(ds.publisher.name) if ds.publisher else {},
        "modalities": list(imaging.modalities) if imaging else [],
        "body_sites": list(imaging.body_sites) if imaging else [],
        "access_rights": ds.access_rights,
        "cases": _cases(ds),
        "modified": _iso(ds.modified or ds.issued) or None,
    }
    return SearchDocument(
        guid=guid,
        display=display,
        title_text="\n".join(ds.title.values()),
        keyword_text="\n".join(ds.all_keywords()),
        description_text="\n".join([*ds.description.values(), *coded, *extra_text]),
        facets=facets,
        labels=labels,
        modified=_iso(ds.modified or ds.issued or updated),
        title_sort={lang: text_in(ds.title, lang).casefold() for lang in ("en", "zh-Hant")},
        cases=_cases(ds),
        modalities=list(imaging.modalities) if imaging else [],
        body_sites=list(imaging.body_sites) if imaging else [],
    )
