"""DCAT-AP 3 / HealthDCAT-AP serialisation of the canonical model (Turtle, JSON-LD, RDF/XML, schema.org).

Parsing DCAT back into the model lives in :mod:`harvesters.dcat_parse` (harvesters may not
import catalog; catalog may import harvesters).
"""

from catalog.dcat.graph import GraphWriter, Paging, dataset_iri
from catalog.dcat.schemaorg import dataset_to_schemaorg
from catalog.dcat.serialise import (
    FORMAT_FOR_MEDIA_TYPE,
    MEDIA_TYPES,
    SUFFIXES,
    catalog_graph,
    dataset_graph,
    jsonld_context,
    serialise_catalog,
    serialise_dataset,
    serialise_graph,
)

__all__ = [
    "FORMAT_FOR_MEDIA_TYPE",
    "MEDIA_TYPES",
    "SUFFIXES",
    "GraphWriter",
    "Paging",
    "catalog_graph",
    "dataset_graph",
    "dataset_iri",
    "dataset_to_schemaorg",
    "jsonld_context",
    "serialise_catalog",
    "serialise_dataset",
    "serialise_graph",
]
