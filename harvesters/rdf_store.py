"""An rdflib ``Store`` for reading one harvested document: triples by subject in document order.

rdflib's default ``Memory`` store keeps three indexes plus per-triple context bookkeeping
so that any graph can be edited and queried every way; a harvested document is written
once by its parser and then read by subject. This store keeps only what that needs:
subject -> predicate -> objects and predicate -> object -> subjects, each in insertion
(= document) order, duplicate triples dropped as RDF requires. ``by_subject`` hands the
first index to the mapper as it stands, so mapping does not rebuild it.

Not context-aware: a document parsed into it is one graph. Removal is not supported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rdflib.store import Store
from rdflib.term import Node

if TYPE_CHECKING:
    from rdflib.graph import _ContextType, _TriplePatternType, _TripleType

# predicate -> objects, each mapping used as an insertion-ordered set
PredicateObjects = dict[Node, dict[Node, None]]


def _no_contexts() -> Iterator[Any]:
    return iter(())


class DocumentStore(Store):
    """Write-once, read-by-subject triples of one document (see the module docstring)."""

    context_aware = False
    formula_aware = False
    transaction_aware = False
    graph_aware = False

    def __init__(self) -> None:
        super().__init__()
        self._spo: dict[Node, PredicateObjects] = {}
        self._pos: dict[Node, dict[Node, dict[Node, None]]] = {}
        self._count = 0
        self._namespaces: dict[str, Any] = {}
        self._prefixes: dict[Any, str] = {}

    @property
    def by_subject(self) -> dict[Node, PredicateObjects]:
        """subject -> predicate -> objects in document order (read it, do not change it)."""
        return self._spo

    def add(self, triple: _TripleType, context: _ContextType, quoted: bool = False) -> None:
        s, p, o = triple
        po = self._spo.get(s)
        if po is None:
            po = self._spo[s] = {}
        objects = po.get(p)
        if objects is None:
            objects = po[p] = {}
        elif o in objects:
            return
        objects[o] = None
        by_object = self._pos.get(p)
        if by_object is None:
            by_object = self._pos[p] = {}
        subjects = by_object.get(o)
        if subjects is None:
            by_object[o] = {s: None}
        else:
            subjects[s] = None
        self._count += 1

    def remove(self, triple: _TriplePatternType, context: _ContextType | None = None) -> None:
        raise NotImplementedError("a DocumentStore is written once by its parser; copy it into a Graph to edit")

    def triples(
        self, triple_pattern: _TriplePatternType, context: _ContextType | None = None
    ) -> Iterator[tuple[_TripleType, Iterator[Any]]]:
        s, p, o = triple_pattern
        if s is not None:
            yield from self._from_subject(s, p, o)
        elif p is not None:
            by_object = self._pos.get(p, {})
            for o1 in (o,) if o is not None else tuple(by_object):
                for s1 in tuple(by_object.get(o1, ())):
                    yield (s1, p, o1), _no_contexts()
        else:
            for s1 in tuple(self._spo):
                yield from self._from_subject(s1, None, o)

    def _from_subject(self, s: Any, p: Any, o: Any) -> Iterator[tuple[_TripleType, Iterator[Any]]]:
        po = self._spo.get(s)
        if not po:
            return
        for p1 in (p,) if p is not None else tuple(po):
            objects = po.get(p1)
            if not objects:
                continue
            if o is None:
                for o1 in tuple(objects):
                    yield (s, p1, o1), _no_contexts()
            elif o in objects:
                yield (s, p1, o), _no_contexts()

    def __len__(self, context: _ContextType | None = None) -> int:
        return self._count

    def contexts(self, triple: _TripleType | None = None) -> Iterator[_ContextType]:  # type: ignore[override]
        return iter(())

    # Prefixes are kept so that a parsed document can still be serialised with its own prefixes.
    def bind(self, prefix: str, namespace: Any, override: bool = True) -> None:
        if not override and (prefix in self._namespaces or namespace in self._prefixes):
            return
        self._prefixes.pop(self._namespaces.get(prefix), None)
        self._namespaces.pop(self._prefixes.get(namespace, ""), None)
        self._namespaces[prefix], self._prefixes[namespace] = namespace, prefix

    def namespace(self, prefix: str) -> Any:
        return self._namespaces.get(prefix)

    def prefix(self, namespace: Any) -> str | None:
        return self._prefixes.get(namespace)

    def namespaces(self) -> Iterator[tuple[str, Any]]:
        yield from list(self._namespaces.items())
