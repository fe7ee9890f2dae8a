"""MLDCAT-AP output: the model's own document and the dataset's both parse and hold the lineage,
in Turtle, JSON-LD and RDF/XML; the model catalog lists every model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef

from catalog.context import Context
from catalog.models.store import models_of
from schemas import AIModel
from schemas.namespaces import DCAT, DQV, FG, MLDCAT, PROV, QB, RDF
from tests.models.conftest import a_dataset, model_json

FORMATS = [("ttl", "turtle"), ("jsonld", "json-ld"), ("rdf", "xml")]


@pytest.fixture
def lineage(ctx: Context) -> tuple[str, str]:
    lung = a_dataset(ctx.store)
    fig = {"metric": "AUROC", "value": 0.91, "dataset_guid": lung}
    guid = models_of(ctx).save(AIModel.model_validate(model_json(training=[lung], performance=[fig])), actor="t").guid
    return guid, lung


def _iri(guid: str) -> URIRef:
    return URIRef(f"http://testserver/guid/{guid}")


@pytest.mark.parametrize(("suffix", "fmt"), FORMATS)
def test_the_model_document_parses_and_is_derived_from_its_training_dataset(
    client: TestClient, lineage: tuple[str, str], suffix: str, fmt: str
) -> None:
    guid, lung = lineage
    r = client.get(f"/model/{guid}.{suffix}")
    assert r.status_code == 200
    g = Graph().parse(data=r.text, format=fmt)
    model, ds = _iri(guid), _iri(lung)
    assert (model, RDF.type, MLDCAT.MachineLearningModel) in g
    assert (model, MLDCAT.trainedOn, ds) in g and (model, PROV.wasDerivedFrom, ds) in g
    assert (ds, RDF.type, DCAT.Dataset) in g
    assert (model, FG.sharingClass, URIRef("https://w3id.org/fairgate/vocab/model-sharing-class/base_tool")) in g
    measurement = g.value(model, DQV.hasQualityMeasurement)
    assert float(str(g.value(measurement, DQV.value))) == 0.91 and g.value(measurement, QB.dataSet) == ds
    assert {str(t) for t in g.objects(model, URIRef("http://purl.org/dc/terms/title"))} == {
        "肺結節偵測",
        "Lung nodule detector",
    }


@pytest.mark.parametrize(("suffix", "fmt"), FORMATS)
def test_the_dataset_document_links_back_to_the_models_trained_on_it(
    client: TestClient, lineage: tuple[str, str], suffix: str, fmt: str
) -> None:
    guid, lung = lineage
    g = Graph().parse(data=client.get(f"/dataset/{lung}.{suffix}").text, format=fmt)
    assert (_iri(lung), FG.trainedModel, _iri(guid)) in g
    assert (_iri(guid), MLDCAT.trainedOn, _iri(lung)) in g
    assert (_iri(guid), URIRef("http://purl.org/dc/terms/title"), Literal("Lung nodule detector", lang="en")) in g


def test_the_guid_resolves_a_model_to_its_page_or_its_rdf(client: TestClient, lineage: tuple[str, str]) -> None:
    guid, _ = lineage
    page = client.get(f"/guid/{guid}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/model/{guid}"
    turtle = client.get(f"/guid/{guid}", headers={"Accept": "text/turtle"})
    assert (_iri(guid), RDF.type, MLDCAT.MachineLearningModel) in Graph().parse(data=turtle.text, format="turtle")


def test_the_model_catalog_lists_every_model_and_the_dataset_catalog_points_to_it(
    client: TestClient, lineage: tuple[str, str]
) -> None:
    guid, _ = lineage
    g = Graph().parse(data=client.get("/models.ttl").text, format="turtle")
    assert (URIRef("http://testserver/models"), DCAT.resource, _iri(guid)) in g
    catalog = Graph().parse(data=client.get("/catalog.ttl").text, format="turtle")
    assert URIRef("http://testserver/models.ttl") in set(catalog.objects())
