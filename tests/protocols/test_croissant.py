"""Croissant 1.0 for every dataset, checked by MLCommons' own ``mlcroissant`` validator, served
at /dataset/{guid}.croissant.json and by content negotiation at /guid/{guid}."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from catalog.dcat.croissant import CONFORMS_TO, croissant
from tests.protocols.conftest import RICH, Served

mlc = pytest.importorskip("mlcroissant", reason="mlcroissant is a dev dependency (make install)")

CROISSANT = 'application/ld+json; profile="http://mlcommons.org/croissant/"'


def _issues(doc: dict[str, Any] | str) -> tuple[set[str], set[str]]:
    ds = mlc.Dataset(jsonld=doc)  # raises mlcroissant.ValidationError on any error
    return ds.metadata.ctx.issues.errors, ds.metadata.ctx.issues.warnings


def test_every_record_is_valid_croissant_warned_only_of_what_the_record_lacks(served: Served) -> None:
    for stored in served.ctx.store.iter_all():
        errors, warnings = _issues(croissant(stored.dataset, stored.guid, served.url))
        lacking = {p for p, v in (("license", stored.dataset.license), ("version", stored.dataset.version)) if not v}
        expected = {w for w in warnings if any(f'schema.org/{p}" is recommended' in w for p in lacking)}
        assert errors == set(), stored.guid
        assert warnings == expected, stored.guid
    rich = next(s for s in served.ctx.store.iter_all() if s.guid == served.rich_guid)
    assert _issues(croissant(rich.dataset, rich.guid, served.url)) == (set(), set())


def test_the_served_document_is_read_by_mlcroissant_from_its_url(served: Served) -> None:
    url = f"{served.url}/dataset/{served.rich_guid}.croissant.json"
    ds = mlc.Dataset(jsonld=url)
    assert ds.metadata.name == RICH["title"]["en"]
    assert ds.metadata.license == [RICH["license"]["iri"]]
    [file] = ds.metadata.distribution
    assert file.content_url == RICH["distributions"][0]["download_url"]
    assert file.sha256 == RICH["distributions"][0]["checksum"]["value"]


def test_the_guid_resolver_answers_the_croissant_profile(served: Served) -> None:
    by_guid = httpx.get(f"{served.url}/guid/{served.rich_guid}", headers={"Accept": CROISSANT})
    plain = httpx.get(f"{served.url}/guid/{served.rich_guid}", headers={"Accept": "application/ld+json"})
    assert by_guid.status_code == 200
    assert by_guid.headers["content-type"].startswith("application/ld+json")
    assert by_guid.json()["conformsTo"] == CONFORMS_TO
    assert CONFORMS_TO not in plain.text and "dcat:Dataset" in plain.text  # plain JSON-LD stays DCAT
    assert "croissant.json" in plain.headers["link"]


def test_a_restricted_dataset_says_how_to_get_access_and_lists_no_file(served: Served) -> None:
    stored = next(s for s in served.ctx.store.iter_all() if s.guid != served.rich_guid)
    doc = croissant(stored.dataset, stored.guid, served.url)
    assert stored.dataset.access_rights == "RESTRICTED"
    assert doc["isAccessibleForFree"] is False and "review" in doc["conditionsOfAccess"]
    assert "distribution" not in doc


def test_dataset_pages_link_their_croissant_in_both_languages(served: Served) -> None:
    for lang, label in (("en", "Croissant (ML)"), ("zh-Hant", "Croissant（機器學習）")):
        page = httpx.get(f"{served.url}/dataset/{served.rich_guid}", params={"lang": lang})
        assert f'href="/dataset/{served.rich_guid}.croissant.json"' in page.text
        assert label in page.text


def test_a_tombstone_still_describes_itself_with_410(served: Served) -> None:
    victim = next(s for s in served.ctx.store.iter_all() if s.guid != served.rich_guid)
    served.ctx.store.tombstone(victim.guid, reason="test", actor="test")
    try:
        gone = httpx.get(f"{served.url}/dataset/{victim.guid}.croissant.json")
    finally:
        served.ctx.store.save(victim.dataset, actor="test", activity="restore")
    assert gone.status_code == 410 and gone.json()["name"] == victim.dataset.title["en"]
