"""Parse DCAT RDF (DCAT-AP 2/3, HealthDCAT-AP, fairgate's own terms) into ``schemas.Dataset`` objects.

Reads every catalog and dataset of one document from an rdflib Graph; one malformed dataset
fails alone. Untagged literals go under the language tag ``"und"`` (BCP 47 "undetermined",
we do not guess) and are written back untagged. Properties we do not map are kept in
``Dataset.extras`` as JSON-LD expanded values keyed by property IRI, so writing the dataset
out again restores them. Pure: no store, no network.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from xml.sax import SAXParseException

from pydantic import ValidationError
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from harvesters.rdf_store import DocumentStore
from schemas import (
    Agent,
    Catalog,
    Checksum,
    ContactPoint,
    Dataset,
    Distribution,
    HealthInfo,
    Identifier,
    ImagingInfo,
    LicenseDocument,
    PeriodOfTime,
    QualityNote,
)
from schemas import namespaces as _ns
from schemas.dataset import CaseCounts, normalise_language
from schemas.vocabularies import vocabulary


class _Terms:
    """A namespace whose terms are built once: rdflib builds a new ``URIRef`` on every
    attribute access, and mapping a large catalog looks terms up hundreds of thousands of times."""

    def __init__(self, namespace: Any) -> None:
        self._namespace = namespace
        self._terms: dict[str, URIRef] = {}

    def __getitem__(self, name: str) -> URIRef:
        term = self._terms.get(name)
        if term is None:
            term = self._terms[name] = URIRef(self._namespace[name])
        return term

    def __getattr__(self, name: str) -> URIRef:
        if name.startswith("_"):
            raise AttributeError(name)
        term = self[name]
        setattr(self, name, term)  # later look-ups are plain attribute reads
        return term


ADMS = _Terms(_ns.ADMS)
CSVW = _Terms(_ns.CSVW)
CV = _Terms(_ns.CV)
DCAT = _Terms(_ns.DCAT)
DCATAP = _Terms(_ns.DCATAP)
DCT = _Terms(_ns.DCT)
DPV = _Terms(_ns.DPV)
FG = _Terms(_ns.FG)
FOAF = _Terms(_ns.FOAF)
GEODCATAP = _Terms(_ns.GEODCATAP)
HEALTHDCATAP = _Terms(_ns.HEALTHDCATAP)
HYDRA = _Terms(_ns.HYDRA)
LOCN = _Terms(_ns.LOCN)
OWL = _Terms(_ns.OWL)
RDF = _Terms(_ns.RDF)
RDFS = _Terms(_ns.RDFS)
SCHEMA = _Terms(_ns.SCHEMA)
SKOS = _Terms(_ns.SKOS)
SPDX = _Terms(_ns.SPDX)
VCARD = _Terms(_ns.VCARD)
XSD = _Terms(_ns.XSD)

UNTAGGED = "und"
IANA_MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"
TIME = "http://www.w3.org/2006/time#"
_HDCAT_TDH = (HEALTHDCATAP.trustedDataHolder, HEALTHDCATAP.trusteddataholder)
_DATASET_TYPES = (DCAT.Dataset, DCAT.DatasetSeries)
_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]+$")

_IMAGING_PROPS = frozenset(
    FG[name]
    for name in (
        "modality",
        "bodySite",
        "imageFormat",
        "annotationFormat",
        "annotationTool",
        "sharedCases",
        "notSharedCases",
        "targetCases",
        "averageImagesPerCase",
        "estimatedAnnotatedImages",
        "accessRoute",
        "accessChannel",
        "buildingTeam",
    )
)

# predicate -> objects in document order (lists, or the insertion-ordered dicts of DocumentStore)
Props = Mapping[Node, Collection[Node]]


class RdfParseError(ValueError):
    """The bytes are not valid RDF in the given format; carries the parser's line and column."""

    def __init__(self, message: str, fmt: str, line: int | None = None, column: int | None = None) -> None:
        self.fmt, self.line, self.column, self.reason = fmt, line, column, message
        where = ""
        if line is not None:
            where = f" at line {line}" + (f", column {column}" if column is not None else "")
        super().__init__(f"not valid {fmt}{where}: {message}. Fix the file (or give the right format) and retry.")


