"""DCAT RDF harvesting from a real HTTP server: hydra paging, format choice, broken documents, SHACL notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalog.harvest import HarvestService
from catalog.store import Store
from tests.harvest.servers import serve

HYDRA = "http://www.w3.org/ns/hydra/core#"
FAST = {"attempts": 2, "backoff": 0.01}


def _pages(fixtures: Path, base: dict[str, str]) -> dict[str, tuple[str, bytes]]:
    dcat = fixtures / "dcat"
    first = (dcat / "dataset_multilingual.ttl").read_text(encoding="utf-8")
    first += (
        f"\n<{base['url']}/page1.ttl> a <{HYDRA}PartialCollectionView> ; <{HYDRA}next> <{base['url']}/page2.ttl> .\n"
    )
    second = (dcat / "dataset_health_multilingual.ttl").read_text(encoding="utf-8")
    # page 2 points back to page 1: a repeated page must end the paging, not loop
    second += f"\n<{base['url']}/page2.ttl> <{HYDRA}next> <{base['url']}/page1.ttl> .\n"
    return {
        "/page1.ttl": ("text/turtle", first.encode()),
        "/page2.ttl": ("text/plain", second.encode()),  # chosen by extension
        "/catalog": ("application/rdf+xml", (dcat / "catalog.rdf").read_bytes()),
        "/pod": ("application/octet-stream", (dcat / "catalog_pod.jsonld").read_bytes()),  # sniffed
        "/broken.ttl": ("text/turtle", (dcat / "dataset.ttl").read_bytes()),
    }


def _server(fixtures: Path) -> Any:
    base: dict[str, str] = {}

    def handler(method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        pages = _pages(fixtures, base)
        if path not in pages:
            return 404, "text/plain", b"not here"
        ctype, payload = pages[path]
        return 200, ctype, payload

    return base, handler


def test_two_hydra_pages_are_harvested_and_a_repeated_page_ends_paging(
    service: HarvestService, store: Store, shared_fixtures: Path
) -> None:
    base, handler = _server(shared_fixtures)
    with serve(handler) as url:
        base["url"] = url
        info = service.add_source("dcat", f"{url}/page1.ttl", name="paged", options=FAST)
        run = service.run("paged")
        again = service.run("paged")
    assert (run.status, run.added, run.failed) == ("succeeded", 2, 0)
    assert set(store.guids_of_source(info.guid)) == {
        "https://example.org/dataset/0112cf32-bce0-4071-9504-923375f9f2ad",
        "http://example.test/dataset/1",
    }
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)


def test_rdf_xml_and_sniffed_json_ld_documents_are_read(
    service: HarvestService, store: Store, shared_fixtures: Path
) -> None:
    base, handler = _server(shared_fixtures)
    with serve(handler) as url:
        base["url"] = url
        service.add_source("dcat", f"{url}/catalog", name="xml", options=FAST)
        service.add_source("dcat", f"{url}/pod", name="pod", options=FAST)
        xml, pod = service.run("xml"), service.run("pod")
    assert (xml.added, pod.added) == (2, 1)


def test_input_violating_the_shapes_is_harvested_with_quality_notes(
    service: HarvestService, store: Store, shared_fixtures: Path
) -> None:
    base, handler = _server(shared_fixtures)
    with serve(handler) as url:
        base["url"] = url
        info = service.add_source("dcat", f"{url}/catalog", name="xml", options=FAST)
        service.run("xml")
    stored = [store.get(g).dataset for g in store.guids_of_source(info.guid).values()]
    assert all(ds.quality_notes for ds in stored)


def test_a_document_that_does_not_parse_is_one_error_with_its_line_and_withdraws_nothing(
    service: HarvestService, store: Store, shared_fixtures: Path
) -> None:
    base, handler = _server(shared_fixtures)
    pages = {"path": "/page1.ttl"}

    def switching(method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        return handler(method, pages["path"] if path == "/start.ttl" else path, query, body)

    with serve(switching) as url:
        base["url"] = url
        info = service.add_source("dcat", f"{url}/start.ttl", name="flaky", options=FAST)
        service.run("flaky")
        pages["path"] = "/broken.ttl"
        run = service.run("flaky")
    assert (run.status, run.failed, run.withdrawn) == ("succeeded", 1, 0)
    assert "nothing was withdrawn" in (run.reason or "")
    [error] = service.errors(name="flaky")
    assert error.stage == "parse" and "line 158" in error.reason
    assert len(store.guids_of_source(info.guid)) == 2
