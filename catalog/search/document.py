"""Turn a :class:`~schemas.Dataset` into what an index holds: display text kept apart from
the text to analyse, facet values with their labels, and sort keys.

Both backends index this one shape, so a record looks and filters the same whichever
engine serves it. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from schemas.langmap import text_in
from schemas.vocabularies import vocabulary

if TYPE_CHECKING:  # the indexer's child builds documents from stored JSON without the models
    from schemas import Dataset

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
    # Every record asks for the same few labels: look each up once (a copy per caller, as
    # documents hold and merge their label maps).
    return dict(_vocab_label_once(vocab, code))


@cache
def _vocab_label_once(vocab: str, code: str) -> dict[str, str]:
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


class _FacetValues:
    """One record's facet values in first-seen order, each with its labels (the vocabulary's unless given)."""

    def __init__(self) -> None:
        self.facets: dict[str, list[str]] = {}
        self.labels: dict[tuple[str, str], dict[str, str]] = {}

    def put(self, facet: str, value: str | None, label: dict[str, str] | None = None) -> None:
        if not value:
            return
        values = self.facets.setdefault(facet, [])
        if value in values:
            return
        values.append(value)
        self.labels[(facet, value)] = label if label is not None else facet_label(facet, value)


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
    found = _FacetValues()
    put, facets, labels = found.put, found.facets, found.labels

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


# --- the same document from a record's stored content, without rebuilding the model -------
#
# The search indexer's child process is handed the canonical JSON the store wrote. Validating
# it into a Dataset again (what a store read does) was a sixth of the child's time, and the
# JSON came from a validated model: the validators have nothing left to change except how a
# time reads back (below). ``document_of_content`` builds the document from the dict, and
# must give exactly what ``build_document(dataset_of(guid, content))`` gives; the tests
# compare the two on the sample catalog, the CKAN fixtures and generated records.


def _stored_time(value: str | None) -> str:
    """ISO text of a stored ``date | datetime`` as a store read gives it back: a time of
    exactly midnight reads back as its date (pydantic's lax date parsing, tried first)."""
    if not value:
        return ""
    if len(value) == 10:
        return date.fromisoformat(value).isoformat()
    moment = datetime.fromisoformat(value)
    if moment.hour == moment.minute == moment.second == moment.microsecond == 0:
        return moment.date().isoformat()
    return moment.isoformat()


def _stored_cases(content: dict[str, Any]) -> int | None:
    imaging = content.get("imaging")
    # A CaseCounts model is always true; its dump is {} when every count is 0: test for None.
    if imaging is not None and (imaging.get("shared") is not None or imaging.get("not_shared") is not None):
        counts = [c for c in (imaging.get("shared"), imaging.get("not_shared")) if c is not None]
        return sum(
            c.get("image_only", 0) + c.get("partially_annotated", 0) + c.get("fully_annotated", 0) for c in counts
        )
    health = content.get("health", {})
    return health.get("number_of_unique_individuals") or health.get("number_of_records")


def _stored_annotation_statuses(imaging: dict[str, Any]) -> list[str]:
    counts = [c for c in (imaging.get("shared"), imaging.get("not_shared")) if c is not None]
    return [s for s in ("image_only", "partially_annotated", "fully_annotated") if any(c.get(s, 0) for c in counts)]


def document_of_content(guid: str, content: dict[str, Any], *, updated: datetime | None = None) -> SearchDocument:
    """The index document of the record stored under ``guid`` with ``content`` (its canonical
    JSON, parsed): the same as ``build_document`` of the dataset a store read gives."""
    imaging: dict[str, Any] | None = content.get("imaging")
    health: dict[str, Any] = content.get("health", {})
    publisher: dict[str, Any] | None = content.get("publisher")
    title: dict[str, str] = content["title"]
    description: dict[str, str] = content.get("description", {})
    keywords: dict[str, list[str]] = content.get("keywords", {})
    distributions: list[dict[str, Any]] = content.get("distributions", [])
    found = _FacetValues()
    put, facets, labels = found.put, found.facets, found.labels

    modalities: list[str] = imaging.get("modalities", []) if imaging is not None else []
    body_sites: list[str] = imaging.get("body_sites", []) if imaging is not None else []
    if imaging is not None:
        for code in modalities:
            put("modality", code)
        for code in body_sites:
            put("body_site", code)
        for code in imaging.get("access_routes", []):
            put("access_route", code)
        for code in _stored_annotation_statuses(imaging):
            put("annotation_status", code)
        for code in imaging.get("image_formats", []):
            put("format", code)
    if publisher is not None:
        name = publisher["name"]
        put("publisher", text_in(name, "en"), {"en": text_in(name, "en"), "zh-Hant": text_in(name, "zh-Hant")})
    put("access_rights", content.get("access_rights"))
    licence = content.get("license")
    if licence is not None:
        iri = licence["iri"]
        tail = iri.rstrip("/").rsplit("/", 1)[-1] or iri
        lab = licence.get("label", {})
        put("license", iri, {"en": text_in(lab, "en") or tail, "zh-Hant": text_in(lab, "zh-Hant") or tail})
    for dist in distributions:
        if dist.get("format"):
            put("format", dist["format"])
    for iri in health.get("health_categories", []):
        put("health_category", _health_category(iri))
    seen_kw: set[str] = set()
    for words in keywords.values():
        for w in words:
            if w.casefold() not in seen_kw:
                seen_kw.add(w.casefold())
                put("keyword", w)
    for code in content.get("language", []):
        put("language", code, _LANGUAGE_LABELS.get(code, {"en": code, "zh-Hant": code}))

    coded = [
        labels[(f, v)][lang]
        for f in ("modality", "body_site", "access_route", "publisher")
        for v in facets.get(f, [])
        for lang in ("en", "zh-Hant")
    ]
    building_team = imaging.get("building_team") if imaging is not None else None
    extra_text = [
        *(t for d in distributions for t in (*d.get("title", {}).values(), *d.get("description", {}).values())),
        *health.get("population_coverage", {}).values(),
        *(imaging.get("annotation_tools", []) if imaging is not None else []),
        *([building_team] if building_team else []),
        *(t for c in content.get("creators", []) for t in c["name"].values()),
    ]
    all_keywords = list(dict.fromkeys(w for words in keywords.values() for w in words))
    when = _stored_time(content.get("modified") or content.get("issued"))
    cases = _stored_cases(content)
    display = {
        "title": dict(title),
        "description": dict(description),
        "keywords": all_keywords,
        "publisher": dict(publisher["name"]) if publisher is not None else {},
        "modalities": list(modalities),
        "body_sites": list(body_sites),
        "access_rights": content.get("access_rights"),
        "cases": cases,
        "modified": when or None,
    }
    return SearchDocument(
        guid=guid,
        display=display,
        title_text="\n".join(title.values()),
        keyword_text="\n".join(all_keywords),
        description_text="\n".join([*description.values(), *coded, *extra_text]),
        facets=facets,
        labels=labels,
        modified=when or _iso(updated),
        title_sort={lang: text_in(title, lang).casefold() for lang in ("en", "zh-Hant")},
        cases=cases,
        modalities=list(modalities),
        body_sites=list(body_sites),
    )