@dataclass
class ParsedDataset:
    """One dataset of a document: exactly one of ``dataset`` and ``error`` is set."""

    subject: str
    dataset: Dataset | None = None
    error: str | None = None
    catalog: str | None = None


@dataclass
class DcatDocument:
    catalogs: list[Catalog] = field(default_factory=list)
    records: list[ParsedDataset] = field(default_factory=list)
    catalog_errors: list[str] = field(default_factory=list)
    next_page: str | None = None

    @property
    def datasets(self) -> list[Dataset]:
        return [r.dataset for r in self.records if r.dataset is not None]


# --------------------------------------------------------------------------------------
# Bytes -> Graph
# --------------------------------------------------------------------------------------

_FORMAT_ALIASES = {
    "ttl": "turtle",
    "turtle": "turtle",
    "text/turtle": "turtle",
    "n3": "turtle",
    "xml": "xml",
    "rdf": "xml",
    "rdf/xml": "xml",
    "application/rdf+xml": "xml",
    "owl": "xml",
    "jsonld": "json-ld",
    "json-ld": "json-ld",
    "application/ld+json": "json-ld",
    "json": "json-ld",
    "nt": "nt",
    "ntriples": "nt",
    "n-triples": "nt",
    "application/n-triples": "nt",
}


def normalise_format(fmt: str) -> str:
    key = fmt.strip().lower().split(";")[0].strip().lstrip(".")
    if key not in _FORMAT_ALIASES:
        raise ValueError(f"unknown RDF format {fmt!r}; use one of: turtle, xml, json-ld, nt")
    return _FORMAT_ALIASES[key]


def sniff_format(data: str) -> str:
    """Guess the RDF syntax from the first non-blank characters."""
    head = data.lstrip("\ufeff \t\r\n")[:2000]
    if head.startswith(("{", "[")):
        return "json-ld"
    if head.startswith("<?xml") or re.match(r"^<(rdf:RDF|[A-Za-z][\w.-]*:[\w.-]+\s)", head):
        return "xml"
    if re.match(r"^(<[^>]*>\s+<[^>]*>\s+\S.*\.\s*$\s*)+", head, re.M) and "@prefix" not in head:
        return "nt"
    return "turtle"


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def load_graph(data: bytes | str, fmt: str | None = None, base: str | None = None) -> Graph:
    """Parse ``data`` as ``fmt`` (sniffed when None); bad RDF raises :class:`RdfParseError`."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    fmt = normalise_format(fmt) if fmt else sniff_format(text)
    # JSON-LD may carry named graphs, which only a context-aware store keeps apart.
    g = Graph(store=DocumentStore() if fmt != "json-ld" else "default", bind_namespaces="none")
    try:
        with warnings.catch_warnings():
            # rdflib's own JSON-LD parser uses its deprecated ConjunctiveGraph internally.
            warnings.simplefilter("ignore", DeprecationWarning)
            g.parse(data=text, format=fmt, publicID=base)
    except Exception as exc:  # each rdflib parser raises its own kind; all become one error
        raise _parse_error(exc, fmt, text) from exc
    return g


def _parse_error(exc: Exception, fmt: str, text: str) -> RdfParseError:
    lines = getattr(exc, "lines", None)
    if isinstance(lines, int):  # notation3.BadSyntax (Turtle, N3): 0-based line, byte offset
        why = str(getattr(exc, "_why", exc))
        raw = getattr(exc, "_str", b"")
        i = getattr(exc, "_i", None)
        column = None
        if isinstance(raw, bytes) and isinstance(i, int):
            column = i - (raw.rfind(b"\n", 0, i) + 1) + 1
        return RdfParseError(why, fmt, lines + 1, column)
    if isinstance(exc, SAXParseException):  # RDF/XML
        return RdfParseError(exc.getMessage(), fmt, exc.getLineNumber(), exc.getColumnNumber())
    if isinstance(exc, json.JSONDecodeError):
        return RdfParseError(exc.msg, fmt, exc.lineno, exc.colno)
    msg = str(exc)
    m = re.search(r"Invalid line:\s*(.*)$", msg, re.S)
    if m:  # N-Triples names the bad line but not its number
        bad = m.group(1).strip()
        pos = text.find(bad)
        if pos >= 0:
            line, col = _line_col(text, pos)
            return RdfParseError(msg, fmt, line, col)
    m = re.search(r"line (\d+)(?:,? col(?:umn)? (\d+))?", msg)
    if m:
        return RdfParseError(msg, fmt, int(m.group(1)), int(m.group(2)) if m.group(2) else None)
    return RdfParseError(msg or type(exc).__name__, fmt)


def parse_document(data: bytes | str, fmt: str | None = None, base: str | None = None) -> DcatDocument:
    """Parse RDF bytes/text into catalogs and datasets (``RdfParseError`` on bad syntax)."""
    return parse_graph(load_graph(data, fmt, base))


# --------------------------------------------------------------------------------------
# Graph -> models
# --------------------------------------------------------------------------------------


def _index(graph: Graph) -> Mapping[Node, Props]:
    """subject -> predicate -> objects, in the store's insertion (= document) order."""
    if isinstance(graph.store, DocumentStore):
        return graph.store.by_subject
    # Whole-graph iteration does not keep insertion order in rdflib's Memory store;
    # per-subject iteration does, and list order in the model depends on it.
    idx: dict[Node, Props] = {}
    for s in graph.subjects(unique=True):
        props: dict[Node, list[Node]] = defaultdict(list)
        for p, o in graph.predicate_objects(s):
            props[p].append(o)
        idx[s] = props
    return idx


