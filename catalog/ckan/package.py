"""Map a stored dataset *out* to a CKAN package dict (CKAN 2.10 core + ckanext-dcat scheming
field names, bilingual text as ckanext-fluent's ``*_translated`` maps), and name the
organisations and groups it belongs to.

The field names are the ones :mod:`harvesters.ckan` reads back, so a fairgate harvesting
another fairgate over CKAN gets every field this shape carries. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from catalog.store import StoredDataset
from harvesters.ckan import LICENSE_IRIS
from schemas import Agent, Dataset, Distribution
from schemas.langmap import text_in
from schemas.vocabularies import vocabulary

#: The CKAN release whose action API shapes we answer in (``status_show``).
CKAN_VERSION = "2.10.4"
_LICENSE_IDS = {iri: lid for lid, iri in reversed(list(LICENSE_IRIS.items()))}
_SLUG = re.compile(r"[^a-z0-9_-]+")
_SPDX = "http://spdx.org/rdf/terms#checksumAlgorithm_"


def package_name(guid: str) -> str:
    """A CKAN ``name`` (URL name: lower case, digits, ``-`` and ``_``) for a GUID: its uuid part."""
    tail = guid.rsplit("/", 1)[-1].lower()
    return _SLUG.sub("-", tail).strip("-") or hashlib.sha1(guid.encode()).hexdigest()[:16]


def slug(text: str) -> str:
    """A CKAN name for a label; Chinese-only labels get a stable hash, as CKAN names are ASCII."""
    s = _SLUG.sub("-", text.lower()).strip("-")
    return s[:90] if s else "x-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def license_id(iri: str) -> str:
    """CKAN's licence id for a licence IRI (its own IRI when CKAN has no id for it)."""
    return _LICENSE_IDS.get(iri, iri)


def organization(publisher_en: str, names: dict[str, str], count: int | None = None) -> dict[str, Any]:
    """A CKAN organisation for a publisher (keyed by its English name, as the search facet is)."""
    name = slug(publisher_en)
    org: dict[str, Any] = {
        "id": name,
        "name": name,
        "title": publisher_en,
        "title_translated": dict(names),
        "display_name": publisher_en,
        "description": "",
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
    }
    if count is not None:
        org["package_count"] = count
    return org


def group(modality: str, count: int | None = None) -> dict[str, Any]:
    """A CKAN group for an imaging modality (groups are CKAN's thematic collections)."""
    vocab = vocabulary("modality")
    labels = {lang: vocab.label(modality, lang) for lang in ("en", "zh-Hant")} if modality in vocab else {}
    title = labels.get("en") or modality
    name = slug(modality)
    out: dict[str, Any] = {
        "id": name,
        "name": name,
        "title": title,
        "title_translated": labels or {"en": modality},
        "display_name": title,
        "description": "",
        "type": "group",
        "is_organization": False,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
    }
    if count is not None:
        out["package_count"] = count
    return out


