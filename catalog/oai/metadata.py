"""A dataset *out* as OAI-PMH metadata: ``oai_dc`` (Dublin Core) and ``oai_datacite`` (DataCite
kernel 4 in DataCite's OAI wrapper), the reverse of :mod:`harvesters.oaipmh`'s mapping.

Pure: builds ElementTree elements from a :class:`~schemas.Dataset`; knows nothing of HTTP.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

from schemas import Dataset, PeriodOfTime
from schemas.langmap import text_in

OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
DATACITE = "http://datacite.org/schema/kernel-4"
OAI_DATACITE = "http://schema.datacite.org/oai/oai-1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class MetadataFormat(NamedTuple):
    prefix: str
    schema: str
    namespace: str


FORMATS: dict[str, MetadataFormat] = {
    "oai_dc": MetadataFormat("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC),
    "oai_datacite": MetadataFormat("oai_datacite", "http://schema.datacite.org/oai/oai-1.1/oai.xsd", OAI_DATACITE),
}

#: EU access-right codes -> the OpenAIRE (info:eu-repo) access levels harvesters read.
EU_REPO_ACCESS = {
    "PUBLIC": "info:eu-repo/semantics/openAccess",
    "RESTRICTED": "info:eu-repo/semantics/restrictedAccess",
    "NON_PUBLIC": "info:eu-repo/semantics/closedAccess",
}
_ACCESS_LABELS = {"PUBLIC": "Open access", "RESTRICTED": "Restricted access", "NON_PUBLIC": "Closed access"}
_ISO_639_1 = {"ZHO": "zh", "ENG": "en", "JPN": "ja", "KOR": "ko", "FRA": "fr", "DEU": "de", "NLD": "nl"}
_DOI = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.I)

_NAMESPACES = {"oai_dc": OAI_DC, "dc": DC, "xsi": XSI, "datacite": DATACITE, "oai_datacite": OAI_DATACITE}
for _prefix, _ns in _NAMESPACES.items():
    ET.register_namespace(_prefix, _ns)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _lang_texts(parent: ET.Element, tag: str, texts: dict[str, str], **attrs: str) -> None:
    for lang, text in texts.items():
        el = _sub(parent, tag, text, **attrs)
        el.set(XML_LANG, lang)


def _iso(value: date | datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _period(p: PeriodOfTime) -> str:
    return f"{_iso(p.start)}/{_iso(p.end)}"


def _dc(parent: ET.Element, name: str, text: str) -> ET.Element:
    return _sub(parent, f"{{{DC}}}{name}", text)


def oai_dc(ds: Dataset, guid: str, guid_iri: str) -> ET.Element:
    """``oai_dc:dc`` for ``ds``; the GUID is a ``dc:identifier``, its resolver IRI another."""
    root = ET.Element(f"{{{OAI_DC}}}dc", {f"{{{XSI}}}schemaLocation": f"{OAI_DC} {FORMATS['oai_dc'].schema}"})
    for lang, text in ds.title.items():
        _dc(root, "title", text).set(XML_LANG, lang)
    for a in ds.creators:
        _dc(root, "creator", text_in(a.name, "en"))
    for lang, words in ds.keywords.items():
        for w in words:
            _dc(root, "subject", w).set(XML_LANG, lang)
    for lang, text in ds.description.items():
        _dc(root, "description", text).set(XML_LANG, lang)
    if ds.publisher is not None:
        _dc(root, "publisher", text_in(ds.publisher.name, "en"))
    if ds.issued is not None:
        _dc(root, "date", _iso(ds.issued))
    _dc(root, "type", "Dataset")
    for media in dict.fromkeys(d.media_type for d in ds.distributions if d.media_type):
        _dc(root, "format", media or "")
    for ident in _identifiers(ds, guid):
        _dc(root, "identifier", ident)
    _dc(root, "identifier", ds.landing_page or guid_iri)
    for code in ds.language:
        _dc(root, "language", code)
    for rel in ds.relation:
        _dc(root, "relation", rel)
    for p in ds.temporal:
        _dc(root, "coverage", _period(p))
    for place in ds.spatial:
        _dc(root, "coverage", place)
    if ds.license is not None:
        _dc(root, "rights", ds.license.iri)
    if ds.access_rights in EU_REPO_ACCESS:
        _dc(root, "rights", EU_REPO_ACCESS[ds.access_rights or ""])
    return root


def _identifiers(ds: Dataset, guid: str) -> Iterable[str]:
    first = [ds.identifier] if ds.identifier else []
    return list(dict.fromkeys([*first, guid, *(i.notation for i in ds.other_identifiers)]))


def _related_type(value: str) -> str:
    return "DOI" if _DOI.match(value) else "URL"


def datacite(ds: Dataset, guid: str, guid_iri: str, created: datetime) -> ET.Element:
    """DataCite kernel 4 ``resource`` for ``ds`` in DataCite's ``oai_datacite`` wrapper."""
    wrapper = ET.Element(
        f"{{{OAI_DATACITE}}}oai_datacite",
        {f"{{{XSI}}}schemaLocation": f"{OAI_DATACITE} {FORMATS['oai_datacite'].schema}"},
    )
    _sub(wrapper, f"{{{OAI_DATACITE}}}schemaVersion", "4.4")
    _sub(wrapper, f"{{{OAI_DATACITE}}}datacentreSymbol", guid.split("/", 1)[0])
    payload = _sub(wrapper, f"{{{OAI_DATACITE}}}payload")
    r = _sub(
        payload,
        f"{{{DATACITE}}}resource",
        **{f"{{{XSI}}}schemaLocation": f"{DATACITE} http://schema.datacite.org/meta/kernel-4.4/metadata.xsd"},
    )

    def k(tag: str) -> str:
        return f"{{{DATACITE}}}{tag}"

    doi = _DOI.match(ds.identifier or "")
    if doi:
        _sub(r, k("identifier"), doi.group(1), identifierType="DOI")
    else:
        _sub(r, k("identifier"), guid_iri, identifierType="URL")
    creators = _sub(r, k("creators"))
    for a in ds.creators or ([ds.publisher] if ds.publisher else []):
        c = _sub(creators, k("creator"))
        _sub(c, k("creatorName"), text_in(a.name, "en"))
        if a.iri:
            scheme = "ORCID" if "orcid.org" in a.iri else "URI"
            _sub(c, k("nameIdentifier"), a.iri, nameIdentifierScheme=scheme)
    if not len(creators):
        _sub(_sub(creators, k("creator")), k("creatorName"), "(:unav)")
    titles = _sub(r, k("titles"))
    _lang_texts(titles, k("title"), ds.title)
    _sub(r, k("publisher"), text_in(ds.publisher.name, "en") if ds.publisher else "(:unav)")
    year = (ds.issued or created).year
    _sub(r, k("publicationYear"), str(year))
    subjects = _sub(r, k("subjects"))
    for lang, words in ds.keywords.items():
        for w in words:
            _sub(subjects, k("subject"), w).set(XML_LANG, lang)
    for theme in ds.themes:
        _sub(subjects, k("subject"), theme, valueURI=theme)
    contributors = [c for c in ds.contact_points if c.name]
    if contributors:
        cs = _sub(r, k("contributors"))
        for cp in contributors:
            person = _sub(cs, k("contributor"), contributorType="ContactPerson")
            _sub(person, k("contributorName"), text_in(cp.name, "en"))
    dates = _sub(r, k("dates"))
    if ds.issued is not None:
        _sub(dates, k("date"), _iso(ds.issued), dateType="Issued")
    if ds.modified is not None:
        _sub(dates, k("date"), _iso(ds.modified), dateType="Updated")
    for p in ds.temporal:
        _sub(dates, k("date"), _period(p), dateType="Collected")
    if ds.language:
        _sub(r, k("language"), _ISO_639_1.get(ds.language[0], ds.language[0].lower()))
    _sub(r, k("resourceType"), "Dataset", resourceTypeGeneral="Dataset")
    alternates = _sub(r, k("alternateIdentifiers"))
    for ident in _identifiers(ds, guid):
        kind = "GUID" if ident == guid else "Local"
        _sub(alternates, k("alternateIdentifier"), ident, alternateIdentifierType=kind)
    related = [
        *((v, "IsReferencedBy") for v in ds.is_referenced_by),
        *((v, "IsDocumentedBy") for v in ds.documentation),
        *((v, "References") for v in ds.relation),
    ]
    if related:
        rel = _sub(r, k("relatedIdentifiers"))
        for value, kind in related:
            _sub(rel, k("relatedIdentifier"), value, relatedIdentifierType=_related_type(value), relationType=kind)
    sizes = [str(d.byte_size) + " bytes" for d in ds.distributions if d.byte_size is not None]
    if sizes:
        s = _sub(r, k("sizes"))
        for size in sizes:
            _sub(s, k("size"), size)
    media = list(dict.fromkeys(d.media_type for d in ds.distributions if d.media_type))
    if media:
        f = _sub(r, k("formats"))
        for m in media:
            _sub(f, k("format"), m or "")
    if ds.version:
        _sub(r, k("version"), ds.version)
    rights = _sub(r, k("rightsList"))
    if ds.license is not None:
        label = text_in(ds.license.label, "en") or ds.license.iri
        _sub(rights, k("rights"), label, rightsURI=ds.license.iri)
    if ds.access_rights in EU_REPO_ACCESS:
        code = ds.access_rights or ""
        _sub(rights, k("rights"), _ACCESS_LABELS[code], rightsURI=EU_REPO_ACCESS[code])
    descriptions = _sub(r, k("descriptions"))
    _lang_texts(descriptions, k("description"), ds.description, descriptionType="Abstract")
    _lang_texts(descriptions, k("description"), ds.provenance, descriptionType="Methods")
    if ds.spatial:
        geo = _sub(r, k("geoLocations"))
        for place in ds.spatial:
            _sub(_sub(geo, k("geoLocation")), k("geoLocationPlace"), place)
    return wrapper


def metadata(prefix: str, ds: Dataset, guid: str, guid_iri: str, created: datetime) -> ET.Element:
    if prefix == "oai_dc":
        return oai_dc(ds, guid, guid_iri)
    return datacite(ds, guid, guid_iri, created)
