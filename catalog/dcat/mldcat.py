"""AI-model entries out to RDF: MLDCAT-AP 3 ``MachineLearningModel`` (a ``dcat:Resource``), the model
catalog, and the lineage triples a dataset's own description carries.

Lineage both ways: a model says ``mldcat:trainedOn`` and ``prov:wasDerivedFrom`` of each training
dataset; a dataset's document says ``fg:trainedModel`` of each model trained on it (MLDCAT-AP has no
inverse of ``trainedOn``) and repeats the model's ``trainedOn``, so either document alone holds the link.
Pure: models in, graphs out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from catalog.dcat.graph import GraphWriter, dataset_iri, new_graph
from catalog.dcat.serialise import jsonld_context
from catalog.dcat.turtle import to_turtle
from schemas.model import AIModel
from schemas.namespaces import DCAT, DCT, DQV, FG, FOAF, MLDCAT, PROV, QB, RDF, RDFS, SKOS, XSD
from schemas.vocabularies import vocabulary


def model_iri(guid: str, base_url: str) -> str:
    """Models resolve through the same ``/guid/`` resolver as datasets."""
    return dataset_iri(guid, base_url)


def _when(value: datetime) -> Literal:
    return Literal(value.isoformat(), datatype=XSD.dateTime)


def _dataset_ref(w: GraphWriter, s: Node, p: URIRef, guid: str) -> URIRef:
    node = URIRef(dataset_iri(guid, w.base_url))
    w.g.add((s, p, node))
    w._type(node, DCAT.Dataset)
    return node


def add_model(
    w: GraphWriter, model: AIModel, guid: str, *, created: datetime | None = None, modified: datetime | None = None
) -> URIRef:
    """The model's triples in ``w``'s graph; returns its node."""
    g = w.g
    node = URIRef(model_iri(guid, w.base_url))
    g.add((node, RDF.type, MLDCAT.MachineLearningModel))
    g.add((node, RDF.type, DCAT.Resource))
    g.add((node, DCT.identifier, Literal(guid)))
    w._texts(node, DCT.title, model.name)
    w._texts(node, DCT.description, model.description)
    g.add((node, DCAT.version, Literal(model.version)))
    g.add((node, DCAT.landingPage, URIRef(f"{w.base_url}/model/{guid}")))
    w._vocab_ref(node, DCT.type, "model_task", model.task)
    w._vocab_ref(node, FG.sharingClass, "model_sharing_class", model.sharing_class)
    g.add((node, FG.terms, Literal(model.terms)))
    for channel in model.channels:
        g.add((node, MLDCAT.methodOfDistribution, Literal(vocabulary("model_channel").label(channel, "en"), lang="en")))
        w._vocab_ref(node, FG.channel, "model_channel", channel)
    for code in model.modalities:
        w._vocab_ref(node, MLDCAT.hasInputModality, "modality", code)
    for ds in model.training_datasets:
        _dataset_ref(w, node, MLDCAT.trainedOn, ds)
        g.add((node, PROV.wasDerivedFrom, URIRef(dataset_iri(ds, w.base_url))))
    for fig in model.performance:
        m = BNode()
        g.add((node, DQV.hasQualityMeasurement, m))
        g.add((m, RDF.type, DQV.QualityMeasurement))
        metric = BNode()
        g.add((m, DQV.isMeasurementOf, metric))
        g.add((metric, RDF.type, DQV.Metric))
        g.add((metric, SKOS.prefLabel, Literal(fig.metric)))
        g.add((m, DQV.value, Literal(fig.value, datatype=XSD.double)))
        if fig.dataset_guid:
            _dataset_ref(w, m, QB.dataSet, fig.dataset_guid)
        if fig.dataset_label:
            g.add((m, RDFS.comment, Literal(fig.dataset_label)))
    if model.license is not None:
        w.license(node, model.license)
    if model.publisher is not None:
        g.add((node, DCT.publisher, w.agent(model.publisher)))
    if model.access_url:
        g.add((node, FOAF.page, URIRef(model.access_url)))
    w._texts(node, FG.reciprocity, model.reciprocity)
    if model.regulatory_approval:
        g.add((node, FG.regulatoryApproval, Literal(model.regulatory_approval)))
    g.add((node, FG.clinicalUse, Literal(model.clinical_use)))
    if created is not None:
        g.add((node, DCT.created, _when(created)))
    if modified is not None:
        g.add((node, DCT.modified, _when(modified)))
    return node


def model_graph(model: AIModel, guid: str, base_url: str, **times: datetime) -> Graph:
    w = GraphWriter(new_graph(), base_url=base_url)
    add_model(w, model, guid, **times)
    return w.g


def models_catalog_graph(
    catalog_iri: str, titles: dict[str, str], models: Iterable[tuple[str, AIModel]], base_url: str
) -> Graph:
    """A ``dcat:Catalog`` of the model entries (``dcat:resource`` each), with every model described."""
    w = GraphWriter(new_graph(), base_url=base_url)
    cat = URIRef(catalog_iri)
    w.g.add((cat, RDF.type, DCAT.Catalog))
    w._texts(cat, DCT.title, titles)
    for guid, model in models:
        w.g.add((cat, DCAT.resource, add_model(w, model, guid)))
    return w.g


def add_dataset_lineage(graph: Graph, dataset_guid: str, models: Sequence[tuple[str, AIModel]], base_url: str) -> None:
    """The dataset's side of the lineage in its own document: each model trained on it, named and linked."""
    ds = URIRef(dataset_iri(dataset_guid, base_url))
    for guid, model in models:
        node = URIRef(model_iri(guid, base_url))
        graph.add((ds, FG.trainedModel, node))
        graph.add((node, RDF.type, MLDCAT.MachineLearningModel))
        graph.add((node, MLDCAT.trainedOn, ds))
        graph.add((node, PROV.wasDerivedFrom, ds))
        for tag, text in model.name.items():
            graph.add((node, DCT.title, Literal(text, lang=tag)))


def serialise_model_graph(graph: Graph, fmt: str) -> str:
    """Turtle (insertion order kept), JSON-LD (our context plus MLDCAT-AP's prefix) or RDF/XML."""
    if fmt == "turtle":
        return to_turtle(graph)
    if fmt == "json-ld":
        context: dict[str, Any] = {**jsonld_context(), "mldcat": str(MLDCAT), "qb": str(QB)}
        return graph.serialize(format="json-ld", context=context, auto_compact=True)
    if fmt == "xml":
        return graph.serialize(format="pretty-xml")
    raise ValueError(f"unknown RDF format {fmt!r}")