def _when(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat()


def _ckan_time(value: datetime) -> str:
    # CKAN writes naive UTC times with microseconds.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _agent(a: Agent) -> dict[str, Any]:
    out: dict[str, Any] = {"name": text_in(a.name, "en"), "name_translated": dict(a.name)}
    if a.email:
        out["email"] = a.email
    if a.homepage:
        out["url"] = a.homepage
    if a.iri:
        out["uri"] = a.iri
    if a.type:
        out["type"] = a.type
    if a.identifier:
        out["identifier"] = a.identifier
    return out


def _resource(guid: str, i: int, d: Distribution) -> dict[str, Any]:
    rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{guid}#distribution-{i}"))
    res: dict[str, Any] = {
        "id": rid,
        "package_id": guid,
        "position": i,
        "name": text_in(d.title, "en"),
        "name_translated": dict(d.title),
        "description": text_in(d.description, "en"),
        "description_translated": dict(d.description),
        "url": d.download_url or d.access_url or "",
        "url_type": None,
        "format": d.format or "",
        "mimetype": d.media_type,
        "size": d.byte_size,
        "state": "active",
    }
    optional: dict[str, Any] = {
        "uri": d.iri,
        "access_url": d.access_url,
        "download_url": d.download_url,
        "issued": _when(d.issued),
        "modified": _when(d.modified),
        "status": d.status,
        "license": d.license.iri if d.license else None,
        "access_rights": d.access_rights,
        "language": list(d.language),
        "conforms_to": list(d.conforms_to),
        "access_services": [{"endpoint_url": [d.access_service]}] if d.access_service else [],
    }
    if d.checksum is not None:
        optional["hash"] = d.checksum.value
        optional["hash_algorithm"] = _SPDX + d.checksum.algorithm
    res.update({k: v for k, v in optional.items() if v not in (None, [], {})})
    return res


def _health(ds: Dataset) -> dict[str, Any]:
    h = ds.health
    out: dict[str, Any] = {
        "health_category": list(h.health_categories),
        "health_theme": list(h.health_themes),
        "coding_system": list(h.coding_systems),
        "code_values": list(h.code_values),
        "analytics": list(h.analytics),
        "purpose": list(h.purposes),
        "legal_basis": list(h.legal_bases),
        "personal_data": list(h.personal_data),
        "population_coverage": text_in(h.population_coverage, "en") or None,
        "population_coverage_translated": dict(h.population_coverage),
        "publisher_note": text_in(h.publisher_note, "en") or None,
        "publisher_note_translated": dict(h.publisher_note),
        "number_of_records": h.number_of_records,
        "number_of_unique_individuals": h.number_of_unique_individuals,
        "min_typical_age": h.min_typical_age,
        "max_typical_age": h.max_typical_age,
        "publisher_type": [h.publisher_type] if h.publisher_type else [],
        "trusted_data_holder": h.trusted_data_holder,
        "has_structured_data": h.has_structured_data,
        "variables": list(h.variables),
        "hdab": [_agent(h.hdab)] if h.hdab else [],
    }
    if h.retention_period is not None:
        out["retention_period"] = [
            {"start": _when(h.retention_period.start), "end": _when(h.retention_period.end)}
        ]
    return out


def to_package(stored: StoredDataset, base_url: str) -> dict[str, Any]:
    """The CKAN package of ``stored``; every field of the model that CKAN or ckanext-dcat names."""
    ds, guid = stored.dataset, stored.guid
    base = base_url.rstrip("/")
    tags = ds.all_keywords()
    org = organization(text_in(ds.publisher.name, "en"), ds.publisher.name) if ds.publisher else None
    groups = [group(m) for m in ds.imaging.modalities] if ds.imaging else []
    pkg: dict[str, Any] = {
        "id": guid,
        "name": package_name(guid),
        "guid": guid,
        "title": text_in(ds.title, "en"),
        "title_translated": dict(ds.title),
        "notes": text_in(ds.description, "en"),
        "notes_translated": dict(ds.description),
        "tags": [{"name": t, "display_name": t, "state": "active"} for t in tags],
        "tags_translated": {lang: list(words) for lang, words in ds.keywords.items()},
        "num_tags": len(tags),
        "url": ds.landing_page or "",
        "uri": ds.iri or f"{base}/guid/{guid}",
        "identifier": ds.identifier or guid,
        "version": ds.version,
        "version_notes": text_in(ds.version_notes, "en") or None,
        "version_notes_translated": dict(ds.version_notes),
        "license_id": license_id(ds.license.iri) if ds.license else "notspecified",
        "license_url": ds.license.iri if ds.license else None,
        "license_title": (text_in(ds.license.label, "en") or ds.license.iri) if ds.license else "License not specified",
        "isopen": bool(ds.license and ds.access_rights == "PUBLIC"),
        "private": False,
        "state": "deleted" if stored.is_tombstone else "active",
        "type": "dataset",
        "metadata_created": _ckan_time(stored.created_at),
        "metadata_modified": _ckan_time(stored.updated_at),
        "organization": org,
        "owner_org": org["id"] if org else None,
        "groups": groups,
        "resources": [_resource(guid, i, d) for i, d in enumerate(ds.distributions)],
        "num_resources": len(ds.distributions),
        "extras": [{"key": k, "value": v if isinstance(v, str) else _json(v)} for k, v in ds.extras.items()],
        # ckanext-dcat (DCAT-AP 3 / HealthDCAT-AP scheming) fields.
        "issued": _when(ds.issued),
        "modified": _when(ds.modified),
        "language": list(ds.language),
        "access_rights": ds.access_rights,
        "conforms_to": list(ds.conforms_to),
        "theme": list(ds.themes),
        "publisher": [_agent(ds.publisher)] if ds.publisher else [],
        "creator": [_agent(a) for a in ds.creators],
        "custodian": [_agent(a) for a in ds.custodians],
        "contact": [
            {
                k: v
                for k, v in {
                    "name": text_in(c.name, "en"),
                    "name_translated": dict(c.name),
                    "email": c.email,
                    "url": c.url,
                    "telephone": c.telephone,
                }.items()
                if v
            }
            for c in ds.contact_points
        ],
        "temporal_coverage": [{"start": _when(p.start), "end": _when(p.end)} for p in ds.temporal],
        "spatial_coverage": [({"uri": s} if "://" in s else {"text": s}) for s in ds.spatial],
        "frequency": ds.frequency,
        "provenance": text_in(ds.provenance, "en") or None,
        "provenance_translated": dict(ds.provenance),
        "documentation": list(ds.documentation),
        "is_referenced_by": list(ds.is_referenced_by),
        "related_resource": list(ds.relation),
        "sample": list(ds.sample),
        "applicable_legislation": list(ds.applicable_legislation),
        "alternate_identifier": [i.notation for i in ds.other_identifiers],
        "dcat_type": ds.type,
        **_health(ds),
        # fairgate's imaging-programme block (seed 003) has no CKAN name; a fairgate reads it back.
        "imaging": ds.imaging.model_dump(mode="json", exclude_defaults=True) if ds.imaging else None,
    }
    if stored.is_tombstone and stored.tombstone_reason:
        pkg["tombstone_reason"] = stored.tombstone_reason
    return pkg


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