def next_page(graph: Graph) -> str | None:
    """The next page of a paged catalog (hydra:next, or the older hydra:nextPage)."""
    for p in (HYDRA.next, HYDRA.nextPage):
        for o in graph.objects(None, p):
            return str(o)
    return None


def parse_graph(graph: Graph) -> DcatDocument:
    idx = _index(graph)
    mapper = _Mapper(idx)
    doc = DcatDocument(next_page=next_page(graph))
    catalog_of: dict[Node, str] = {}
    dataset_nodes: dict[Node, None] = {}
    # (None, p, o) look-ups keep insertion order, so records come in document order.
    for s in graph.subjects(RDF.type, DCAT.Catalog, unique=True):
        for d in idx.get(s, {}).get(DCAT.dataset, ()):
            catalog_of.setdefault(d, str(s))
            dataset_nodes[d] = None
        try:
            doc.catalogs.append(mapper.catalog(s))
        except (ValidationError, ValueError) as exc:
            doc.catalog_errors.append(f"catalog {_name(s)}: {_reason(exc)}")
    for t in _DATASET_TYPES:
        for s in graph.subjects(RDF.type, t, unique=True):
            dataset_nodes[s] = None
    for s in dataset_nodes:
        rec = ParsedDataset(subject=_name(s), catalog=catalog_of.get(s))
        try:
            rec.dataset = mapper.dataset(s)
        except (ValidationError, ValueError) as exc:
            rec.error = _reason(exc)
        doc.records.append(rec)
    return doc


def _name(node: Node) -> str:
    return str(node) if isinstance(node, URIRef) else node.n3()


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for e in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in e["loc"]) or "record"
            parts.append(f"{where}: {e['msg']}")
        return "; ".join(parts)
    return str(exc)


def _when(node: Node) -> date | datetime | None:
    if not isinstance(node, Literal):
        return None
    value = node.value if node.datatype in (XSD.date, XSD.dateTime) else None
    if isinstance(value, (date, datetime)):
        return value
    text = str(node).strip()
    try:
        if "T" in text or " " in text:
            return datetime.fromisoformat(text.replace(" ", "T"))
        return date.fromisoformat(text)
    except ValueError:
        return None


def _int(node: Node) -> int | None:
    if not isinstance(node, Literal):
        return None
    try:
        n = int(str(node).strip())
    except ValueError:
        return None
    return n if n >= 0 else None


def _bool(node: Node) -> bool | None:
    if isinstance(node, Literal):
        text = str(node).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
    return None


def _iri_text(node: Node) -> str | None:
    """An IRI, or a literal holding one (e.g. ``"…"^^xsd:anyURI``)."""
    if isinstance(node, URIRef):
        text = str(node)
    elif isinstance(node, Literal):
        text = str(node).strip()
    else:
        return None
    return text if _IRI.match(text) else None


def _code(vocab: str, node: Node) -> str | None:
    if not isinstance(node, (URIRef, Literal)):
        return None
    try:
        return vocabulary(vocab).normalise(str(node))
    except ValueError:
        return None


