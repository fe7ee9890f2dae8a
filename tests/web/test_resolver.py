"""The GUID resolver: content negotiation, FAIR Signposting, tombstones (410), and the paged DCAT catalog."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from catalog.api.resolver import negotiate
from catalog.context import Context

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "html"),
        ("*/*", "html"),
        (BROWSER, "html"),
        ("text/turtle", "turtle"),
        ("application/ld+json", "json-ld"),
        ("application/json", "json-ld"),
        ("application/rdf+xml", "xml"),
        ("text/html;q=0.5, text/turtle", "turtle"),
        ("application/rdf+xml;q=0.9, application/ld+json", "json-ld"),
        ("text/turtle, application/ld+json", "turtle"),
        ("text/*", "html"),
        ("text/turtle;q=0, */*;q=0.1", "html"),
        ("image/png, */*;q=0.2", "html"),
        ("image/png", None),
        ("text/html;q=0", None),
    ],
)
def test_negotiation_picks_the_representation_the_client_prefers(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


def _graph(text: str, fmt: str) -> Graph:
    return Graph().parse(data=text, format=fmt)


@pytest.mark.parametrize(
    ("accept", "media_type", "rdflib_format"),
    [
        ("text/turtle", "text/turtle", "turtle"),
        ("application/ld+json", "application/ld+json", "json-ld"),
        ("application/rdf+xml", "application/rdf+xml", "xml"),
    ],
)
def test_a_guid_resolves_to_rdf_of_the_dataset_when_asked_for_it(
    client: TestClient, add: Callable[..., str], accept: str, media_type: str, rdflib_format: str
) -> None:
    guid = add("Liver CT")
    response = client.get(f"/guid/{guid}", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["vary"].split(",")[0] == "Accept"
    g = _graph(response.text, rdflib_format)
    node = URIRef(f"http://testserver/guid/{guid}")
    assert (node, RDF.type, DCAT.Dataset) in g
    assert (node, DCTERMS.title, Literal("Liver CT", lang="en")) in g


def test_a_guid_resolves_to_the_html_page_by_default(client: TestClient, add: Callable[..., str]) -> None:
    guid = add("Retina photographs")
    response = client.get(f"/guid/{guid}", headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Retina photographs" in response.text


@pytest.mark.parametrize(("suffix", "rdflib_format"), [("ttl", "turtle"), ("jsonld", "json-ld"), ("rdf", "xml")])
def test_dataset_urls_with_a_format_suffix_serve_that_format(
    client: TestClient, add: Callable[..., str], suffix: str, rdflib_format: str
) -> None:
    guid = add("Spine MR")
    response = client.get(f"/dataset/{guid}.{suffix}")
    assert response.status_code == 200
    g = _graph(response.text, rdflib_format)
    assert (URIRef(f"http://testserver/guid/{guid}"), RDF.type, DCAT.Dataset) in g


def test_the_resolver_sends_fair_signposting_links(client: TestClient, add: Callable[..., str]) -> None:
    guid = add()
    link = client.get(f"/guid/{guid}").headers["link"]
    assert f'<http://testserver/guid/{guid}>; rel="cite-as"' in link
    for suffix, media in (("ttl", "text/turtle"), ("jsonld", "application/ld+json"), ("rdf", "application/rdf+xml")):
        assert f'<http://testserver/dataset/{guid}.{suffix}>; rel="describedby"; type="{media}"' in link
    assert '<https://schema.org/Dataset>; rel="type"' in link


def test_the_dataset_page_itself_carries_the_signposting_links(client: TestClient, add: Callable[..., str]) -> None:
    guid = add()
    page = client.get(f"/dataset/{guid}")
    assert f'<http://testserver/guid/{guid}>; rel="cite-as"' in page.headers["link"]
    assert "Accept" in client.get(f"/guid/{guid}").headers["vary"]


def test_head_on_a_guid_gives_the_signposting_links_without_a_body(client: TestClient, add: Callable[..., str]) -> None:
    guid = add()
    response = client.head(f"/guid/{guid}")
    assert response.status_code == 200
    assert 'rel="cite-as"' in response.headers["link"]
    assert response.content == b""


def test_asking_for_a_format_we_do_not_serve_is_406_naming_the_ones_we_do(
    client: TestClient, add: Callable[..., str]
) -> None:
    guid = add()
    response = client.get(f"/guid/{guid}", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert "text/turtle" in response.json()["error"]["message"]


def test_an_unknown_guid_is_404_as_a_page_for_browsers_and_json_for_machines(client: TestClient) -> None:
    guid = "dg.TW01/55555555-5555-5555-5555-555555555555"
    page = client.get(f"/guid/{guid}", headers={"Accept": BROWSER})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    machine = client.get(f"/guid/{guid}", headers={"Accept": "text/turtle"})
    assert machine.status_code == 404
    assert machine.json()["error"]["code"] == "not_found"


def test_a_tombstoned_guid_answers_410_with_its_last_metadata_and_the_reason(
    client: TestClient, add: Callable[..., str], ctx: Context
) -> None:
    guid = add("Breast MR")
    ctx.store.tombstone(guid, reason="the hospital withdrew the dataset", actor="test")
    page = client.get(f"/guid/{guid}", headers={"Accept": BROWSER})
    assert page.status_code == 410
    assert "the hospital withdrew the dataset" in page.text
    assert "Breast MR" in page.text
    rdf = client.get(f"/guid/{guid}", headers={"Accept": "text/turtle"})
    assert rdf.status_code == 410
    g = _graph(rdf.text, "turtle")
    node = URIRef(f"http://testserver/guid/{guid}")
    assert (node, DCTERMS.title, Literal("Breast MR", lang="en")) in g
    assert (
        node,
        URIRef("http://www.w3.org/2004/02/skos/core#changeNote"),
        Literal("the hospital withdrew the dataset"),
    ) in g
    assert client.get(f"/dataset/{guid}.jsonld").status_code == 410


def test_the_catalog_is_paged_with_hydra_links_that_reach_every_dataset(
    client: TestClient, add: Callable[..., str]
) -> None:
    made = {add(f"Set {i}") for i in range(5)}
    found: set[str] = set()
    url: str | None = "/catalog.ttl?per_page=2"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        g = _graph(response.text, "turtle")
        catalog = URIRef("http://testserver/catalog")
        assert (catalog, RDF.type, DCAT.Catalog) in g
        assert (catalog, HYDRA.totalItems, None) in g
        assert g.value(catalog, HYDRA.totalItems) == Literal(5)
        members = {str(o).removeprefix("http://testserver/guid/") for o in g.objects(catalog, DCAT.dataset)}
        assert len(members) <= 2
        found |= members
        view = g.value(catalog, HYDRA.view)
        nxt = g.value(view, HYDRA.next)
        url = str(nxt).removeprefix("http://testserver") if nxt else None
        pages += 1
    assert pages == 3
    assert found == made


@pytest.mark.parametrize(("suffix", "rdflib_format"), [("jsonld", "json-ld"), ("rdf", "xml")])
def test_the_catalog_is_also_served_as_json_ld_and_rdf_xml(
    client: TestClient, add: Callable[..., str], suffix: str, rdflib_format: str
) -> None:
    guid = add()
    g = _graph(client.get(f"/catalog.{suffix}").text, rdflib_format)
    assert (URIRef("http://testserver/catalog"), DCAT.dataset, URIRef(f"http://testserver/guid/{guid}")) in g


def test_a_catalog_page_past_the_end_is_404_saying_how_many_there_are(
    client: TestClient, add: Callable[..., str]
) -> None:
    add()
    response = client.get("/catalog.ttl?page=7")
    assert response.status_code == 404
    assert "1 page" in response.json()["error"]["message"]
