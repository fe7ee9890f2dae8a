"""A Turtle writer that keeps the graph's insertion order and nests single-use blank nodes.

rdflib's own Turtle serialiser sorts objects (so list order in the model would be lost)
and is slow on large catalogs; this one writes in one pass over the store.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from io import StringIO

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from schemas.namespaces import PREFIXES, RDF, XSD

_LOCAL = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_IRI_UNSAFE = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_PLAIN_TYPES = {str(XSD.integer)}


class _Namer:
    def __init__(self) -> None:
        self.prefixes = sorted(((str(ns), p) for p, ns in PREFIXES.items()), key=lambda x: -len(x[0]))
        self.used: set[str] = set()
        self._cache: dict[str, str] = {}

    def iri(self, iri: str) -> str:
        hit = self._cache.get(iri)
        if hit is not None:
            return hit
        out = None
        for ns, prefix in self.prefixes:
            if iri.startswith(ns):
                local = iri[len(ns) :]
                if _LOCAL.match(local):
                    out = f"{prefix}:{local}"
                    self.used.add(prefix)
                break
        if out is None:
            out = "<" + _IRI_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04X}", iri) + ">"
        self._cache[iri] = out
        return out

    def literal(self, lit: Literal) -> str:
        text = json.dumps(str(lit), ensure_ascii=False)
        if lit.language:
            return f"{text}@{lit.language}"
        if lit.datatype is not None:
            if str(lit.datatype) in _PLAIN_TYPES and re.match(r"^[+-]?\d+$", str(lit)):
                return str(lit)
            return f"{text}^^{self.iri(str(lit.datatype))}"
        return text


def to_turtle(graph: Graph) -> str:
    """Serialise ``graph`` as Turtle in insertion order."""
    props: dict[Node, dict[Node, list[Node]]] = defaultdict(lambda: defaultdict(list))
    refs: dict[Node, int] = defaultdict(int)
    # Per-subject iteration keeps insertion order (whole-graph iteration does not).
    for s in graph.subjects(unique=True):
        for p, o in graph.predicate_objects(s):
            props[s][p].append(o)
            if isinstance(o, BNode):
                refs[o] += 1
    namer = _Namer()
    body = StringIO()
    emitted: set[Node] = set()
    bnode_ids: dict[Node, str] = {}

    def name(node: Node) -> str:
        if isinstance(node, URIRef):
            return namer.iri(str(node))
        if isinstance(node, BNode):
            if node not in bnode_ids:
                bnode_ids[node] = f"_:b{len(bnode_ids)}"
            return bnode_ids[node]
        assert isinstance(node, Literal)
        return namer.literal(node)

    def inline(node: Node) -> bool:
        return isinstance(node, BNode) and refs[node] == 1 and node not in emitted

    def obj(node: Node, indent: str) -> str:
        if inline(node):
            emitted.add(node)
            inner = predicates(node, indent + "    ")
            return "[]" if not inner else f"[\n{inner}\n{indent}]"
        return name(node)

    def predicates(subject: Node, indent: str) -> str:
        lines = []
        for p, objs in props.get(subject, {}).items():
            pname = "a" if p == RDF.type else name(p)
            values = ", ".join(obj(o, indent) for o in objs)
            lines.append(f"{indent}{pname} {values}")
        return " ;\n".join(lines)

    for subject in list(props):
        if subject in emitted or inline(subject):
            continue
        emitted.add(subject)
        body.write(f"{name(subject)}\n{predicates(subject, '    ')} .\n\n")
    # Blank nodes only reachable through a cycle of single references were never inlined.
    for subject in list(props):
        if subject not in emitted:
            emitted.add(subject)
            body.write(f"{name(subject)}\n{predicates(subject, '    ')} .\n\n")
    head = "".join(f"@prefix {p}: <{PREFIXES[p]}> .\n" for p in sorted(namer.used))
    return head + "\n" + body.getvalue()
