"""CKAN source: ``package_search`` through ckanapi, and the CKAN package → ``Dataset`` mapping.

The mapping follows the DCAT-AP profiles of ckanext-dcat (core fields, scheming fields and
the legacy ``extras`` keys). Nothing is silently dropped: upstream fields we cannot map go
into ``Dataset.extras``; values that are present but unusable become quality notes.

Language of plain (untranslated) CKAN text: text containing Han characters is tagged
``zh-Hant`` (the catalog's Chinese tag; we never convert scripts, so the rare Simplified
text also lands there); text without Han characters is tagged ``zh-Hant`` only when the
package declares Chinese and not English as its language, otherwise ``en``.
``*_translated`` fields keep their own language keys (``zh_TW`` becomes ``zh-Hant``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import requests
from ckanapi import RemoteCKAN
from ckanapi.errors import CKANAPIError, ServerIncompatibleError
from pydantic import BaseModel, ValidationError

from harvesters import retries
from harvesters.base import HarvestedRecord, SourceError, failed, validation_reason
from harvesters.upstream_values import HAN as _HAN
from harvesters.upstream_values import file_format as _format
from harvesters.upstream_values import lang_tag as _lang_key
from harvesters.upstream_values import language_code
from harvesters.upstream_values import parse_when as _parse_when
from schemas import (
    Agent,
    ContactPoint,
    Dataset,
    Distribution,
    HealthInfo,
    ImagingInfo,
    LicenseDocument,
    PeriodOfTime,
    QualityNote,
)
from schemas.vocabularies import vocabulary

_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
_EU = "http://publications.europa.eu/resource/authority/"

# CKAN's licence ids (core list plus the ones depositar and data.gov.tw use) → licence IRIs.
LICENSE_IRIS: dict[str, str] = {
    "cc-by": "https://creativecommons.org/licenses/by/4.0/",
    "cc-by-sa": "https://creativecommons.org/licenses/by-sa/4.0/",
    "cc-by-nc": "https://creativecommons.org/licenses/by-nc/4.0/",
    "cc-nc": "https://creativecommons.org/licenses/by-nc/4.0/",
    "cc-by-nc-sa": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "cc-by-nd": "https://creativecommons.org/licenses/by-nd/4.0/",
    "cc-by-nc-nd": "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    "cc-zero": "https://creativecommons.org/publicdomain/zero/1.0/",
    "pd": "https://creativecommons.org/publicdomain/mark/1.0/",
    "other-pd": "https://creativecommons.org/publicdomain/mark/1.0/",
    "odc-by": "https://opendatacommons.org/licenses/by/1-0/",
    "odc-odbl": "https://opendatacommons.org/licenses/odbl/1-0/",
    "odc-pddl": "https://opendatacommons.org/licenses/pddl/1-0/",
    "gfdl": "https://www.gnu.org/licenses/fdl-1.3.html",
    "uk-ogl": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
    "twogd": "https://data.gov.tw/license",
    "ogdl-taiwan-1.0": "https://data.gov.tw/license",
}
_HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_FREQUENCIES = {
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "annual": "ANNUAL",
    "annually": "ANNUAL",
    "yearly": "ANNUAL",
    "irregular": "IRREG",
    "continuous": "CONT",
    "never": "NEVER",
}
# Bookkeeping of CKAN itself that says nothing about the dataset.
_HOUSEKEEPING = {
    "num_resources",
    "num_tags",
    "state",
    "type",
    "isopen",
    "creator_user_id",
    "owner_org",
    "relationships_as_object",
    "relationships_as_subject",
    "private",
    "license_title",
    "tracking_summary",
}

T = TypeVar("T", bound=BaseModel)


class _Mapper:
    """One package's mapping state: the fields consumed and the problems noted."""

    def __init__(self, pkg: dict[str, Any], site_url: str | None) -> None:
        self.pkg = pkg
        self.site = site_url.rstrip("/") if site_url else None
        self.used: set[str] = set()
        self.extras_used: set[str] = set()
        self.notes: list[QualityNote] = []
        self.leftovers: dict[str, Any] = {}
        self.extras = _extras_dict(pkg.get("extras"))
        # The non-empty fields, found once: ``get`` is the hottest function of a harvest
        # (dozens of lookups per package, most of them misses), so each lookup is one probe.
        self._given = {k: v for k, v in pkg.items() if not _empty(v)}
        self._given_extras = {k: v for k, v in self.extras.items() if not _empty(v)}
        langs = [str(x).lower() for x in _as_list(self.get("language")) if x]
        langs = [x.rsplit("/", 1)[-1] for x in langs]
        self.chinese_only = any(x.startswith("zh") for x in langs) and not any(x.startswith("en") for x in langs)

    # --- field access --------------------------------------------------------------

    def get(self, *keys: str) -> Any:
        """The first non-empty value among ``keys``, looked up in the package then its extras."""
        given = self._given
        for key in keys:
            if key in given:
                self.used.add(key)
                return given[key]
        extras = self._given_extras
        if extras:
            for key in keys:
                if key in extras:
                    self.extras_used.add(key)
                    return _maybe_json(extras[key])
        return None

    def has_any(self, keys: frozenset[str]) -> bool:
        """Whether any of ``keys`` has a non-empty value in the package or its extras."""
        return not keys.isdisjoint(self._given) or not keys.isdisjoint(self._given_extras)

    def note(self, message: str, path: str) -> None:
        self.notes.append(QualityNote(severity="warning", message=message, path=path))

    def keep(self, key: str, value: Any) -> None:
        self.leftovers[key] = value

    # --- text ----------------------------------------------------------------------

    def lang_of(self, text: str) -> str:
        if _HAN.search(text) or self.chinese_only:
            return "zh-Hant"
        return "en"

    def langmap(self, key: str, *fallbacks: str) -> dict[str, str]:
        translated = self.get(f"{key}_translated")
        if isinstance(translated, dict):
            out = {_lang_key(k): str(v) for k, v in translated.items() if isinstance(v, str) and v.strip()}
            if out:
                self.used.add(key)
                return out
        value = self.get(key, *fallbacks)
        return self.text(value)

    def text(self, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if isinstance(value, dict):
            return {_lang_key(k): str(v) for k, v in value.items() if isinstance(v, str) and v.strip()}
        if isinstance(value, list):
            value = "\n".join(str(v) for v in value if v)
        text = str(value).strip()
        return {self.lang_of(text): text} if text else {}

    # --- model building with failure isolation ---------------------------------------

    def build(self, model: type[T], data: dict[str, Any], path: str) -> T | None:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.note(f"{path} could not be used: {validation_reason(exc)}", path)
            self.keep(path, data)
            return None

    def iris(self, key: str, *fallbacks: str) -> list[str]:
        out: list[str] = []
        rejected: list[Any] = []
        for v in _as_list(self.get(key, *fallbacks)):
            if isinstance(v, str) and "://" in v and _IRI.match(v.strip()):
                out.append(v.strip())
            elif not _empty(v):
                rejected.append(v)
        if rejected:
            self.leftovers[key] = rejected
        return out


def package_to_dataset(pkg: dict[str, Any], site_url: str | None = None) -> Dataset:
    """Map one CKAN package (``package_show`` / ``package_search`` result) to a :class:`Dataset`.

    ``site_url`` (the CKAN site) lets groups, organisations and the dataset itself get IRIs.
    Raises ``pydantic.ValidationError`` only when the package cannot make a dataset at all
    (for example, it has no title); smaller problems become ``quality_notes``.
    """
    m = _Mapper(pkg, site_url)
    data: dict[str, Any] = {}
    pkg_id = pkg.get("id") or pkg.get("name")
    m.used.update({"id", "name"})

    data["title"] = m.langmap("title")
    data["description"] = m.langmap("notes", "description")
    data["keywords"] = _keywords(m)
    identifier = m.get("identifier", "guid", "dct_identifier")
    data["identifier"] = str(identifier) if identifier is not None else (str(pkg_id) if pkg_id else None)
    uri = m.get("uri", "dcat_uri")
    if isinstance(uri, str) and _IRI.match(uri) and "://" in uri:
        data["iri"] = uri
    elif m.site and pkg_id:
        data["iri"] = f"{m.site}/dataset/{pkg_id}"
    landing = m.get("url", "landing_page")
    if isinstance(landing, str) and landing.strip():
        if "://" in landing and _IRI.match(landing.strip()):
            data["landing_page"] = landing.strip()
        else:
            m.keep("url", landing)
    elif m.site and pkg.get("name"):
        data["landing_page"] = f"{m.site}/dataset/{pkg['name']}"

    data["themes"] = _themes(m)
    data["publisher"] = _publisher(m)
    data["creators"] = _agents(m, "creator", "author", "author_email", "dcat_creator_name", "dcat_creator_email")
    data["custodians"] = _agents(m, "custodian", "custodian_name", "custodian_email")
    data["contact_points"] = _contacts(m)
    data["issued"] = _when(m, "issued", "dcat_issued", "metadata_created")
    data["modified"] = _when(m, "modified", "dcat_modified", "metadata_modified")
    data["temporal"] = _temporal(m)
    data["spatial"] = _spatial(m)
    data["access_rights"] = _access_rights(m)
    data["license"] = _license(m)
    data["language"] = _languages(m)
    data["conforms_to"] = m.iris("conforms_to")
    version = m.get("version")
    data["version"] = str(version) if version is not None else None
    data["version_notes"] = m.langmap("version_notes")
    data["other_identifiers"] = [
        {"notation": str(x)} for x in _as_list(m.get("alternate_identifier", "other_identifier")) if x
    ]
    data["frequency"] = _frequency(m)
    data["applicable_legislation"] = m.iris("applicable_legislation")
    data["provenance"] = m.langmap("provenance")
    data["documentation"] = [str(x) for x in _as_list(m.get("documentation")) if x]
    data["is_referenced_by"] = [str(x) for x in _as_list(m.get("is_referenced_by")) if x]
    data["relation"] = [str(x) for x in _as_list(m.get("related_resource", "relation")) if x]
    data["sample"] = [str(x) for x in _as_list(m.get("sample")) if x]
    dtype = m.get("dcat_type")
    data["type"] = str(dtype) if dtype is not None else None
    data["health"] = _health(m)
    data["distributions"] = _distributions(m)
    imaging = m.get("imaging")  # another fairgate's imaging-programme block (seed 003)
    if isinstance(imaging, dict):
        data["imaging"] = m.build(ImagingInfo, imaging, "imaging")

    extras = dict(m.leftovers)
    for key, value in pkg.items():
        if key in m.used or key in _HOUSEKEEPING or key == "extras" or key.endswith("_translated"):
            continue
        if not _empty(value):
            extras[key] = value
    for key, value in m.extras.items():
        if key not in m.extras_used and not _empty(value):
            extras.setdefault(key, value)
    data["extras"] = extras
    data["quality_notes"] = m.notes
    return Dataset.model_validate({k: v for k, v in data.items() if v is not None})


# --- pieces of the mapping -----------------------------------------------------------------


def _keywords(m: _Mapper) -> dict[str, list[str]]:
    translated = m.get("tags_translated", "keyword_translated")
    if isinstance(translated, dict):
        out = {_lang_key(k): [str(w) for w in v] for k, v in translated.items() if isinstance(v, list)}
        m.used.add("tags")
        return out
    words: dict[str, list[str]] = {}
    for tag in _as_list(m.get("tags")):
        name = tag.get("display_name") or tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name.strip():
            words.setdefault(m.lang_of(name), []).append(name.strip())
    return words


def _themes(m: _Mapper) -> list[str]:
    themes = m.iris("theme")
    for group in _as_list(m.get("groups")):
        if not isinstance(group, dict):
            continue
        if m.site and group.get("name"):
            themes.append(f"{m.site}/group/{group['name']}")
        else:
            m.leftovers.setdefault("groups", []).append(group.get("title") or group.get("name"))
    # depositar's "keywords" are Wikidata items (Q-ids): concepts, hence themes.
    for kw in _as_list(m.get("keywords")):
        if isinstance(kw, str) and re.fullmatch(r"Q\d+", kw):
            themes.append(f"http://www.wikidata.org/entity/{kw}")
        elif isinstance(kw, str) and kw.strip():
            m.leftovers.setdefault("keywords", []).append(kw)
    return list(dict.fromkeys(themes))


def _agent_data(m: _Mapper, d: dict[str, Any]) -> dict[str, Any]:
    name = d.get("name_translated") or d.get("name") or d.get("title")
    out: dict[str, Any] = {"name": m.text(name)}
    email = d.get("email")
    if email:
        out["email"] = str(email).removeprefix("mailto:")
    for src, dst in (("url", "homepage"), ("homepage", "homepage"), ("uri", "iri"), ("type", "type")):
        v = d.get(src)
        if isinstance(v, str) and "://" in v and _IRI.match(v):
            out[dst] = v
    ident = d.get("identifier")
    if ident:
        out["identifier"] = str(ident)
    return out


def _publisher(m: _Mapper) -> Agent | None:
    pub = m.get("publisher")
    if isinstance(pub, list):
        pub = pub[0] if pub else None
    if isinstance(pub, dict):
        return m.build(Agent, _agent_data(m, pub), "publisher")
    name = m.get("dcat_publisher_name", "publisher_name")
    if name:
        data: dict[str, Any] = {"name": m.text(name)}
        email = m.get("dcat_publisher_email", "publisher_email")
        if email:
            data["email"] = email
        return m.build(Agent, data, "publisher")
    org = m.get("organization")
    if isinstance(org, dict) and (org.get("title") or org.get("name")):
        data = {"name": m.text(org.get("title") or org.get("name"))}
        if m.site and org.get("name"):
            data["homepage"] = f"{m.site}/organization/{org['name']}"
        return m.build(Agent, data, "publisher")
    return None


def _agents(m: _Mapper, key: str, name_key: str, email_key: str, *legacy: str) -> list[Agent]:
    found: list[Agent] = []
    for d in _as_list(m.get(key)):
        if isinstance(d, dict):
            a = m.build(Agent, _agent_data(m, d), key)
            if a is not None:
                found.append(a)
    if found:
        return found
    name = m.get(name_key, legacy[0]) if legacy else m.get(name_key)
    if name:
        data: dict[str, Any] = {"name": m.text(name)}
        email = m.get(email_key, legacy[1]) if len(legacy) > 1 else m.get(email_key)
        if email:
            data["email"] = email
        a = m.build(Agent, data, key)
        if a is not None:
            found.append(a)
    return found


def _contacts(m: _Mapper) -> list[ContactPoint]:
    out: list[ContactPoint] = []
    for d in _as_list(m.get("contact")):
        if isinstance(d, dict):
            data = {
                "name": m.text(d.get("name_translated") or d.get("name")),
                "email": d.get("email") or None,
                "url": d.get("url") or None,
                "telephone": d.get("telephone") or None,
            }
            c = m.build(ContactPoint, {k: v for k, v in data.items() if v}, "contact")
            if c is not None:
                out.append(c)
    pairs = (
        ("maintainer", "maintainer_email"),
        ("contact_person", "contact_email"),
        ("contact_name", "contact_email"),
    )
    if not out:
        for name_key, email_key in pairs:
            name, email = m.get(name_key), m.get(email_key)
            if email:
                c = m.build(ContactPoint, {"name": m.text(name), "email": email}, name_key)
                if c is not None:
                    out.append(c)
            elif name:
                m.keep(name_key, name)  # a contact without any way to reach them is not a contact point
    return out


def _when(m: _Mapper, *keys: str) -> date | datetime | None:
    for key in keys:
        value = m.get(key)
        if value is None:
            continue
        parsed = _parse_when(value)
        if parsed is not None:
            return parsed
        m.note(f"{key} {value!r} is not an ISO 8601 date; kept in extras", key)
        m.keep(key, value)
    return None


def _temporal(m: _Mapper) -> list[PeriodOfTime]:
    out: list[PeriodOfTime] = []
    spans = _as_list(m.get("temporal_coverage"))
    if not spans:
        start = m.get("temporal_start", "start_time")
        end = m.get("temporal_end", "end_time")
        if start or end:
            spans = [{"start": start, "end": end}]
    for span in spans:
        if not isinstance(span, dict):
            continue
        data = {k: _parse_when(span.get(k)) for k in ("start", "end")}
        p = m.build(PeriodOfTime, {k: v for k, v in data.items() if v is not None}, "temporal")
        if p is not None:
            out.append(p)
    return out


def _spatial(m: _Mapper) -> list[str]:
    out: list[str] = []
    for cov in _as_list(m.get("spatial_coverage")):
        if isinstance(cov, dict):
            label = cov.get("uri") or cov.get("text")
            if label:
                out.append(str(label))
            geom = {k: v for k, v in cov.items() if k not in ("uri", "text") and v}
            if geom:
                m.leftovers.setdefault("spatial_geometry", []).append(geom)
    uri = m.get("spatial_uri")
    if uri:
        out.append(str(uri))
    text = m.get("spatial_text")
    if text:
        out.append(str(text))
    geometry = m.get("spatial")
    if geometry is not None:
        m.keep("spatial_geometry", _maybe_json(geometry))
    return list(dict.fromkeys(out))


def _access_rights(m: _Mapper) -> str | None:
    value = m.get("access_rights")
    if isinstance(value, str):
        try:
            return vocabulary("access_rights").normalise(value)
        except ValueError:
            m.keep("access_rights", value)  # a free-text statement, not a code
    if m.pkg.get("private") is True:
        return "NON_PUBLIC"
    if m.pkg.get("private") is False:
        return "PUBLIC"  # a public CKAN package is readable by anyone
    return None


def _license(m: _Mapper) -> LicenseDocument | None:
    url = m.get("license_url", "license")
    license_id = m.get("license_id")
    title = m.pkg.get("license_title")
    iri: str | None = None
    if isinstance(url, str) and "://" in url and _IRI.match(url):
        iri = url
    elif isinstance(license_id, str):
        iri = LICENSE_IRIS.get(license_id.lower()) or (license_id if "://" in license_id else None)
    if iri is None:
        if license_id and license_id != "notspecified":
            m.keep("license_id", license_id)
        return None
    label = m.text(title) if isinstance(title, str) and title else {}
    return m.build(LicenseDocument, {"iri": iri, "label": label}, "license")


def _languages(m: _Mapper) -> list[str]:
    raw = m.get("language")
    values = raw.split(",") if isinstance(raw, str) else _as_list(raw)
    out: list[str] = []
    for v in values:
        if not isinstance(v, str) or not v.strip():
            continue
        try:
            code = language_code(v)
        except ValueError:
            m.note(f"language {v!r} is not an ISO 639 code; kept in extras", "language")
            m.leftovers.setdefault("language", []).append(v)
            continue
        if code not in out:
            out.append(code)
    return out


def _frequency(m: _Mapper) -> str | None:
    value = m.get("frequency", "accrual_periodicity")
    if not isinstance(value, str):
        return None
    if "://" in value and _IRI.match(value):
        return value
    code = _FREQUENCIES.get(value.strip().lower())
    if code:
        return f"{_EU}frequency/{code}"
    m.keep("frequency", value)
    return None


#: Every package or extras key that ``_health`` reads.
_HEALTH_KEYS = frozenset(
    {
        "health_category",
        "health_theme",
        "coding_system",
        "code_values",
        "analytics",
        "purpose",
        "legal_basis",
        "personal_data",
        "population_coverage",
        "publisher_note",
        "number_of_records",
        "number_of_unique_individuals",
        "min_typical_age",
        "max_typical_age",
        "publisher_type",
        "trusted_data_holder",
        "has_structured_data",
        "variables",
        "hdab",
        "retention_period",
    }
)


def _health(m: _Mapper) -> HealthInfo:
    if not m.has_any(_HEALTH_KEYS):  # most packages say nothing about health
        return HealthInfo()
    data: dict[str, Any] = {
        "health_categories": m.iris("health_category"),
        "health_themes": m.iris("health_theme"),
        "coding_systems": m.iris("coding_system"),
        "code_values": m.iris("code_values"),
        "analytics": m.iris("analytics"),
        "purposes": m.iris("purpose"),
        "legal_bases": m.iris("legal_basis"),
        "personal_data": m.iris("personal_data"),
        "population_coverage": m.langmap("population_coverage"),
        "publisher_note": m.langmap("publisher_note"),
    }
    for key in ("number_of_records", "number_of_unique_individuals", "min_typical_age", "max_typical_age"):
        v = m.get(key)
        if v is not None:
            try:
                data[key] = int(str(v).strip())
            except ValueError:
                m.note(f"{key} {v!r} is not a whole number; kept in extras", key)
                m.keep(key, v)
    ptype = [x for x in m.iris("publisher_type")]
    if ptype:
        data["publisher_type"] = ptype[0]
    tdh = m.get("trusted_data_holder")
    if tdh is not None:
        data["trusted_data_holder"] = tdh in (True, "true", "True", "yes", 1)
    structured = m.get("has_structured_data")
    if structured is not None:
        data["has_structured_data"] = structured in (True, "true", "True", "yes", 1)
    variables = [str(v) for v in _as_list(m.get("variables")) if v]
    if variables:
        data["variables"] = variables
    hdab = m.get("hdab")
    if isinstance(hdab, list):
        hdab = hdab[0] if hdab else None
    if isinstance(hdab, dict):
        data["hdab"] = m.build(Agent, _agent_data(m, hdab), "hdab")
    periods = _as_list(m.get("retention_period"))
    if periods and isinstance(periods[0], dict):
        span = {k: _parse_when(periods[0].get(k)) for k in ("start", "end")}
        data["retention_period"] = m.build(
            PeriodOfTime, {k: v for k, v in span.items() if v is not None}, "retention_period"
        )
    given = {k: v for k, v in data.items() if v is not None and not _empty(v)}
    if not given:  # most packages say nothing about health: skip the IRI and number checks
        return HealthInfo()
    health = m.build(HealthInfo, given, "health")
    return health or HealthInfo()


def _checksum(res: dict[str, Any]) -> dict[str, str] | None:
    value = res.get("hash")
    if not isinstance(value, str) or not value.strip():
        return None
    v = value.strip()
    algorithm: str | None = None
    if ":" in v and "://" not in v:
        algorithm, v = v.split(":", 1)
    alg_iri = res.get("hash_algorithm") or ""
    if isinstance(alg_iri, str) and alg_iri:
        algorithm = alg_iri.rsplit("_", 1)[-1].rsplit("#", 1)[-1]
    algorithm = (algorithm or _HASH_LENGTHS.get(len(v), "")).lower().replace("-", "")
    return {"algorithm": algorithm, "value": v}


def _distributions(m: _Mapper) -> list[Distribution]:
    out: list[Distribution] = []
    pkg_id = m.pkg.get("id")
    for i, res in enumerate(_as_list(m.get("resources"))):
        if not isinstance(res, dict):
            continue
        url = res.get("url") if isinstance(res.get("url"), str) and "://" in str(res.get("url")) else None
        data: dict[str, Any] = {
            "title": m.text(res.get("name_translated") or res.get("name")),
            "description": m.text(res.get("description_translated") or res.get("description")),
            "access_url": res.get("access_url") or url,
            "download_url": res.get("download_url") or (url if res.get("url_type") == "upload" else None),
            "media_type": res.get("mimetype") or None,
            "checksum": _checksum(res),
            "issued": _parse_when(res.get("issued") or res.get("created")),
            "modified": _parse_when(res.get("modified") or res.get("last_modified")),
            "status": res.get("status") or None,
            "access_rights": res.get("access_rights") or None,
        }
        fmt = _format(res.get("format")) or _format(res.get("mimetype"))
        if fmt:
            data["format"] = fmt
        elif res.get("format"):
            m.leftovers.setdefault("resource_formats", {})[str(res.get("id") or i)] = res.get("format")
        if isinstance(res.get("size"), int | str) and str(res.get("size")).isdigit():
            data["byte_size"] = int(res["size"])
        if res.get("uri") and "://" in str(res.get("uri")):
            data["iri"] = res["uri"]
        elif m.site and pkg_id and res.get("id"):
            data["iri"] = f"{m.site}/dataset/{pkg_id}/resource/{res['id']}"
        lic = res.get("license")
        if isinstance(lic, str) and "://" in lic:
            data["license"] = {"iri": lic}
        langs = []
        for lang in _as_list(res.get("language")):
            with contextlib.suppress(ValueError):
                langs.append(language_code(str(lang)))
        data["language"] = langs
        data["conforms_to"] = [x for x in _as_list(res.get("conforms_to")) if isinstance(x, str) and "://" in x]
        services = _as_list(res.get("access_services"))
        if services and isinstance(services[0], dict):
            endpoints = _as_list(services[0].get("endpoint_url"))
            if endpoints:
                data["access_service"] = endpoints[0]
        if data["checksum"] is not None and data["checksum"]["algorithm"] not in _HASH_LENGTHS.values():
            m.note(f"resource {i}: checksum algorithm {data['checksum']['algorithm']!r} unknown", "checksum")
            data["checksum"] = None
        d = m.build(Distribution, {k: v for k, v in data.items() if v not in (None, [], {})}, f"resources[{i}]")
        if d is not None:
            out.append(d)
    return out


# --- small data helpers -------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        parsed = _maybe_json(value)
        return parsed if isinstance(parsed, list) else [value]
    return [value]


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _extras_dict(extras: Any) -> dict[str, Any]:
    if isinstance(extras, dict):
        return dict(extras)
    if extras is not None and not isinstance(extras, list):
        raise ValueError(f"'extras' must be a list of {{key, value}} objects, not {type(extras).__name__}")
    out: dict[str, Any] = {}
    for item in extras or []:
        if isinstance(item, dict) and "key" in item:
            out[str(item["key"])] = item.get("value")
    return out


# --- the source ------------------------------------------------------------------------------

#: Bumped whenever the mapping changes, so that unchanged-payload detection re-maps records.
MAPPING_VERSION = "ckan-2"
_VERSION_BYTES = MAPPING_VERSION.encode("utf-8")


class CkanSource:
    """A CKAN site read through ``package_search`` (paged by ``rows``/``start``, stable sort).

    Incremental runs ask for ``metadata_modified:[since - margin TO *]``; the margin absorbs
    clock skew and packages saved while the previous run was listing.
    """

    kind = "ckan"

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        rows: int = 100,
        margin: timedelta = timedelta(hours=1),
        timeout: float = 30.0,
        attempts: int = retries.ATTEMPTS,
        backoff: float = retries.BACKOFF,
        is_known: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.rows = rows
        self.margin = margin
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.is_known = is_known

    def _search(self, ckan: RemoteCKAN, params: dict[str, Any]) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            result = ckan.call_action("package_search", params, requests_kwargs={"timeout": self.timeout})
            if not isinstance(result, dict) or not isinstance(result.get("results"), list):
                raise CKANAPIError(f"package_search answered something that is not a result page: {result!r}")
            return result

        try:
            return retries.retry(
                once,
                retry_on=(CKANAPIError, ServerIncompatibleError, requests.RequestException),
                attempts=self.attempts,
                backoff=self.backoff,
            )
        except (CKANAPIError, ServerIncompatibleError, requests.RequestException) as exc:
            raise SourceError(
                f"CKAN package_search at {self.url} failed after {self.attempts} attempts "
                f"(start={params.get('start')}): {retries.describe(exc)}"
            ) from exc

    def records(self, since: datetime | None = None) -> Iterator[HarvestedRecord]:
        params: dict[str, Any] = {
            "rows": self.rows,
            "sort": "metadata_created asc, id asc",
            "include_private": bool(self.api_key),
        }
        if since is not None:
            low = (since - self.margin).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            params["fq"] = f"metadata_modified:[{low} TO *]"
        with RemoteCKAN(self.url, apikey=self.api_key, user_agent="fairgate-harvester/0.1") as ckan:
            start = 0
            first_count: int | None = None
            while True:
                page = self._search(ckan, {**params, "start": start})
                count = int(page.get("count") or 0)
                if first_count is None:
                    first_count = count
                results = page["results"]
                for pkg in results:
                    yield self._record(pkg, count)
                start += len(results)
                if not results or start >= count:
                    break
            # Offset paging skips records when packages are deleted mid-listing; then the
            # listing is not complete enough to decide what was withdrawn.
            if since is None and count != first_count:
                raise SourceError(
                    f"CKAN at {self.url} changed while it was listed ({first_count} then {count} "
                    "packages); records seen were saved, nothing was withdrawn; run again"
                )

    def _record(self, pkg: Any, total: int) -> HarvestedRecord:
        if not isinstance(pkg, dict) or not (pkg.get("id") or pkg.get("name")):
            return failed(f"?{payload_digest(pkg)[:16]}", "parse", "package has neither an id nor a name", pkg)
        upstream_id = str(pkg.get("id") or pkg.get("name"))
        modified = _parse_when(pkg.get("metadata_modified"))
        when = modified if isinstance(modified, datetime) else None
        meta: dict[str, Any] = {"total": total}
        if self.is_known is not None:
            digest = payload_digest(pkg)
            meta["digest"] = digest
            if self.is_known(upstream_id, digest):
                return HarvestedRecord(upstream_id, when, None, None, None, {**meta, "unchanged": True})
        try:
            ds = package_to_dataset(pkg, self.url)
        except ValidationError as exc:
            return failed(upstream_id, "validate", validation_reason(exc), pkg, when)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            return failed(upstream_id, "map", retries.describe(exc), pkg, when)
        return HarvestedRecord(upstream_id, when, pkg, ds, None, meta)


def payload_digest(payload: Any) -> str:
    """SHA-256 of an upstream payload (as parsed) plus the mapping version.

    Equal payloads give equal digests and any change of content changes the digest, which
    is all that unchanged detection needs; the same content with its keys in another order
    may digest differently, which costs one needless re-mapping, never a missed change. A
    pickle of the parsed payload is a third of the cost of canonical (sorted) JSON, and a
    re-harvest of unchanged records is mostly this digest.
    """
    blob = pickle.dumps(payload, protocol=5)
    return hashlib.sha256(_VERSION_BYTES + blob).hexdigest()
