"""The OAI-PMH provider, read by the real ``sickle`` client and by fairgate's own OAI-PMH
harvester from a fairgate served by uvicorn."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sickle import Sickle
from sickle.oaiexceptions import BadArgument, CannotDisseminateFormat, IdDoesNotExist, NoRecordsMatch

from catalog.api import oai_provider
from catalog.api.oai_provider import oai_identifier
from catalog.harvest import HarvestService
from catalog.store import Store
from tests.protocols.conftest import RICH, Served

OAI = "{http://www.openarchives.org/OAI/2.0/}"


def _sickle(served: Served) -> Sickle:
    return Sickle(served.url + "/oai", max_retries=1)


def test_identify_says_persistent_deletions_and_second_granularity(served: Served) -> None:
    info = _sickle(served).Identify()
    assert info.protocolVersion == "2.0"
    assert info.deletedRecord == "persistent"
    assert info.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert info.baseURL == served.url + "/oai"


def test_metadata_formats_and_sets_by_publisher_and_access_route(served: Served) -> None:
    s = _sickle(served)
    prefixes = {f.metadataPrefix for f in s.ListMetadataFormats()}
    sets = {x.setSpec: x.setName for x in s.ListSets()}
    assert prefixes == {"oai_dc", "oai_datacite"}
    assert sets["publisher:test-hospital"] == "Test Hospital"
    assert {"publisher", "access_route"} <= set(sets)
    assert any(spec.startswith("access_route:") for spec in sets)


def test_list_records_pages_with_resumption_tokens_through_every_record_once(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oai_provider, "PAGE_SIZE", 7)
    first = httpx.get(served.url + "/oai", params={"verb": "ListRecords", "metadataPrefix": "oai_dc"})
    token = ET.fromstring(first.content).find(f".//{OAI}resumptionToken")
    assert token is not None and token.get("completeListSize") == "26" and token.get("cursor") == "0"
    ids = [h.identifier for h in _sickle(served).ListIdentifiers(metadataPrefix="oai_dc")]
    assert len(ids) == len(set(ids)) == 26


def test_a_set_holds_only_its_members(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oai_provider, "PAGE_SIZE", 3)
    headers = list(_sickle(served).ListIdentifiers(metadataPrefix="oai_dc", set="publisher:test-hospital"))
    assert [h.identifier for h in headers] == [oai_identifier(served.rich_guid)]
    routes = list(_sickle(served).ListIdentifiers(metadataPrefix="oai_dc", set="access_route"))
    assert 0 < len(routes) <= 26 and all(any(s.startswith("access_route:") for s in h.setSpecs) for h in routes)


def test_from_and_until_select_by_datestamp(served: Served) -> None:
    s = _sickle(served)
    stamp = s.GetRecord(identifier=oai_identifier(served.rich_guid), metadataPrefix="oai_dc").header.datestamp
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    later = (moment + timedelta(days=2)).strftime("%Y-%m-%d")
    same = [h.identifier for h in s.ListIdentifiers(metadataPrefix="oai_dc", **{"from": stamp, "until": stamp})]
    assert oai_identifier(served.rich_guid) in same
    with pytest.raises(NoRecordsMatch):
        list(s.ListIdentifiers(metadataPrefix="oai_dc", **{"from": later}))
    day = moment.strftime("%Y-%m-%d")
    assert len(list(s.ListIdentifiers(metadataPrefix="oai_dc", **{"from": day, "until": day}))) >= 1


def test_protocol_errors_are_oai_errors_with_their_codes(served: Served) -> None:
    s = _sickle(served)
    verb = httpx.get(served.url + "/oai", params={"verb": "Harvest"})
    assert ET.fromstring(verb.content).find(f"{OAI}error").get("code") == "badVerb"  # type: ignore[union-attr]
    with pytest.raises(CannotDisseminateFormat):
        s.GetRecord(identifier=oai_identifier(served.rich_guid), metadataPrefix="marc21")
    with pytest.raises(IdDoesNotExist):
        s.GetRecord(identifier="oai:dg.TW01:nope", metadataPrefix="oai_dc")
    with pytest.raises(BadArgument):
        s.ListRecords(metadataPrefix="oai_dc", **{"from": "2024-01-01", "until": "2024-01-01T00:00:00Z"})
    bad = httpx.get(served.url + "/oai", params={"verb": "ListRecords", "resumptionToken": "garbage"})
    assert ET.fromstring(bad.content).find(f"{OAI}error").get("code") == "badResumptionToken"  # type: ignore[union-attr]


def test_get_record_in_datacite_carries_bilingual_titles_and_the_guid(served: Served) -> None:
    record = _sickle(served).GetRecord(identifier=oai_identifier(served.rich_guid), metadataPrefix="oai_datacite")
    resource = record.xml.find(".//{http://datacite.org/schema/kernel-4}resource")
    assert resource is not None
    langs = {
        t.get("{http://www.w3.org/XML/1998/namespace}lang"): t.text
        for t in resource.iter("{http://datacite.org/schema/kernel-4}title")
    }
    assert langs == RICH["title"]
    alternates = [a.text for a in resource.iter("{http://datacite.org/schema/kernel-4}alternateIdentifier")]
    assert served.rich_guid in alternates


def _carried(ds: dict[str, Any], prefix: str) -> dict[str, Any]:
    out = {
        "title": ds.get("title"),
        "description": ds.get("description"),
        "keywords": ds.get("keywords"),
        "issued": ds.get("issued"),
        "spatial": ds.get("spatial"),
        "temporal": ds.get("temporal"),
        "relation": ds.get("relation"),
        "license": (ds.get("license") or {}).get("iri"),
        "access_rights": ds.get("access_rights"),
        "creators": [c["name"].get("en") for c in ds.get("creators", [])],
        "publisher": ((ds.get("publisher") or {}).get("name") or {}).get("en"),
    }
    if prefix == "oai_dc":
        out["language"] = ds.get("language")
    else:
        out.update(
            themes=ds.get("themes"),
            modified=ds.get("modified"),
            version=ds.get("version"),
            provenance=ds.get("provenance"),
            documentation=ds.get("documentation"),
            is_referenced_by=ds.get("is_referenced_by"),
            language=(ds.get("language") or [None])[:1],
        )
    return out


@pytest.mark.parametrize("prefix", ["oai_dc", "oai_datacite"])
def test_fairgate_harvesting_fairgate_over_oai_pmh_loses_no_field_the_format_carries(
    served: Served, second: HarvestService, second_store: Store, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oai_provider, "PAGE_SIZE", 10)
    second.add_source(
        "oaipmh", served.url + "/oai", name="peer", options={"metadata_prefix": prefix, "attempts": 2, "backoff": 0.01}
    )
    run = second.run("peer")
    assert (run.status, run.added, run.failed) == ("succeeded", 26, 0)
    arrived: dict[str, dict[str, Any]] = {}
    for s in second_store.iter_all():
        ids = {s.dataset.identifier, *(i.notation for i in s.dataset.other_identifiers)}
        guid = next(i for i in ids if i and i.startswith("dg.TW01/"))
        arrived[guid] = s.dataset.model_dump(mode="json", exclude_defaults=True)
    for stored in served.ctx.store.iter_all():
        original = stored.dataset.model_dump(mode="json", exclude_defaults=True)
        copy = arrived[stored.guid]
        ours, theirs = _carried(original, prefix), _carried(copy, prefix)
        if prefix == "oai_datacite" and not original.get("creators"):
            theirs["creators"] = []  # DataCite requires a creator: the publisher stands in
        if prefix == "oai_datacite" and original.get("issued") is None:
            theirs["issued"] = None  # ... and a publication year
        assert theirs == ours, stored.guid


def test_a_withdrawn_record_is_reported_deleted_and_withdrawn_downstream(
    served: Served, second: HarvestService, second_store: Store
) -> None:
    second.add_source("oaipmh", served.url + "/oai", name="peer", options={"attempts": 2, "backoff": 0.01})
    second.run("peer")
    victim = next(s for s in served.ctx.store.iter_all() if s.guid != served.rich_guid)
    served.ctx.store.tombstone(victim.guid, reason="test withdrawal", actor="test")
    try:
        header = _sickle(served).GetRecord(identifier=oai_identifier(victim.guid), metadataPrefix="oai_dc").header
        run = second.run("peer", full=False)
    finally:
        served.ctx.store.save(victim.dataset, actor="test", activity="restore")
    assert header.deleted is True
    assert run.withdrawn == 1
    assert sum(1 for s in second_store.iter_all(include_tombstones=True) if s.is_tombstone) == 1


def test_the_harvesters_record_digest_does_not_depend_on_registered_xml_prefixes() -> None:
    from harvesters.oaipmh import _digest

    xml = (
        '<metadata xmlns="http://www.openarchives.org/OAI/2.0/"><dc xmlns="http://www.openarchives.org/OAI/2.0/oai_dc/">'
        '<title xmlns="http://purl.org/dc/elements/1.1/" xml:lang="en">Lung CT</title></dc></metadata>'
    )
    before = _digest(ET.fromstring(xml))
    ET.register_namespace("someprefix", "http://purl.org/dc/elements/1.1/")
    try:
        assert _digest(ET.fromstring(xml)) == before
        assert _digest(ET.fromstring(xml.replace("Lung CT", "Brain MR"))) != before
    finally:
        ET.register_namespace("dc", "http://purl.org/dc/elements/1.1/")
