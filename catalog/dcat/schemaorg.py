"""schema.org ``Dataset`` JSON-LD for embedding in dataset pages (what web search engines read).

A lossy, one-way view: DCAT output is the lossless one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from catalog.dcat.graph import dataset_iri
from schemas import Agent, Dataset, text_in
from schemas.dataset import language_iri
from schemas.vocabularies import vocabulary


def _texts(value: dict[str, str], lang: str) -> str:
    return text_in(value, lang)


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _org(a: Agent, lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "Organization", "name": text_in(a.name, lang)}
    if a.iri:
        out["@id"] = a.iri
    if a.homepage:
        out["url"] = a.homepage
    if a.email:
        out["email"] = a.email
    return out


def dataset_to_schemaorg(ds: Dataset, base_url: str | None = None, lang: str = "en") -> dict[str, Any]:
    """A schema.org/Dataset dict for ``<script type="application/ld+json">`` in ``lang``."""
    if base_url is None:
        from catalog.settings import get_settings

        base_url = get_settings().base_url
    out: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": ds.title_in(lang),
    }
    if ds.guid:
        out["@id"] = out["url"] = dataset_iri(ds.guid, base_url)
    elif ds.iri:
        out["@id"] = ds.iri
    description = ds.description_in(lang)
    # Google requires a description of at least 50 characters; fall back to the title.
    out["description"] = description or ds.title_in(lang)
    identifiers = [x for x in (ds.guid, ds.identifier, *(i.notation for i in ds.other_identifiers)) if x]
    if identifiers:
        out["identifier"] = identifiers
    keywords = ds.all_keywords()
    if ds.imaging:
        keywords += [vocabulary("modality").label(m, lang) for m in ds.imaging.modalities]
        keywords += [vocabulary("body_site").label(b, lang) for b in ds.imaging.body_sites]
    if keywords:
        out["keywords"] = list(dict.fromkeys(keywords))
    if ds.landing_page:
        out["sameAs"] = ds.landing_page
    if ds.license:
        out["license"] = ds.license.iri
    if ds.publisher:
        out["publisher"] = _org(ds.publisher, lang)
    if ds.creators:
        out["creator"] = [_org(a, lang) for a in ds.creators]
    if ds.issued:
        out["datePublished"] = _iso(ds.issued)
    if ds.modified:
        out["dateModified"] = _iso(ds.modified)
    if ds.version:
        out["version"] = ds.version
    if ds.language:
        out["inLanguage"] = [language_iri(c) for c in ds.language]
    if ds.temporal:
        p = ds.temporal[0]
        out["temporalCoverage"] = f"{_iso(p.start) or '..'}/{_iso(p.end) or '..'}"
    if ds.spatial:
        out["spatialCoverage"] = list(ds.spatial)
    if ds.access_rights:
        out["isAccessibleForFree"] = ds.access_rights == "PUBLIC"
        out["conditionsOfAccess"] = vocabulary("access_rights").label(ds.access_rights, lang)
    downloads = []
    for d in ds.distributions:
        url = d.download_url or d.access_url
        if not url:
            continue
        item: dict[str, Any] = {"@type": "DataDownload", "contentUrl": url}
        if d.media_type or d.format:
            item["encodingFormat"] = d.media_type or d.format
        if d.title:
            item["name"] = text_in(d.title, lang)
        downloads.append(item)
    if downloads:
        out["distribution"] = downloads
    if ds.imaging and ds.imaging.total_cases:
        out["variableMeasured"] = [
            {"@type": "PropertyValue", "name": "cases", "value": ds.imaging.total_cases},
        ]
    if ds.health.number_of_unique_individuals is not None:
        out.setdefault("variableMeasured", []).append(
            {"@type": "PropertyValue", "name": "unique individuals",
             "value": ds.health.number_of_unique_individuals}
        )
    return out