class _Fields:
    """The properties of one node; every object not taken by a field is left over (for extras)."""

    def __init__(self, props: Props) -> None:
        self.props = props
        self.taken: set[Node] = set()
        self.left: dict[Node, list[Node]] = {}

    def take(self, p: Node, accept: Callable[[Node], Any], limit: int | None = None) -> list[Any]:
        self.taken.add(p)
        out: list[Any] = []
        rest: list[Node] = []
        for o in self.props.get(p, ()):
            v = accept(o) if limit is None or len(out) < limit else None
            if v is None:
                rest.append(o)
            else:
                out.append(v)
        if rest:
            self.left.setdefault(p, []).extend(rest)
        return out

    def one(self, p: Node, accept: Callable[[Node], Any]) -> Any:
        got = self.take(p, accept, limit=1)
        return got[0] if got else None

    def texts(self, p: Node) -> dict[str, str]:
        out: dict[str, str] = {}

        def accept(o: Node) -> str | None:
            if not isinstance(o, Literal) or not str(o).strip():
                return None
            tag = o.language or UNTAGGED
            if tag in out:
                return None
            out[tag] = str(o)
            return tag

        self.take(p, accept)
        return out

    def untaken(self) -> dict[Node, list[Node]]:
        out = dict(self.left)
        for p, objs in self.props.items():
            if p not in self.taken:
                out.setdefault(p, []).extend(objs)
        return out


