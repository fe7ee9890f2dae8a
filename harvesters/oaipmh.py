"""OAI-PMH source: ``ListRecords`` in ``oai_dc`` or ``oai_datacite``, paged by resumption tokens.

Incremental runs send ``from`` (day granularity, which every repository supports). Records
whose header says ``status="deleted"`` are reported as deletions for the engine to withdraw.
``noRecordsMatch`` is an empty listing; every other OAI error (``badResumptionToken``, …)
fails the run with the repository's message. Responses are parsed by the standard library
with DOCTYPEs refused outright, so no entity (internal or external) is ever expanded.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError

from harvesters import retries
from harvesters.base import HarvestedRecord, SourceError, failed, validation_reason
from harvesters.upstream_values import lang_tag, language_code, parse_when, text_language
from schemas import Dataset

#: Bumped whenever the mapping changes, so that unchanged-payload detection re-maps records.
MAPPING_VERSION = "oaipmh-2"
PREFIXES = ("oai_dc", "oai_datacite")

_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_DOI = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.I)
_IRI = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$")
# info:eu-repo access levels (OpenAIRE guidelines) → EU access-right codes.
_EU_REPO_ACCESS = {
    "info:eu-repo/semantics/openaccess": "PUBLIC",
    "info:eu-repo/semantics/restrictedaccess": "RESTRICTED",
    "info:eu-repo/semantics/embargoedaccess": "RESTRICTED",
    "info:eu-repo/semantics/closedaccess": "NON_PUBLIC",
}


class _NoDoctype(ET.TreeBuilder):
    """A tree builder that refuses any DOCTYPE: OAI-PMH responses have none, attacks do."""

    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise ET.ParseError("a DOCTYPE declaration is not allowed in an OAI-PMH response")


def parse_xml(content: bytes) -> ET.Element:
    """Parse one response; raises ``ET.ParseError`` (with line and column) when it is not well-formed."""
    parser = ET.XMLParser(target=_NoDoctype())
    parser.feed(content)
    return parser.close()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(el: ET.Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


class _Fields:
    """The dataset fields being collected from one record, with what could not be used."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {
            "title": {},
            "description": {},
            "keywords": {},
            "creators": [],
            "language": [],
            "temporal": [],
            "spatial": [],
            "relation": [],
            "is_referenced_by": [],
            "documentation": [],
            "themes": [],
            "other_identifiers": [],
            "provenance": {},
        }
        self.extras: dict[str, Any] = {}
        self.notes: list[dict[str, Any]] = []

    def keep(self, key: str, value: Any, why: str | None = None) -> None:
        self.extras.setdefault(key, []).append(value)
        if why:
            message = f"{key} {value!r}: {why}; kept in extras"
            self.notes.append({"severity": "warning", "message": message, "path": key})

    def lang_text(self, field: str, el: ET.Element, *, join: bool = True) -> None:
        text = _text(el)
        if not text:
            return
        lang = el.get(_XML_LANG)
        tag = lang_tag(lang) if lang else text_language(text)
        texts: dict[str, str] = self.data[field]
        if tag not in texts:
            texts[tag] = text
        elif join:
            texts[tag] += "\n\n" + text
        else:
            self.keep(field, text)  # a second title in the same language: an alternative title

    def keyword(self, el: ET.Element) -> None:
        text = _text(el)
        if text:
            lang = el.get(_XML_LANG)
            tag = lang_tag(lang) if lang else text_language(text)
            self.data["keywords"].setdefault(tag, []).append(text)

    def agent(self, name: str, iri: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": {text_language(name): name}}
        if iri:
            out["iri"] = iri
        return out

    def language(self, value: str) -> None:
        try:
            code = language_code(value)
        except ValueError:
            self.keep("language", value, "not an ISO 639 language")
            return
        if code not in self.data["language"]:
            self.data["language"].append(code)

    def date(self, field: str, value: str) -> bool:
        parsed = parse_when(value)
        if parsed is None:
            self.keep(field, value, "not an ISO 8601 date")
            return False
        if self.data.get(field) is None:
            self.data[field] = parsed
        return True

    def period(self, value: str) -> bool:
        start, sep, end = value.partition("/")
        if not sep:
            return False
        span = {k: parse_when(v) for k, v in (("start", start), ("end", end)) if v.strip()}
        if not span or None in span.values():
            return False
        self.data["temporal"].append(span)
        return True

    def rights(self, value: str, uri: str | None = None) -> None:
        for candidate in (uri, value):
            if not candidate:
                continue
            access = _EU_REPO_ACCESS.get(candidate.strip().lower())
            if access:
                self.data.setdefault("access_rights", access)
                return
            if _IRI.match(candidate.strip()):
                self.data.setdefault("license", {"iri": candidate.strip()})
                if value and value != candidate:
                    self.data["license"].setdefault("label", {text_language(value): value})
                return
        self.keep("rights", value or uri)

    def identifier(self, value: str, scheme: str | None = None) -> None:
        doi = _DOI.match(value.strip())
        if doi:
            url = f"https://doi.org/{doi.group(1)}"
            if "identifier" not in self.data:
                self.data["identifier"] = self.data["iri"] = url
                self.data.setdefault("landing_page", url)
            elif self.data["identifier"] != url:
                self.data["other_identifiers"].append({"notation": url, "scheme": "DOI"})
        elif _IRI.match(value.strip()):
            self.data.setdefault("landing_page", value.strip())
        elif value.strip():
            self.data["other_identifiers"].append({"notation": value.strip(), **({"scheme": scheme} if scheme else {})})

    def build(self, oai_id: str) -> Dataset:
        data = {k: v for k, v in self.data.items() if v not in (None, [], {})}
        if "identifier" not in data:
            ids = [i for i in data.get("other_identifiers", []) if not i.get("scheme")]
            data["identifier"] = ids[0]["notation"] if ids else oai_id
        data["title"] = self.data["title"]  # required: an empty map fails validation with the reason
        data["extras"] = self.extras
        data["quality_notes"] = self.notes
        return Dataset.model_validate(data)


def dc_to_dataset(dc: ET.Element, oai_id: str) -> Dataset:
    """Map an ``oai_dc:dc`` element (Dublin Core) to a :class:`Dataset`."""
    f = _Fields()
    for el in dc:
        name, text = _local(el.tag), _text(el)
        if not text:
            continue
        if name == "title":
            f.lang_text("title", el, join=False)
        elif name == "description":
            f.lang_text("description", el)
        elif name == "subject":
            f.keyword(el)
        elif name == "creator":
            f.data["creators"].append(f.agent(text))
        elif name == "publisher" and "publisher" not in f.data:
            f.data["publisher"] = f.agent(text)
        elif name == "date":
            f.date("issued", text)
        elif name == "identifier":
            f.identifier(text)
        elif name == "language":
            f.language(text)
        elif name in ("relation", "source"):
            f.data["relation"].append(text)
        elif name == "rights":
            f.rights(text)
        elif name == "coverage":
            if not f.period(text):
                f.data["spatial"].append(text)
        else:  # contributor, type, format and anything non-standard
            f.keep(name, text)
    return f.build(oai_id)


def datacite_to_dataset(resource: ET.Element, oai_id: str) -> Dataset:
    """Map a DataCite ``resource`` element (kernel 3 or 4, any namespace) to a :class:`Dataset`."""
    f = _Fields()
    year: str | None = None
    for el in resource:
        name = _local(el.tag)
        children = list(el)
        if name == "identifier":
            f.identifier(_text(el))
        elif name == "creators":
            for creator in children:
                f.data["creators"].append(_datacite_agent(f, creator))
        elif name == "titles":
            for title in children:
                if title.get("titleType"):
                    f.keep(f"title:{title.get('titleType')}", _text(title))
                else:
                    f.lang_text("title", title, join=False)
        elif name == "publisher" and _text(el):
            f.data["publisher"] = f.agent(_text(el))
        elif name == "publicationYear":
            year = _text(el)
        elif name == "subjects":
            for subject in children:
                uri = subject.get("valueURI") or ""
                if _IRI.match(uri):
                    f.data["themes"].append(uri)
                    if _text(subject) == uri:  # a concept given by its IRI alone is a theme, not a word
                        continue
                f.keyword(subject)
        elif name == "dates":
            for d in children:
                kind, text = d.get("dateType") or "", _text(d)
                if kind in ("Issued", "Updated") and f.date("issued" if kind == "Issued" else "modified", text):
                    continue
                if kind in ("Collected", "Valid", "Coverage") and f.period(text):
                    continue
                f.keep(f"date:{kind or 'untyped'}", text)
        elif name == "language":
            f.language(_text(el))
        elif name == "alternateIdentifiers":
            for alt in children:
                f.identifier(_text(alt), alt.get("alternateIdentifierType"))
        elif name == "relatedIdentifiers":
            for rel in children:
                _related(f, rel)
        elif name == "version" and _text(el):
            f.data["version"] = _text(el)
        elif name == "rightsList":
            for rights in children:
                f.rights(_text(rights), rights.get("rightsURI"))
        elif name == "descriptions":
            for desc in children:
                kind = desc.get("descriptionType") or "Abstract"
                if kind == "Abstract":
                    f.lang_text("description", desc)
                elif kind == "Methods":
                    f.lang_text("provenance", desc)
                else:
                    f.keep(f"description:{kind}", _text(desc))
        elif name == "geoLocations":
            for geo in children:
                place = geo.find("{*}geoLocationPlace")
                if place is not None and _text(place):
                    f.data["spatial"].append(_text(place))
                shapes = {_local(c.tag): _text(c) or {_local(g.tag): _text(g) for g in c} for c in geo}
                shapes.pop("geoLocationPlace", None)
                if shapes:
                    f.keep("geoLocations", shapes)
        elif name == "resourceType":
            f.keep("resourceType", {"general": el.get("resourceTypeGeneral"), "text": _text(el)})
        elif name == "contributors":
            for c in children:
                f.keep("contributors", {"type": c.get("contributorType"), "name": _text(c.find("{*}contributorName"))})
        elif children:  # sizes, formats, fundingReferences, …
            f.keep(name, [_text(c) for c in children])
        elif _text(el):
            f.keep(name, _text(el))
    if f.data.get("issued") is None and year:
        if re.fullmatch(r"\d{4}", year):
            f.data["issued"] = date(int(year), 1, 1)
        else:
            f.keep("publicationYear", year, "not a year")
    return f.build(oai_id)


def _datacite_agent(f: _Fields, creator: ET.Element) -> dict[str, Any]:
    name = _text(creator.find("{*}creatorName")) or _text(creator)
    iri = None
    for ident in creator.findall("{*}nameIdentifier"):
        value, scheme = _text(ident), (ident.get("nameIdentifierScheme") or "").upper()
        if _IRI.match(value):
            iri = value
        elif scheme == "ORCID" and value:
            iri = f"https://orcid.org/{value}"
    for aff in creator.findall("{*}affiliation"):
        f.keep("affiliations", {"creator": name, "affiliation": _text(aff)})
    return f.agent(name, iri)


def _related(f: _Fields, rel: ET.Element) -> None:
    value = _text(rel)
    if not value:
        return
    if (rel.get("relatedIdentifierType") or "").upper() == "DOI":
        match = _DOI.match(value)
        value = f"https://doi.org/{match.group(1)}" if match else value
    kind = rel.get("relationType") or ""
    if kind in ("IsCitedBy", "IsReferencedBy"):
        f.data["is_referenced_by"].append(value)
    elif kind == "IsDocumentedBy":
        f.data["documentation"].append(value)
    else:
        f.data["relation"].append(value)


def metadata_to_dataset(metadata: ET.Element, oai_id: str) -> Dataset:
    """Map the payload of a record's ``<metadata>`` (oai_dc or DataCite) to a :class:`Dataset`."""
    payload = next(iter(metadata), None)
    if payload is None:
        raise ValueError("the record's <metadata> is empty")
    if _local(payload.tag) == "dc":
        return dc_to_dataset(payload, oai_id)
    resource = payload if _local(payload.tag) == "resource" else payload.find(".//{*}resource")
    if resource is None:
        raise ValueError(f"metadata <{_local(payload.tag)}> is neither oai_dc nor DataCite")
    return datacite_to_dataset(resource, oai_id)


class OaiPmhSource:
    """An OAI-PMH repository's ``ListRecords`` (optionally one ``set``) in ``metadata_prefix``."""

    kind = "oaipmh"

    def __init__(
        self,
        url: str,
        *,
        metadata_prefix: str = "oai_dc",
        set_spec: str | None = None,
        margin: timedelta = timedelta(hours=1),
        timeout: float = 30.0,
        attempts: int = retries.ATTEMPTS,
        backoff: float = retries.BACKOFF,
        max_pages: int = 1_000_000,
        is_known: Callable[[str, str], bool] | None = None,
    ) -> None:
        if metadata_prefix not in PREFIXES:
            raise ValueError(f"metadata_prefix {metadata_prefix!r} is not supported; use one of: {', '.join(PREFIXES)}")
        self.url = url
        self.metadata_prefix = metadata_prefix
        self.set_spec = set_spec
        self.margin = margin
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_pages = max_pages
        self.is_known = is_known

    def records(self, since: datetime | None = None) -> Iterator[HarvestedRecord]:
        params: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": self.metadata_prefix}
        if self.set_spec:
            params["set"] = self.set_spec
        if since is not None:
            low = since if since.tzinfo else since.replace(tzinfo=UTC)
            params["from"] = (low - self.margin).astimezone(UTC).date().isoformat()
        tokens: set[str] = set()
        total: int | None = None
        with httpx.Client(timeout=self.timeout, follow_redirects=True) as client:
            for page in range(1, self.max_pages + 1):
                listing = self._page(client, params, page)
                if listing is None:  # noRecordsMatch
                    return
                token_el = listing.find(f"{_OAI}resumptionToken")
                if token_el is not None and (token_el.get("completeListSize") or "").isdigit():
                    total = int(token_el.get("completeListSize") or 0)
                for n, rec in enumerate(listing.findall(f"{_OAI}record")):
                    yield self._record(rec, page, n, total)
                token = (token_el.text or "").strip() if token_el is not None else ""
                if not token:
                    return
                if token in tokens:
                    raise SourceError(f"{self.url} sent resumption token {token!r} twice; the listing loops")
                tokens.add(token)
                params = {"verb": "ListRecords", "resumptionToken": token}
        raise SourceError(f"{self.url} had more than {self.max_pages} pages; the listing was stopped")

    def _page(self, client: httpx.Client, params: dict[str, str], page: int) -> ET.Element | None:
        try:
            response = retries.get(client, self.url, params=params, attempts=self.attempts, backoff=self.backoff)
        except httpx.HTTPError as exc:
            raise SourceError(
                f"OAI-PMH ListRecords at {self.url} failed (page {page}): {retries.describe(exc)}"
            ) from exc
        try:
            root = parse_xml(response.content)
        except ET.ParseError as exc:
            raise SourceError(f"page {page} from {self.url} is not well-formed XML: {exc}") from exc
        for error in root.findall(f"{_OAI}error"):
            code = error.get("code") or "unknown"
            if code == "noRecordsMatch":
                return None
            detail = f" (resumption token {params['resumptionToken']!r})" if "resumptionToken" in params else ""
            raise SourceError(f"OAI-PMH error {code} from {self.url} on page {page}{detail}: {_text(error)}")
        listing = root.find(f"{_OAI}ListRecords")
        if listing is None:
            raise SourceError(f"page {page} from {self.url} is not an OAI-PMH ListRecords response")
        return listing

    def _record(self, rec: ET.Element, page: int, n: int, total: int | None) -> HarvestedRecord:
        meta: dict[str, Any] = {"total": total} if total is not None else {}
        header = rec.find(f"{_OAI}header")
        oai_id = _text(header.find(f"{_OAI}identifier")) if header is not None else ""
        if not oai_id:
            return failed(f"page{page}#{n + 1}", "parse", f"record {n + 1} of page {page} has no header identifier")
        stamp = parse_when(_text(header.find(f"{_OAI}datestamp")) if header is not None else "")
        when = _naive(stamp)
        if header is not None and header.get("status") == "deleted":
            return HarvestedRecord(oai_id, when, None, None, None, {**meta, "deleted": True})
        metadata = rec.find(f"{_OAI}metadata")
        if metadata is None:
            return failed(oai_id, "parse", "record has no <metadata> (and is not marked deleted)", None, when)
        if self.is_known is not None:
            meta["digest"] = digest = _digest(metadata)
            if self.is_known(oai_id, digest):
                return HarvestedRecord(oai_id, when, None, None, None, meta)
        try:
            ds = metadata_to_dataset(metadata, oai_id)
        except ValidationError as exc:
            return failed(oai_id, "validate", validation_reason(exc), None, when)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            return failed(oai_id, "map", retries.describe(exc), None, when)
        return HarvestedRecord(oai_id, when, None, ds, None, meta)


def _digest(metadata: ET.Element) -> str:
    """SHA-256 of a record's metadata as a tree (names, attributes, text) plus the mapping
    version. Not of ``ET.tostring``: its namespace prefixes depend on what else in the process
    registered prefixes, and the same record must digest the same in every process."""
    h = hashlib.sha256(MAPPING_VERSION.encode())
    for el in metadata.iter():
        h.update(repr((el.tag, sorted(el.attrib.items()), (el.text or "").strip(), (el.tail or "").strip())).encode())
    return h.hexdigest()


def _naive(value: date | datetime | None) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None
