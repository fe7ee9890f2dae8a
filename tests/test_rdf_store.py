"""DocumentStore answers like rdflib's Memory store, keeps document order, and maps to the same models."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import BNode, Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.term import Node

from harvesters.dcat_parse import load_graph, parse_graph
from harvesters.rdf_store import DocumentStore

TTL = """
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<https://x.example/c> a dcat:Catalog ; dcat:dataset <https://x.example/d2>, <https://x.example/d1> .
<https://x.example/d2> a dcat:Dataset ; dct:title "Second"@en, "第二"@zh-Hant ;
    dcat:keyword "zebra", "apple", "mango" ; dcat:keyword "zebra" .
<https://x.example/d1> a dcat:Dataset ; dct:title "First"@en ; dcat:keyword "b", "a" ;
    dcat:distribution [ a dcat:Distribution ; dcat:accessURL <https://x.example/f.zip> ] .
"""


def _both(text: str, fmt: str) -> tuple[Graph, Graph]:
    memory = Graph(bind_namespaces="none")
    memory.parse(data=text, format=fmt)
    ours = Graph(store=DocumentStore(), bind_namespaces="none")
    ours.parse(data=text, format=fmt)
    return memory, ours


def _patterns(g: Graph) -> list[tuple[Node | None, Node | None, Node | None]]:
    """Every shape of triple pattern, filled from a sample of the graph's own terms and one absent term."""
    triples = sorted(g, key=lambda t: tuple(map(str, t)))[:40]
    absent = URIRef("urn:x-absent")
    out: list[tuple[Node | None, Node | None, Node | None]] = []
    for s, p, o in [*triples, (absent, absent, absent)]:
        for keep in itertools.product((True, False), repeat=3):
            out.append(tuple(t if k else None for t, k in zip((s, p, o), keep, strict=True)))  # type: ignore[arg-type]
    return out


def _named(pairs: Iterator[tuple[Node, Node]]) -> list[tuple[Node, Node | str]]:
    return [(p, "_:" if isinstance(o, BNode) else o) for p, o in pairs]


def _assert_same(memory: Graph, ours: Graph) -> None:
    """``memory`` and ``ours`` hold the same document, parsed separately (so blank node ids differ)."""
    assert len(ours) == len(memory)
    assert isomorphic(ours, memory)
    # The order the mapper depends on: each subject's objects in document order, as Memory gives them.
    for s in memory.subjects(unique=True):
        if not isinstance(s, BNode):
            assert _named(ours.predicate_objects(s)) == _named(memory.predicate_objects(s)), s
    # Every pattern shape, against a Memory copy holding the very same terms.
    copy = Graph(bind_namespaces="none")
    for t in ours:
        copy.add(t)
    for pattern in _patterns(copy):
        assert set(ours.triples(pattern)) == set(copy.triples(pattern)), pattern


def test_a_document_store_answers_every_pattern_like_memory_and_drops_repeated_triples() -> None:
    memory, ours = _both(TTL, "turtle")
    _assert_same(memory, ours)
    keyword = URIRef("http://www.w3.org/ns/dcat#keyword")
    assert [str(o) for o in ours.objects(URIRef("https://x.example/d2"), keyword)] == ["zebra", "apple", "mango"]


def test_documents_map_to_the_same_models_from_either_store() -> None:
    memory, ours = _both(TTL, "turtle")
    a, b = parse_graph(memory), parse_graph(ours)
    assert [r.subject for r in b.records] == ["https://x.example/d2", "https://x.example/d1"]
    assert [r.dataset.model_dump() if r.dataset else r.error for r in b.records] == [
        r.dataset.model_dump() if r.dataset else r.error for r in a.records
    ]
    assert b.datasets[0].keywords == a.datasets[0].keywords != []


def test_load_graph_reads_turtle_into_a_document_store_and_json_ld_into_a_context_aware_one() -> None:
    assert isinstance(load_graph(TTL, "turtle").store, DocumentStore)
    jsonld = '{"@id": "https://x.example/d", "@type": "http://www.w3.org/ns/dcat#Dataset"}'
    assert load_graph(jsonld, "json-ld").store.context_aware


def test_a_document_store_refuses_removal_with_a_way_out() -> None:
    _memory, ours = _both(TTL, "turtle")
    with pytest.raises(NotImplementedError, match="copy it into a Graph"):
        ours.remove((None, None, None))


@pytest.mark.fixtures
@pytest.mark.parametrize(
    "name",
    [
        "catalog.rdf",
        "catalog_datasets_list.rdf",
        "dataset.rdf",
        "dataset_health.ttl",
        "dataset_health_multilingual.ttl",
        "dataset_health_no_blank.ttl",
        "dataset_multilingual.ttl",
    ],
)
def test_real_documents_read_the_same_from_either_store(shared_fixtures: Path, name: str) -> None:
    path = shared_fixtures / "dcat" / name
    fmt = "turtle" if path.suffix == ".ttl" else "xml"
    memory, ours = _both(path.read_text(encoding="utf-8"), fmt)
    _assert_same(memory, ours)
    a, b = parse_graph(memory), parse_graph(ours)
    assert [r.dataset.model_dump() if r.dataset else r.error for r in b.records] == [
        r.dataset.model_dump() if r.dataset else r.error for r in a.records
    ]
    assert b.records
