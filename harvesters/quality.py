"""SHACL validation of DCAT graphs against the shapes packaged in ``schemas/shapes`` (pyshacl).

Returns plain :class:`Violation` records (focus node, path, message, severity) for
``fairgate validate`` and turns them into ``schemas.QualityNote`` for harvested records.
The shapes graph is parsed once per process; a harvested dataset is checked on its own
subgraph so one large document does not cost one large validation per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal as Lit

from pyshacl import validate as shacl_validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import SH
from rdflib.term import Node

from schemas import QualityNote
from schemas.namespaces import DCAT, PREFIXES, RDF

#: Packaged shapes files by profile name.
PROFILES: dict[str, str] = {
    "dcat-ap-3": "dcat-ap_3_shacl_shapes.ttl",
    "healthdcat-ap-r8": "healthdcat-ap_r8.ttl",
}
DEFAULT_PROFILES: tuple[str, ...] = ("dcat-ap-3", "healthdcat-ap-r8")
Severity = Lit["violation", "warning", "info"]
_SEVERITY: dict[Node, Severity] = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}


@dataclass(frozen=True)
class Violation:
    """One SHACL result: which node, which property, what is wrong."""

    focus: str
    path: str | None
    message: str
    severity: Severity = "violation"
    value: str | None = None
    shape: str | None = None

    def as_note(self) -> QualityNote:
        return QualityNote(severity=self.severity, message=self.message, path=self.path, focus=self.focus)


@cache
def shapes_graph(profiles: tuple[str, ...] = DEFAULT_PROFILES) -> Graph:
    """The shapes of ``profiles`` in one graph, parsed once per process."""
    g = Graph()
    for name in profiles:
        if name not in PROFILES:
            raise ValueError(f"unknown SHACL profile {name!r}; use one of: {', '.join(PROFILES)}")
        text = (resources.files("schemas") / "shapes" / PROFILES[name]).read_text(encoding="utf-8")
        g.parse(data=text, format="turtle")
    return g


def _short(node: Node) -> str:
    text = str(node)
    for prefix, ns in PREFIXES.items():
        if text.startswith(str(ns)) and len(text) > len(str(ns)):
            return f"{prefix}:{text[len(str(ns)):]}"
    return text


def _path_text(report: Graph, path: Node | None) -> str | None:
    if path is None:
        return None
    if isinstance(path, URIRef):
        return _short(path)
    alt = report.value(path, SH.alternativePath)
    if alt is not None:
        items = list(report.items(alt))
        return " | ".join(_short(i) for i in items)
    inverse = report.value(path, SH.inversePath)
    if inverse is not None:
        return f"^{_short(inverse)}"
    return path.n3()


def _describe(data: Graph, node: Node) -> str:
    """IRIs as they are; a blank node by how it is reached (``[] <- <ds> dcat:distribution``)."""
    if not isinstance(node, BNode):
        return str(node)
    for s, p in data.subject_predicates(node):
        return f"[] ← {_describe(data, s) if isinstance(s, BNode) else str(s)} {_short(p)}"
    return "[]"


def validate_graph(data: Graph, profiles: Sequence[str] = DEFAULT_PROFILES) -> list[Violation]:
    """Validate ``data`` against the packaged shapes; an empty list means it conforms."""
    if not data.store.context_aware:
        # pyshacl wraps its data graph in a ConjunctiveGraph, which needs a context-aware store
        # (a harvested document is parsed into a DocumentStore, which is not).
        copy = Graph(bind_namespaces="none")
        copy += data
        data = copy
    conforms, report, _text = shacl_validate(
        data,
        shacl_graph=shapes_graph(tuple(profiles)),
        inference="none",
        abort_on_first=False,
        allow_warnings=True,
    )
    if conforms:
        return []
    assert isinstance(report, Graph)
    out: list[Violation] = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        message = report.value(result, SH.resultMessage)
        value = report.value(result, SH.value)
        shape = report.value(result, SH.sourceShape)
        out.append(
            Violation(
                focus=_describe(data, focus) if focus is not None else "",
                path=_path_text(report, report.value(result, SH.resultPath)),
                message=str(message) if message is not None else "does not conform",
                severity=_SEVERITY.get(report.value(result, SH.resultSeverity) or SH.Violation, "violation"),
                value=None if value is None else (str(value) if isinstance(value, (URIRef, Literal)) else "[]"),
                shape=None if shape is None or isinstance(shape, BNode) else _short(shape),
            )
        )
    # A node reached by a target and by sh:node is reported twice; once is enough.
    return sorted(dict.fromkeys(out), key=lambda v: (v.focus, v.path or "", v.message))


def subgraph(data: Graph, node: Node, depth: int = 4) -> Graph:
    """``node`` with everything it reaches (other datasets and catalogs only by reference)."""
    out = Graph()
    seen = {node}
    frontier = [node]
    for _ in range(depth + 1):
        nxt: list[Node] = []
        for s in frontier:
            for p, o in data.predicate_objects(s):
                out.add((s, p, o))
                if isinstance(o, Literal) or o in seen:
                    continue
                seen.add(o)
                types = set(data.objects(o, RDF.type))
                if DCAT.Dataset in types or DCAT.Catalog in types:
                    for t in types:
                        out.add((o, RDF.type, t))
                    continue
                nxt.append(o)
        frontier = nxt
    return out


def validate_dataset(data: Graph, node: Node, profiles: Sequence[str] = DEFAULT_PROFILES) -> list[Violation]:
    """Validate one dataset of a larger document on its own subgraph."""
    sub = subgraph(data, node)
    # Other datasets and catalogs are present only as typed references: not judged here.
    stubs = {
        str(s) for cls in (DCAT.Dataset, DCAT.Catalog) for s in sub.subjects(RDF.type, cls) if s != node
    }
    return [v for v in validate_graph(sub, profiles) if v.focus not in stubs]


def quality_notes(violations: Iterable[Violation]) -> list[QualityNote]:
    return [v.as_note() for v in violations]
