"""A dataset *out* as MLCommons Croissant 1.0 JSON-LD (what ML tooling such as ``mlcroissant``,
TFDS and Hugging Face read), mapped from the canonical model.

Croissant describes files; fairgate's datasets are often reachable only after review, so a
distribution without a download URL is not a ``cr:FileObject`` (there is no file to point at)
and the access conditions are said in ``conditionsOfAccess`` instead. Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from catalog.dcat.graph import dataset_iri
from schemas import Agent, Dataset
from schemas.langmap import text_in

PROFILE = "http://mlcommons.org/croissant/"
CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
MEDIA_TYPE = "application/ld+json"

#: The Croissant 1.0 context, as the specification gives it.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
_ACCESS = {
    "PUBLIC": "Open access: anyone may download the files.",
    "RESTRICTED": "Restricted: access is granted after an application is reviewed by the data access committee.",
    "NON_PUBLIC": "Not public: the data are not shared outside the holding institution.",
}
_MEDIA_BY_FORMAT = {"ZIP": "application/zip", "CSV": "text/csv", "JSON": "application/json", "TAR": "application/x-tar"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _agent(a: Agent) -> dict[str, Any]:
    kind = "sc:Person" if a.iri and "orcid.org" in a.iri else "sc:Organization"
    out: dict[str, Any] = {"@type": kind, "name": text_in(a.name, "en")}
    if a.homepage or a.iri:
        out["url"] = a.homepage or a.iri
    if a.email:
        out["email"] = a.email
    return out


def croissant(ds: Dataset, guid: str, base_url: str) -> dict[str, Any]:
    """The Croissant 1.0 description of ``ds`` (stored under ``guid``)."""
    iri = dataset_iri(guid, base_url)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "@id": iri,
        "conformsTo": CONFORMS_TO,
        "name": text_in(ds.title, "en"),
        "alternateName": [t for lang, t in ds.title.items() if t != text_in(ds.title, "en")],
        "description": text_in(ds.description, "en") or text_in(ds.title, "en"),
        "url": ds.landing_page or iri,
        "sameAs": iri,
        "identifier": [x for x in (guid, ds.identifier) if x],
        "inLanguage": ["zh-Hant" if code == "ZHO" else "en" if code == "ENG" else code.lower() for code in ds.language],
        "keywords": ds.all_keywords(),
        "citeAs": f"{text_in(ds.publisher.name, 'en') + '. ' if ds.publisher else ''}{text_in(ds.title, 'en')}. {iri}",
    }
    if ds.license is not None:
        doc["license"] = ds.license.iri
    if ds.version:
        doc["version"] = ds.version
    if ds.issued is not None:
        doc["datePublished"] = _iso(ds.issued)
    if ds.modified is not None:
        doc["dateModified"] = _iso(ds.modified)
    creators = ds.creators or ([ds.publisher] if ds.publisher else [])
    if creators:
        doc["creator"] = [_agent(a) for a in creators]
    if ds.publisher is not None:
        doc["publisher"] = _agent(ds.publisher)
    if ds.access_rights in _ACCESS:
        doc["conditionsOfAccess"] = _ACCESS[ds.access_rights or ""]
        doc["isAccessibleForFree"] = ds.access_rights == "PUBLIC"
    if ds.temporal:
        doc["temporalCoverage"] = [f"{_iso(p.start) or '..'}/{_iso(p.end) or '..'}" for p in ds.temporal]
    if ds.spatial:
        doc["spatialCoverage"] = list(ds.spatial)
    files = []
    for i, d in enumerate(ds.distributions):
        if not d.download_url:
            continue
        name = _UNSAFE.sub("-", text_in(d.title, "en") or f"file-{i + 1}").strip("-") or f"file-{i + 1}"
        fo: dict[str, Any] = {
            "@type": "cr:FileObject",
            "@id": f"file-{i + 1}",
            "name": name,
            "contentUrl": d.download_url,
            "encodingFormat": d.media_type or _MEDIA_BY_FORMAT.get(d.format or "", "application/octet-stream"),
        }
        if text_in(d.description, "en"):
            fo["description"] = text_in(d.description, "en")
        if d.byte_size is not None:
            fo["contentSize"] = f"{d.byte_size} B"
        if d.checksum is not None and d.checksum.algorithm in ("sha256", "md5"):
            fo[d.checksum.algorithm] = d.checksum.value
        files.append(fo)
    doc["distribution"] = files
    return {k: v for k, v in doc.items() if v not in (None, [], "")}
