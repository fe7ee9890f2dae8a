"""Serialise datasets and (paged) catalogs as Turtle, JSON-LD (our published context) or RDF/XML.

Dataset IRIs are ``{base_url}/guid/{guid}``; ``base_url`` defaults to the deployment's
settings. This module only turns models into text; routing and content negotiation live
in the web app.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any, Literal

from rdflib import Graph

from catalog.dcat.graph import GraphWriter, Paging
from catalog.dcat.turtle import to_turtle
from schemas import Catalog, Dataset

Format = Literal["turtle", "json-ld", "xml"]

#: Media type of each format, and the file suffix used by ``/dataset/{guid}.{suffix}``.
MEDIA_TYPES: dict[str, str] = {
    "turtle": "text/turtle",
    "json-ld": "application/ld+json",
    "xml": "application/rdf+xml",
}
SUFFIXES: dict[str, str] = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}
FORMAT_FOR_MEDIA_TYPE: dict[str, str] = {v: k for k, v in MEDIA_TYPES.items()}


@cache
def jsonld_context() -> dict[str, Any]:
    """The published JSON-LD context (``schemas/context.jsonld``), its ``@context`` object."""
    text = (resources.files("schemas") / "context.jsonld").read_text(encoding="utf-8")
    ctx: dict[str, Any] = json.loads(text)["@context"]
    return ctx


def _base_url(base_url: str | None) -> str:
    if base_url is not None:
        return base_url
    from catalog.settings import get_settings

    return get_settings().base_url


def dataset_graph(ds: Dataset, base_url: str | None = None) -> Graph:
    w = GraphWriter(base_url=_base_url(base_url))
    w.dataset(ds)
    return w.g


def catalog_graph(
    catalog: Catalog, datasets: Iterable[Dataset], base_url: str | None = None, paging: Paging | None = None
) -> Graph:
    w = GraphWriter(base_url=_base_url(base_url))
    nodes = [w.dataset(ds) for ds in datasets]
    w.catalog(catalog, nodes, paging)
    return w.g


def serialise_graph(graph: Graph, fmt: str) -> str:
    """Write ``graph`` in ``fmt`` ("turtle", "json-ld" or "xml"), keeping insertion order."""
    if fmt == "turtle":
        return to_turtle(graph)
    if fmt == "json-ld":
        return graph.serialize(format="json-ld", context=jsonld_context(), auto_compact=True)
    if fmt == "xml":
        return graph.serialize(format="pretty-xml")
    raise ValueError(f"unknown RDF format {fmt!r}; use one of: {', '.join(MEDIA_TYPES)}")


def serialise_dataset(ds: Dataset, fmt: str = "turtle", base_url: str | None = None) -> str:
    return serialise_graph(dataset_graph(ds, base_url), fmt)


def serialise_catalog(
    catalog: Catalog,
    datasets: Iterable[Dataset],
    fmt: str = "turtle",
    base_url: str | None = None,
    paging: Paging | None = None,
) -> str:
    return serialise_graph(catalog_graph(catalog, datasets, base_url, paging), fmt)