class _Mapper:
    def __init__(self, idx: Mapping[Node, Props]) -> None:
        self.idx = idx
        self._empty: Props = {}

    def props(self, node: Node) -> Props:
        return self.idx.get(node, self._empty)

    # -- values --------------------------------------------------------------------------
    def expanded(self, node: Node, seen: frozenset[Node] = frozenset()) -> dict[str, Any]:
        """A JSON-LD expanded value of ``node`` (blank nodes inlined, cycles cut)."""
        if isinstance(node, URIRef):
            return {"@id": str(node)}
        if isinstance(node, Literal):
            v: dict[str, Any] = {"@value": str(node)}
            if node.language:
                v["@language"] = node.language
            elif node.datatype is not None:
                v["@type"] = str(node.datatype)
            return v
        if node in seen or len(seen) > 6:
            return {}
        inner = seen | {node}
        return {str(p): [self.expanded(o, inner) for o in objs] for p, objs in self.props(node).items()}

    def labels(self, node: Node) -> dict[str, str]:
        f = _Fields(self.props(node))
        for p in (RDFS.label, DCT.title, SKOS.prefLabel, FOAF.name):
            got = f.texts(p)
            if got:
                return got
        return {}

    def single_label(self, node: Node, label_props: Iterable[Node]) -> str | None:
        """Free text written as ``[ a X ; label "…" ]``: the label, if that is all there is."""
        if not isinstance(node, BNode):
            return None
        props = self.props(node)
        if set(props) - {RDF.type, *label_props}:
            return None
        texts = [o for p in label_props for o in props.get(p, ()) if isinstance(o, Literal)]
        if len(texts) != 1 or texts[0].language:
            return None
        return str(texts[0])

    def ref_or_label(self, node: Node, label_props: Iterable[Node] = (RDFS.label,)) -> str | None:
        if isinstance(node, URIRef):
            return str(node)
        if isinstance(node, Literal):
            return str(node).strip() or None
        return self.single_label(node, tuple(label_props))

    # -- shared resources ----------------------------------------------------------------
    def agent(self, node: Node) -> Agent | None:
        if isinstance(node, Literal):
            return None
        f = _Fields(self.props(node))
        name = f.texts(FOAF.name) or f.texts(VCARD.fn) or f.texts(SKOS.prefLabel) or f.texts(RDFS.label)
        if not name:
            return None
        cps = [self.props(c) for c in f.props.get(CV.contactPoint, ())]
        email = f.one(FOAF.mbox, lambda o: str(o) if isinstance(o, (URIRef, Literal)) else None)
        if email is None:
            email = next((str(e) for cp in cps for e in cp.get(CV.email, ())), None)
        homepage = f.one(FOAF.homepage, _iri_text)
        if homepage is None:
            homepage = next((str(u) for cp in cps for u in cp.get(CV.contactPage, ()) if _iri_text(u)), None)
        try:
            return Agent(
                name=name,
                iri=str(node) if isinstance(node, URIRef) else None,
                email=email,
                homepage=homepage,
                type=f.one(DCT.type, lambda o: o if isinstance(o, URIRef) else None),
                identifier=f.one(DCT.identifier, lambda o: str(o) if isinstance(o, Literal) else None),
            )
        except ValidationError:
            return None

    def contact_point(self, node: Node) -> ContactPoint | None:
        f = _Fields(self.props(node))
        name = f.texts(VCARD.fn) or f.texts(VCARD["organization-name"]) or f.texts(VCARD.organisationName)

        def email(o: Node) -> str | None:
            if isinstance(o, (URIRef, Literal)):
                return str(o)
            return next((str(v) for v in self.props(o).get(VCARD.hasValue, ())), None)

        def tel(o: Node) -> str | None:
            if isinstance(o, URIRef):
                return str(o).removeprefix("tel:")
            if isinstance(o, Literal):
                return str(o)
            return next((str(v).removeprefix("tel:") for v in self.props(o).get(VCARD.hasValue, ())), None)

        try:
            return ContactPoint(
                name=name,
                email=f.one(VCARD.hasEmail, email),
                url=f.one(VCARD.hasURL, _iri_text),
                telephone=f.one(VCARD.hasTelephone, tel),
            )
        except ValidationError:
            return None

    def period(self, node: Node) -> PeriodOfTime | None:
        f = _Fields(self.props(node))
        start = f.one(DCAT.startDate, _when) or f.one(SCHEMA.startDate, _when)
        end = f.one(DCAT.endDate, _when) or f.one(SCHEMA.endDate, _when)
        for attr, p in (("start", URIRef(TIME + "hasBeginning")), ("end", URIRef(TIME + "hasEnd"))):
            for inst in f.props.get(p, ()):
                ip = self.props(inst)
                for q in ("inXSDDate", "inXSDDateTime", "inXSDDateTimeStamp"):
                    for lit in ip.get(URIRef(TIME + q), ()):
                        value = _when(lit)
                        if value is not None and attr == "start" and start is None:
                            start = value
                        if value is not None and attr == "end" and end is None:
                            end = value
        try:
            return PeriodOfTime(start=start, end=end)
        except ValidationError:
            return None

    def license(self, node: Node) -> LicenseDocument | None:
        if not isinstance(node, URIRef):
            return None
        try:
            return LicenseDocument(iri=str(node), label=self.labels(node))
        except ValidationError:
            return None

    def distribution(self, node: Node) -> Distribution | None:
        if isinstance(node, Literal):
            return None
        f = _Fields(self.props(node))

        def fmt(o: Node) -> str | None:
            if isinstance(o, URIRef):
                return str(o)
            return _code("file_type", o)

        def media(o: Node) -> str | None:
            if isinstance(o, (URIRef, Literal)):
                text = str(o)
                return text[len(IANA_MEDIA_TYPES) :] if text.startswith(IANA_MEDIA_TYPES) else text
            return None

        def checksum(o: Node) -> Checksum | None:
            cp = self.props(o)
            algo = next((str(a).rsplit("_", 1)[-1].lower() for a in cp.get(SPDX.algorithm, ())), "sha256")
            value = next((str(v) for v in cp.get(SPDX.checksumValue, ())), None)
            if value is None or algo not in ("md5", "sha1", "sha256", "sha512"):
                return None
            return Checksum.model_validate({"algorithm": algo, "value": value})

        try:
            return Distribution(
                iri=str(node) if isinstance(node, URIRef) else None,
                title=f.texts(DCT.title),
                description=f.texts(DCT.description),
                access_url=f.one(DCAT.accessURL, _iri_text),
                download_url=f.one(DCAT.downloadURL, _iri_text),
                access_service=f.one(DCAT.accessService, lambda o: str(o) if isinstance(o, URIRef) else None),
                format=f.one(DCT["format"], fmt),
                media_type=f.one(DCAT.mediaType, media),
                byte_size=f.one(DCAT.byteSize, _int),
                checksum=f.one(SPDX.checksum, checksum),
                license=f.one(DCT.license, self.license),
                access_rights=f.one(DCT.accessRights, lambda o: _code("access_rights", o)),
                issued=f.one(DCT.issued, _when),
                modified=f.one(DCT.modified, _when),
                language=f.take(DCT.language, _language),
                conforms_to=f.take(DCT.conformsTo, lambda o: str(o) if isinstance(o, URIRef) else None),
                status=f.one(ADMS.status, lambda o: str(o) if isinstance(o, URIRef) else None),
            )
        except ValidationError:
            return None

    # -- dataset -------------------------------------------------------------------------
    def dataset(self, node: Node) -> Dataset:
        props = self.props(node)
        f = _Fields(props)
        notes: list[QualityNote] = []
        f.take(RDF.type, lambda o: o if o in (DCAT.Dataset, FG.ImagingDataset) else None)
        guid = f.one(FG.guid, lambda o: str(o) if isinstance(o, Literal) else None)
        # Our own output names the upstream IRI with owl:sameAs beside fairgate's GUID.
        iri = f.one(OWL.sameAs, _iri_text) if guid is not None else (str(node) if isinstance(node, URIRef) else None)
        title = f.texts(DCT.title)
        if not title:
            raise ValueError(f"dataset {_name(node)} has no dct:title; every dataset needs a title")

        keywords: dict[str, list[str]] = {}

        def keyword(o: Node) -> str | None:
            if not isinstance(o, Literal) or not str(o).strip():
                return None
            words = keywords.setdefault(o.language or UNTAGGED, [])
            if str(o).strip() in words:
                return None
            words.append(str(o).strip())
            return str(o)

        f.take(DCAT.keyword, keyword)
        publisher_node = next(iter(props.get(DCT.publisher, ())), None)
        data: dict[str, Any] = {
            "guid": guid,
            "iri": iri,
            "identifier": f.one(DCT.identifier, lambda o: str(o) if isinstance(o, (Literal, URIRef)) else None),
            "title": title,
            "description": f.texts(DCT.description),
            "keywords": keywords,
            "themes": f.take(DCAT.theme, _iri_text),
            "publisher": f.one(DCT.publisher, self.agent),
            "creators": f.take(DCT.creator, self.agent),
            "custodians": f.take(GEODCATAP.custodian, self.agent),
            "contact_points": f.take(DCAT.contactPoint, self.contact_point),
            "issued": f.one(DCT.issued, _when),
            "modified": f.one(DCT.modified, _when),
            "temporal": f.take(DCT.temporal, self.period),
            "spatial": f.take(DCT.spatial, lambda o: self.ref_or_label(o, (LOCN.geographicName,))),
            "landing_page": f.one(DCAT.landingPage, _iri_text),
            "access_rights": f.one(DCT.accessRights, lambda o: _code("access_rights", o)),
            "license": f.one(DCT.license, self.license),
            "language": f.take(DCT.language, _language),
            "conforms_to": f.take(DCT.conformsTo, lambda o: str(o) if isinstance(o, URIRef) else None),
            "version": f.one(DCAT.version, lambda o: str(o) if isinstance(o, Literal) else None),
            "version_notes": f.texts(ADMS.versionNotes),
            "other_identifiers": f.take(ADMS.identifier, self.identifier),
            "frequency": f.one(DCT.accrualPeriodicity, lambda o: str(o) if isinstance(o, URIRef) else None),
            "applicable_legislation": f.take(DCATAP.applicableLegislation, _iri_text),
            "provenance": f.one(DCT.provenance, self.provenance) or {},
            "documentation": f.take(FOAF.page, lambda o: self.ref_or_label(o)),
            "is_referenced_by": f.take(DCT.isReferencedBy, lambda o: self.ref_or_label(o)),
            "relation": f.take(DCT.relation, lambda o: self.ref_or_label(o)),
            "sample": f.take(ADMS.sample, _iri_text)
            + f.take(FG.sampleNote, lambda o: str(o) if isinstance(o, Literal) else None),
            "type": f.one(DCT.type, lambda o: self.ref_or_label(o, (SKOS.prefLabel,))),
            "distributions": f.take(DCAT.distribution, self.distribution),
            "health": self.health(f, publisher_node),
            "imaging": self.imaging(f, FG.ImagingDataset in props.get(RDF.type, ())),
            "quality_notes": f.take(FG.qualityNote, self.quality_note),
        }
        if data["version"] is None:
            data["version"] = f.one(OWL.versionInfo, lambda o: str(o) if isinstance(o, Literal) else None)
        extras: dict[str, Any] = {}
        for lit in f.take(FG.extra, lambda o: o if isinstance(o, Literal) else None):
            try:
                decoded = json.loads(str(lit))
            except ValueError:
                decoded = None
            if isinstance(decoded, dict):
                extras.update(decoded)
            else:
                f.left.setdefault(FG.extra, []).append(lit)
        for p, objs in f.untaken().items():
            extras[str(p)] = [self.expanded(o) for o in objs]
        data["extras"] = extras
        data["quality_notes"] = data["quality_notes"] + notes
        return Dataset.model_validate(data)

    def identifier(self, node: Node) -> Identifier | None:
        if isinstance(node, Literal):
            return Identifier(notation=str(node)) if str(node).strip() else None
        p = self.props(node)
        notation = next((str(o) for o in p.get(SKOS.notation, ()) if isinstance(o, Literal)), None)
        if notation is None:
            if isinstance(node, URIRef) and not p:
                return Identifier(notation=str(node))
            return None
        scheme = next((str(o) for o in p.get(ADMS.schemaAgency, ()) if isinstance(o, Literal)), None)
        return Identifier(notation=notation, scheme=scheme)

    def provenance(self, node: Node) -> dict[str, str] | None:
        if isinstance(node, Literal):
            return {node.language or UNTAGGED: str(node)} if str(node).strip() else None
        if not isinstance(node, BNode) or set(self.props(node)) - {RDF.type, RDFS.label, DCT.description}:
            return None
        return self.labels(node) or _Fields(self.props(node)).texts(DCT.description) or None

    def quality_note(self, node: Node) -> QualityNote | None:
        p = self.props(node)

        def first(q: Node) -> str | None:
            return next((str(o) for o in p.get(q, ())), None)

        message = first(RDFS.comment)
        severity = first(FG.severity) or "violation"
        if message is None or severity not in ("violation", "warning", "info"):
            return None
        return QualityNote.model_validate(
            {"severity": severity, "message": message, "path": first(FG.path), "focus": first(FG.focus)}
        )

    def health(self, f: _Fields, publisher: Node | None) -> HealthInfo:
        pub = _Fields(self.props(publisher)) if publisher is not None else None

        def either(read: Callable[[_Fields], Any]) -> Any:
            value = read(f)
            if (value is None or value == {}) and pub is not None:
                value = read(pub)
            return value

        def tdh(x: _Fields) -> bool | None:
            for p in _HDCAT_TDH:
                v = x.one(p, _bool)
                if v is not None:
                    return bool(v)
            return None

        note = either(lambda x: x.texts(HEALTHDCATAP.publisherNote))
        if not note and pub is not None:
            note = pub.texts(DCT.description)
        info = HealthInfo(
            health_categories=f.take(HEALTHDCATAP.healthCategory, _iri_text),
            health_themes=f.take(HEALTHDCATAP.healthTheme, _iri_text),
            hdab=f.one(HEALTHDCATAP.hdab, self.agent),
            number_of_records=f.one(HEALTHDCATAP.numberOfRecords, _int),
            number_of_unique_individuals=f.one(HEALTHDCATAP.numberOfUniqueIndividuals, _int),
            min_typical_age=f.one(HEALTHDCATAP.minTypicalAge, _int),
            max_typical_age=f.one(HEALTHDCATAP.maxTypicalAge, _int),
            population_coverage=f.texts(HEALTHDCATAP.populationCoverage),
            coding_systems=f.take(HEALTHDCATAP.hasCodingSystem, _iri_text),
            code_values=f.take(HEALTHDCATAP.hasCodeValues, _iri_text),
            has_structured_data=f.one(HEALTHDCATAP.hasStructuredData, _bool),
            variables=[v for vs in f.take(HEALTHDCATAP.hasVariables, self.variables) for v in vs],
            retention_period=f.one(HEALTHDCATAP.retentionPeriod, self.period),
            analytics=f.take(HEALTHDCATAP.analytics, _iri_text),
            publisher_note=note or {},
            publisher_type=either(lambda x: x.one(HEALTHDCATAP.publisherType, _iri_text)),
            trusted_data_holder=either(tdh),
            purposes=f.take(DPV.hasPurpose, _iri_text),
            legal_bases=f.take(DPV.hasLegalBasis, _iri_text),
            personal_data=f.take(DPV.hasPersonalData, _iri_text),
        )
        return info

    def variables(self, node: Node) -> list[str] | None:
        if isinstance(node, Literal):
            return [str(node)] if str(node).strip() else None
        names: list[str] = []
        for table in self.props(node).get(CSVW.table, ()):
            for col in self.props(table).get(CSVW.column, ()):
                names.extend(str(n) for n in self.props(col).get(CSVW.name, ()))
        return names or None

    def counts(self, node: Node) -> CaseCounts | None:
        p = self.props(node)

        def n(q: Node) -> int:
            return next((v for v in (_int(o) for o in p.get(q, ())) if v is not None), 0)

        if not any(q in p for q in (FG.imageOnly, FG.partiallyAnnotated, FG.fullyAnnotated)):
            return None
        return CaseCounts(
            image_only=n(FG.imageOnly),
            partially_annotated=n(FG.partiallyAnnotated),
            fully_annotated=n(FG.fullyAnnotated),
        )

    def imaging(self, f: _Fields, typed: bool) -> ImagingInfo | None:
        if not typed and not any(p in _IMAGING_PROPS for p in f.props):
            return None
        targets: dict[str, int] = {}

        def target(o: Node) -> str | None:
            p = self.props(o)
            month = next((str(m) for m in p.get(FG.targetMonth, ())), None)
            n = next((v for v in (_int(c) for c in p.get(FG.cases, ())) if v is not None), None)
            if month is None or n is None or not re.match(r"^\d{4}-\d{2}$", month):
                return None
            targets[month] = n
            return month

        def avg(o: Node) -> float | None:
            try:
                return float(str(o)) if isinstance(o, Literal) else None
            except ValueError:
                return None

        modalities = f.take(FG.modality, lambda o: _code("modality", o))
        body_sites = f.take(FG.bodySite, lambda o: _code("body_site", o))
        image_formats = f.take(FG.imageFormat, lambda o: _code("file_type", o))
        annotation_formats = f.take(FG.annotationFormat, lambda o: _code("annotation_format", o))
        tools = f.take(FG.annotationTool, lambda o: str(o) if isinstance(o, Literal) else None)
        shared = f.one(FG.sharedCases, self.counts)
        not_shared = f.one(FG.notSharedCases, self.counts)
        f.take(FG.targetCases, target)
        info = ImagingInfo(
            modalities=modalities,
            body_sites=body_sites,
            image_formats=image_formats,
            annotation_formats=annotation_formats,
            annotation_tools=tools,
            shared=shared,
            not_shared=not_shared,
            target_cases=targets,
            avg_images_per_case=f.one(FG.averageImagesPerCase, avg),
            est_annotated_images=f.one(FG.estimatedAnnotatedImages, _int),
            access_routes=f.take(FG.accessRoute, lambda o: _code("access_route", o)),
            access_channels=f.take(FG.accessChannel, lambda o: _code("access_channel", o)),
            building_team=f.one(FG.buildingTeam, lambda o: str(o) if isinstance(o, Literal) else None),
        )
        if not typed and info == ImagingInfo():
            return None
        return info

    # -- catalog -------------------------------------------------------------------------
    def catalog(self, node: Node) -> Catalog:
        if not isinstance(node, URIRef):
            raise ValueError("a catalog needs an IRI (it is a blank node)")
        f = _Fields(self.props(node))
        title = f.texts(DCT.title)
        if not title:
            raise ValueError("the catalog has no dct:title")
        return Catalog(
            iri=str(node),
            title=title,
            description=f.texts(DCT.description),
            publisher=f.one(DCT.publisher, self.agent),
            homepage=f.one(FOAF.homepage, _iri_text),
            language=f.take(DCT.language, _language),
            license=f.one(DCT.license, self.license),
            issued=f.one(DCT.issued, _when),
            modified=f.one(DCT.modified, _when),
            themes_taxonomy=f.take(DCAT.themeTaxonomy, _iri_text),
            applicable_legislation=f.take(DCATAP.applicableLegislation, _iri_text),
        )


def _language(node: Node) -> str | None:
    if not isinstance(node, (URIRef, Literal)):
        return None
    try:
        return normalise_language(str(node))
    except ValueError:
        return None
