"""Map the canonical model out to an rdflib Graph (DCAT-AP 3 + HealthDCAT-AP R8 + fairgate terms).

Triples are added in the model's list order, so writers that keep insertion order give a
lossless round trip through :mod:`harvesters.dcat_parse`. Referenced resources are typed
explicitly (``a dct:RightsStatement`` and so on) because the DCAT-AP 3 shapes check classes
without inference. Nothing here touches the store or the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from schemas import Agent, Catalog, ContactPoint, Dataset, Distribution, LicenseDocument, PeriodOfTime
from schemas.dataset import CaseCounts, ImagingInfo, language_iri
from schemas.namespaces import (
    ADMS,
    CSVW,
    CV,
    DCAT,
    DCATAP,
    DCT,
    DPV,
    ELI,
    FG,
    FOAF,
    GEODCATAP,
    HEALTHDCATAP,
    HYDRA,
    LOCN,
    OWL,
    PREFIXES,
    RDF,
    RDFS,
    SKOS,
    SPDX,
    VCARD,
    XSD,
)
from schemas.vocabularies import vocabulary

#: Media types are written as IANA IRIs (DCAT-AP 3 wants a dct:MediaType resource).
IANA_MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"
#: Dataset IRIs are ``{base_url}/guid/{guid}``.
GUID_PATH = "/guid/"


def dataset_iri(guid: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}{GUID_PATH}{guid}"


def new_graph() -> Graph:
    g = Graph(bind_namespaces="core")  # "core" binds xml:, which RDF/XML needs for xml:lang
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    return g


@dataclass(frozen=True)
class Paging:
    """Where one page of a paged catalog sits: ``url`` is the collection URL without ``page``."""

    url: str
    page: int
    per_page: int
    total: int

    def page_url(self, n: int) -> str:
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}page={n}"

    @property
    def last_page(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _tail(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1] or iri


def _is_iri(value: str) -> bool:
    head, sep, rest = value.partition(":")
    return bool(sep) and bool(rest) and head.replace("+", "").replace("-", "").replace(".", "").isalnum() \
        and " " not in value


def _when(value: date | datetime) -> Literal:
    if isinstance(value, datetime):
        return Literal(value.isoformat(), datatype=XSD.dateTime)
    return Literal(value.isoformat(), datatype=XSD.date)


def _nonneg(n: int) -> Literal:
    return Literal(str(n), datatype=XSD.nonNegativeInteger)


class GraphWriter:
    """Adds datasets and catalogs to one graph; shared resources are typed once."""

    def __init__(self, graph: Graph | None = None, base_url: str = "http://127.0.0.1:8000") -> None:
        self.g = graph if graph is not None else new_graph()
        self.base_url = base_url.rstrip("/")
        self._typed: set[tuple[Node, Node]] = set()

    # -- small helpers ---------------------------------------------------------------
    def _add(self, s: Node, p: URIRef, o: Node) -> None:
        self.g.add((s, p, o))

    def _type(self, node: Node, cls: URIRef) -> None:
        key = (node, cls)
        if key not in self._typed:
            self._typed.add(key)
            self.g.add((node, RDF.type, cls))

    def _texts(self, s: Node, p: URIRef, value: dict[str, str]) -> None:
        for tag, text in value.items():
            self._add(s, p, Literal(text) if tag == "und" else Literal(text, lang=tag))

    def _ref(self, s: Node, p: URIRef, iri: str, cls: URIRef | None = None) -> URIRef:
        node = URIRef(iri)
        self._add(s, p, node)
        if cls is not None:
            self._type(node, cls)
        return node

    def _concept(self, s: Node, p: URIRef, iri: str, label: str | None = None) -> None:
        node = self._ref(s, p, iri, SKOS.Concept)
        if (node, SKOS.Concept) in self._typed and (node, SKOS.prefLabel) not in self._typed:
            self._typed.add((node, SKOS.prefLabel))
            self._add(node, SKOS.prefLabel, Literal(label or _tail(iri)))

    def _resource_or_label(self, s: Node, p: URIRef, value: str, cls: URIRef, label_p: URIRef = RDFS.label) -> None:
        """IRIs are referenced; free text becomes a typed blank node with a label."""
        if _is_iri(value):
            self._ref(s, p, value, cls)
        else:
            b = BNode()
            self._add(s, p, b)
            self._add(b, RDF.type, cls)
            self._add(b, label_p, Literal(value))

    def _vocab_ref(self, s: Node, p: URIRef, vocab: str, code: str) -> None:
        v = vocabulary(vocab)
        node = URIRef(v.iri(code))
        self._add(s, p, node)
        if (node, SKOS.Concept) not in self._typed:
            self._type(node, SKOS.Concept)
            self._add(node, SKOS.prefLabel, Literal(v.label(code, "en"), lang="en"))
            zh = v.terms.get(code, {}).get("zh-Hant")
            if zh:
                self._add(node, SKOS.prefLabel, Literal(zh, lang="zh-Hant"))

    # -- shared resources ------------------------------------------------------------
    def agent(self, a: Agent) -> Node:
        node: Node = URIRef(a.iri) if a.iri else BNode()
        if a.iri and (node, FOAF.Agent) in self._typed:
            return node
        self._type(node, FOAF.Agent)
        self._texts(node, FOAF.name, a.name)
        if a.email:
            self._add(node, FOAF.mbox, URIRef("mailto:" + a.email))
        if a.homepage:
            self._add(node, FOAF.homepage, URIRef(a.homepage))
        if a.type:
            self._concept(node, DCT.type, a.type)
        if a.identifier:
            self._add(node, DCT.identifier, Literal(a.identifier))
        if a.email or a.homepage:
            # HealthDCAT-AP R8 wants exactly one cv:contactPoint on publishers, HDABs and custodians.
            cp = BNode()
            self._add(node, CV.contactPoint, cp)
            self._add(cp, RDF.type, CV.ContactPoint)
            if a.email:
                self._add(cp, CV.email, Literal(a.email))
            if a.homepage:
                self._add(cp, CV.contactPage, URIRef(a.homepage))
        return node

    def contact_point(self, c: ContactPoint) -> Node:
        node = BNode()
        self._add(node, RDF.type, VCARD.Kind)
        self._texts(node, VCARD.fn, c.name)
        if c.email:
            self._add(node, VCARD.hasEmail, URIRef("mailto:" + c.email))
        if c.url:
            self._add(node, VCARD.hasURL, URIRef(c.url))
        if c.telephone:
            self._add(node, VCARD.hasTelephone, Literal(c.telephone))
        return node

    def period(self, p: PeriodOfTime) -> Node:
        node = BNode()
        self._add(node, RDF.type, DCT.PeriodOfTime)
        if p.start is not None:
            self._add(node, DCAT.startDate, _when(p.start))
        if p.end is not None:
            self._add(node, DCAT.endDate, _when(p.end))
        return node

    def license(self, s: Node, lic: LicenseDocument) -> None:
        node = self._ref(s, DCT.license, lic.iri, DCT.LicenseDocument)
        if (node, RDFS.label) not in self._typed:
            self._typed.add((node, RDFS.label))
            self._texts(node, RDFS.label, lic.label)

    def access_rights(self, s: Node, code: str) -> None:
        self._ref(s, DCT.accessRights, vocabulary("access_rights").iri(code), DCT.RightsStatement)

    def languages(self, s: Node, codes: Iterable[str]) -> None:
        for code in codes:
            self._ref(s, DCT.language, language_iri(code), DCT.LinguisticSystem)

    def legislation(self, s: Node, iris: Iterable[str]) -> None:
        for iri in iris:
            self._ref(s, DCATAP.applicableLegislation, iri, ELI.LegalResource)

    # -- distribution ----------------------------------------------------------------
    def distribution(self, d: Distribution, legislation: list[str]) -> Node:
        node: Node = URIRef(d.iri) if d.iri else BNode()
        self._type(node, DCAT.Distribution)
        self._texts(node, DCT.title, d.title)
        self._texts(node, DCT.description, d.description)
        if d.access_url:
            self._ref(node, DCAT.accessURL, d.access_url, RDFS.Resource)
        if d.download_url:
            self._ref(node, DCAT.downloadURL, d.download_url, RDFS.Resource)
        if d.access_service:
            svc = self._ref(node, DCAT.accessService, d.access_service, DCAT.DataService)
            if (svc, DCAT.endpointURL) not in self._typed:
                self._typed.add((svc, DCAT.endpointURL))
                self._add(svc, DCAT.endpointURL, svc)
                self._type(svc, RDFS.Resource)
                self._add(svc, DCT.title, Literal(_tail(d.access_service)))
        if d.format:
            iri = d.format if "://" in d.format else vocabulary("file_type").iri(d.format)
            self._ref(node, DCT["format"], iri, DCT.MediaTypeOrExtent)
        if d.media_type:
            mt = d.media_type if "://" in d.media_type else IANA_MEDIA_TYPES + d.media_type
            self._ref(node, DCAT.mediaType, mt, DCT.MediaType)
        if d.byte_size is not None:
            self._add(node, DCAT.byteSize, _nonneg(d.byte_size))
        if d.checksum:
            ck = BNode()
            self._add(node, SPDX.checksum, ck)
            self._add(ck, RDF.type, SPDX.Checksum)
            self._ref(ck, SPDX.algorithm, str(SPDX["checksumAlgorithm_" + d.checksum.algorithm]),
                      SPDX.ChecksumAlgorithm)
            self._add(ck, SPDX.checksumValue, Literal(d.checksum.value, datatype=XSD.hexBinary))
        if d.license:
            self.license(node, d.license)
        if d.access_rights:
            self.access_rights(node, d.access_rights)
        if d.issued is not None:
            self._add(node, DCT.issued, _when(d.issued))
        if d.modified is not None:
            self._add(node, DCT.modified, _when(d.modified))
        self.languages(node, d.language)
        for iri in d.conforms_to:
            self._ref(node, DCT.conformsTo, iri, DCT.Standard)
        if d.status:
            self._concept(node, ADMS.status, d.status)
        # HealthDCAT-AP R8 wants the legal basis on distributions too; it is the dataset's.
        self.legislation(node, legislation)
        return node

    def _stub_distribution(self, s: Node, p: URIRef, iri: str, own: set[str], legislation: list[str]) -> None:
        """Samples and analytics are distributions by range; give them what the shapes ask."""
        node = self._ref(s, p, iri, DCAT.Distribution)
        if iri in own or (node, DCAT.accessURL) in self._typed:
            return
        self._typed.add((node, DCAT.accessURL))
        self._ref(node, DCAT.accessURL, iri, RDFS.Resource)
        self.legislation(node, legislation)

    # -- dataset ---------------------------------------------------------------------
    def dataset(self, ds: Dataset) -> Node:
        if ds.guid:
            node: Node = URIRef(dataset_iri(ds.guid, self.base_url))
        elif ds.iri:
            node = URIRef(ds.iri)
        else:
            node = BNode()
        g = self._add
        self._type(node, DCAT.Dataset)
        if ds.guid:
            g(node, FG.guid, Literal(ds.guid))
            if ds.iri and ds.iri != str(node):
                g(node, OWL.sameAs, URIRef(ds.iri))
        if ds.identifier is not None:
            g(node, DCT.identifier, Literal(ds.identifier))
        self._texts(node, DCT.title, ds.title)
        self._texts(node, DCT.description, ds.description)
        for tag, words in ds.keywords.items():
            for w in words:
                g(node, DCAT.keyword, Literal(w) if tag == "und" else Literal(w, lang=tag))
        for iri in ds.themes:
            self._concept(node, DCAT.theme, iri)
        if ds.publisher:
            g(node, DCT.publisher, self.agent(ds.publisher))
        for a in ds.creators:
            g(node, DCT.creator, self.agent(a))
        for a in ds.custodians:
            g(node, GEODCATAP.custodian, self.agent(a))
        for c in ds.contact_points:
            g(node, DCAT.contactPoint, self.contact_point(c))
        if ds.issued is not None:
            g(node, DCT.issued, _when(ds.issued))
        if ds.modified is not None:
            g(node, DCT.modified, _when(ds.modified))
        for p in ds.temporal:
            g(node, DCT.temporal, self.period(p))
        for place in ds.spatial:
            self._resource_or_label(node, DCT.spatial, place, DCT.Location, LOCN.geographicName)
        if ds.landing_page:
            self._ref(node, DCAT.landingPage, ds.landing_page, FOAF.Document)
        if ds.access_rights:
            self.access_rights(node, ds.access_rights)
        if ds.license:
            self.license(node, ds.license)
        self.languages(node, ds.language)
        for iri in ds.conforms_to:
            self._ref(node, DCT.conformsTo, iri, DCT.Standard)
        if ds.version is not None:
            g(node, DCAT.version, Literal(ds.version))
        self._texts(node, ADMS.versionNotes, ds.version_notes)
        for ident in ds.other_identifiers:
            b = BNode()
            g(node, ADMS.identifier, b)
            g(b, RDF.type, ADMS.Identifier)
            g(b, SKOS.notation, Literal(ident.notation))
            if ident.scheme is not None:
                g(b, ADMS.schemaAgency, Literal(ident.scheme))
        if ds.frequency:
            self._ref(node, DCT.accrualPeriodicity, ds.frequency, DCT.Frequency)
        self.legislation(node, ds.applicable_legislation)
        if ds.provenance:
            b = BNode()
            g(node, DCT.provenance, b)
            g(b, RDF.type, DCT.ProvenanceStatement)
            self._texts(b, RDFS.label, ds.provenance)
        for doc in ds.documentation:
            self._resource_or_label(node, FOAF.page, doc, FOAF.Document)
        for ref in ds.is_referenced_by:
            self._resource_or_label(node, DCT.isReferencedBy, ref, RDFS.Resource)
        for rel in ds.relation:
            self._resource_or_label(node, DCT.relation, rel, RDFS.Resource)
        own = {d.iri for d in ds.distributions if d.iri}
        for sample in ds.sample:
            if _is_iri(sample):
                self._stub_distribution(node, ADMS.sample, sample, own, ds.applicable_legislation)
            else:
                g(node, FG.sampleNote, Literal(sample))
        if ds.type is not None:
            if _is_iri(ds.type):
                self._concept(node, DCT.type, ds.type)
            else:
                b = BNode()
                g(node, DCT.type, b)
                g(b, RDF.type, SKOS.Concept)
                g(b, SKOS.prefLabel, Literal(ds.type))
        for d in ds.distributions:
            g(node, DCAT.distribution, self.distribution(d, ds.applicable_legislation))
        self._health(node, ds, own)
        if ds.imaging is not None:
            self._imaging(node, ds.imaging)
        self._extras(node, ds.extras)
        for note in ds.quality_notes:
            b = BNode()
            g(node, FG.qualityNote, b)
            g(b, RDF.type, FG.QualityNote)
            g(b, FG.severity, Literal(note.severity))
            g(b, RDFS.comment, Literal(note.message))
            if note.path is not None:
                g(b, FG.path, Literal(note.path))
            if note.focus is not None:
                g(b, FG.focus, Literal(note.focus))
        return node

    def _health(self, node: Node, ds: Dataset, own: set[str]) -> None:
        h = ds.health
        g = self._add
        for iri in h.health_categories:
            self._concept(node, HEALTHDCATAP.healthCategory, iri)
        for iri in h.health_themes:
            self._concept(node, HEALTHDCATAP.healthTheme, iri)
        if h.hdab:
            g(node, HEALTHDCATAP.hdab, self.agent(h.hdab))
        if h.number_of_records is not None:
            g(node, HEALTHDCATAP.numberOfRecords, _nonneg(h.number_of_records))
        if h.number_of_unique_individuals is not None:
            g(node, HEALTHDCATAP.numberOfUniqueIndividuals, _nonneg(h.number_of_unique_individuals))
        if h.min_typical_age is not None:
            g(node, HEALTHDCATAP.minTypicalAge, _nonneg(h.min_typical_age))
        if h.max_typical_age is not None:
            g(node, HEALTHDCATAP.maxTypicalAge, _nonneg(h.max_typical_age))
        self._texts(node, HEALTHDCATAP.populationCoverage, h.population_coverage)
        for iri in h.coding_systems:
            g(node, HEALTHDCATAP.hasCodingSystem, URIRef(iri))
        for iri in h.code_values:
            # R8 changed hasCodeValues to literals; the IRI is kept as an xsd:anyURI literal.
            g(node, HEALTHDCATAP.hasCodeValues, Literal(iri, datatype=XSD.anyURI))
        if h.has_structured_data is not None:
            g(node, HEALTHDCATAP.hasStructuredData, Literal(h.has_structured_data))
        if h.variables:
            group, table = BNode(), BNode()
            g(node, HEALTHDCATAP.hasVariables, group)
            g(group, RDF.type, CSVW.TableGroup)
            g(group, DCT.title, Literal("Variables", lang="en"))
            g(group, CSVW.table, table)
            g(table, RDF.type, CSVW.Table)
            g(table, DCT.title, Literal(ds.identifier or "variables"))
            for name in h.variables:
                col = BNode()
                g(table, CSVW.column, col)
                g(col, RDF.type, CSVW.Column)
                g(col, CSVW.name, Literal(name))
                g(col, CSVW.title, Literal(name))
                g(col, DCT.description, Literal(name))
                g(col, CSVW.datatype, Literal("string"))
        if h.retention_period:
            g(node, HEALTHDCATAP.retentionPeriod, self.period(h.retention_period))
        for iri in h.analytics:
            self._stub_distribution(node, HEALTHDCATAP.analytics, iri, own, ds.applicable_legislation)
        self._texts(node, HEALTHDCATAP.publisherNote, h.publisher_note)
        if h.publisher_type:
            self._concept(node, HEALTHDCATAP.publisherType, h.publisher_type)
        if h.trusted_data_holder is not None:
            g(node, HEALTHDCATAP.trustedDataHolder, Literal(h.trusted_data_holder))
        for iri in h.purposes:
            g(node, DPV.hasPurpose, URIRef(iri))
        for iri in h.legal_bases:
            g(node, DPV.hasLegalBasis, URIRef(iri))
        for iri in h.personal_data:
            g(node, DPV.hasPersonalData, URIRef(iri))

    def _counts(self, node: Node, p: URIRef, c: CaseCounts) -> None:
        b = BNode()
        self._add(node, p, b)
        self._add(b, RDF.type, FG.CaseCounts)
        self._add(b, FG.imageOnly, _nonneg(c.image_only))
        self._add(b, FG.partiallyAnnotated, _nonneg(c.partially_annotated))
        self._add(b, FG.fullyAnnotated, _nonneg(c.fully_annotated))

    def _imaging(self, node: Node, im: ImagingInfo) -> None:
        g = self._add
        # The type also marks an imaging record whose fields are all empty.
        g(node, RDF.type, FG.ImagingDataset)
        for code in im.modalities:
            self._vocab_ref(node, FG.modality, "modality", code)
        for code in im.body_sites:
            self._vocab_ref(node, FG.bodySite, "body_site", code)
        for code in im.image_formats:
            self._vocab_ref(node, FG.imageFormat, "file_type", code)
        for code in im.annotation_formats:
            self._vocab_ref(node, FG.annotationFormat, "annotation_format", code)
        for tool in im.annotation_tools:
            g(node, FG.annotationTool, Literal(tool))
        if im.shared is not None:
            self._counts(node, FG.sharedCases, im.shared)
        if im.not_shared is not None:
            self._counts(node, FG.notSharedCases, im.not_shared)
        for month, n in im.target_cases.items():
            b = BNode()
            g(node, FG.targetCases, b)
            g(b, RDF.type, FG.CaseTarget)
            g(b, FG.targetMonth, Literal(month, datatype=XSD.gYearMonth))
            g(b, FG.cases, _nonneg(n))
        if im.avg_images_per_case is not None:
            g(node, FG.averageImagesPerCase, Literal(repr(float(im.avg_images_per_case)), datatype=XSD.double))
        if im.est_annotated_images is not None:
            g(node, FG.estimatedAnnotatedImages, _nonneg(im.est_annotated_images))
        for code in im.access_routes:
            self._vocab_ref(node, FG.accessRoute, "access_route", code)
        for code in im.access_channels:
            self._vocab_ref(node, FG.accessChannel, "access_channel", code)
        if im.building_team is not None:
            g(node, FG.buildingTeam, Literal(im.building_team))

    # -- extras: JSON-LD expanded values under property IRIs, anything else as JSON ---
    def _extras(self, node: Node, extras: dict[str, Any]) -> None:
        for key, value in extras.items():
            if _is_iri(key) and _is_expanded_list(value):
                for v in value:
                    self._add(node, URIRef(key), self._from_expanded(v, 0))
            else:
                text = json.dumps({key: value}, ensure_ascii=False, sort_keys=True, default=str)
                self._add(node, FG.extra, Literal(text, datatype=RDF.JSON))

    def _from_expanded(self, v: dict[str, Any], depth: int) -> Node:
        if "@id" in v:
            return URIRef(v["@id"])
        if "@value" in v:
            if "@language" in v:
                return Literal(v["@value"], lang=v["@language"])
            if "@type" in v:
                return Literal(v["@value"], datatype=URIRef(v["@type"]))
            return Literal(v["@value"])
        b = BNode()
        for p, vals in v.items():
            for inner in vals:
                self._add(b, URIRef(p), self._from_expanded(inner, depth + 1))
        return b

    # -- catalog ---------------------------------------------------------------------
    def catalog(self, cat: Catalog, datasets: Iterable[Node] = (), paging: Paging | None = None) -> Node:
        node = URIRef(cat.iri)
        g = self._add
        self._type(node, DCAT.Catalog)
        self._texts(node, DCT.title, cat.title)
        self._texts(node, DCT.description, cat.description)
        if cat.publisher:
            g(node, DCT.publisher, self.agent(cat.publisher))
        if cat.homepage:
            self._ref(node, FOAF.homepage, cat.homepage, FOAF.Document)
        self.languages(node, cat.language)
        if cat.license:
            self.license(node, cat.license)
        if cat.issued is not None:
            g(node, DCT.issued, _when(cat.issued))
        if cat.modified is not None:
            g(node, DCT.modified, _when(cat.modified))
        for iri in cat.themes_taxonomy:
            tax = self._ref(node, DCAT.themeTaxonomy, iri, SKOS.ConceptScheme)
            if (tax, DCT.title) not in self._typed:
                self._typed.add((tax, DCT.title))
                g(tax, DCT.title, Literal(_tail(iri)))
        self.legislation(node, cat.applicable_legislation)
        for ds in datasets:
            g(node, DCAT.dataset, ds)
        if paging is not None:
            view = URIRef(paging.page_url(paging.page))
            g(node, HYDRA.totalItems, Literal(paging.total, datatype=XSD.integer))
            g(node, HYDRA.view, view)
            g(view, RDF.type, HYDRA.PartialCollectionView)
            g(view, HYDRA.first, URIRef(paging.page_url(1)))
            g(view, HYDRA.last, URIRef(paging.page_url(paging.last_page)))
            g(view, HYDRA.itemsPerPage, Literal(paging.per_page, datatype=XSD.integer))
            if paging.page < paging.last_page:
                g(view, HYDRA.next, URIRef(paging.page_url(paging.page + 1)))
            if paging.page > 1:
                g(view, HYDRA.previous, URIRef(paging.page_url(paging.page - 1)))
        return node


def _is_expanded_value(v: Any, depth: int = 0) -> bool:
    if not isinstance(v, dict) or depth > 8:
        return False
    if "@id" in v:
        return isinstance(v["@id"], str) and len(v) == 1
    if "@value" in v:
        return isinstance(v["@value"], str) and set(v) <= {"@value", "@language", "@type"}
    return bool(v) and all(_is_iri(k) and _is_expanded_list(vals, depth + 1) for k, vals in v.items())


def _is_expanded_list(value: Any, depth: int = 0) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_expanded_value(v, depth) for v in value)
