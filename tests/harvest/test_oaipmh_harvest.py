"""OAI-PMH harvesting from a real repository server on 127.0.0.1: resumption tokens, from, deletions, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from catalog.harvest import HarvestService
from catalog.store import Store, StoreError
from catalog.tables import RevisionRow
from harvesters.oaipmh import parse_xml
from tests.harvest.servers import serve

FAST = {"attempts": 2, "backoff": 0.01}
OAI_NS = "http://www.openarchives.org/OAI/2.0/"


def _dc(n: int, title: str | None) -> str:
    titles = (
        f'<dc:title xml:lang="zh-TW">影像資料集 {n}</dc:title><dc:title xml:lang="en">{title}</dc:title>'
        if title
        else ""
    )
    return (
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"{titles}"
        f'<dc:description xml:lang="en">Chest radiographs, set {n}.</dc:description>'
        '<dc:subject xml:lang="en">radiology</dc:subject><dc:subject>胸腔</dc:subject>'
        "<dc:creator>Lin, Mei-Ling</dc:creator>"
        "<dc:publisher>National Taiwan University Hospital</dc:publisher>"
        "<dc:date>2019-09-30</dc:date>"
        f"<dc:identifier>https://doi.org/10.5072/ntuh.{n}</dc:identifier>"
        f"<dc:identifier>https://repo.example.org/record/{n}</dc:identifier>"
        "<dc:language>zho</dc:language>"
        "<dc:rights>info:eu-repo/semantics/openAccess</dc:rights>"
        "<dc:rights>https://creativecommons.org/licenses/by/4.0/</dc:rights>"
        "<dc:coverage>2015-01-01/2018-12-31</dc:coverage><dc:coverage>Taipei</dc:coverage>"
        "<dc:type>Dataset</dc:type>"
        "</oai_dc:dc>"
    )


DATACITE = """<oai_datacite xmlns="http://schema.datacite.org/oai/oai-1.1/"><payload>
<resource xmlns="http://datacite.org/schema/kernel-4">
  <identifier identifierType="DOI">10.5072/TVGH.BRAIN</identifier>
  <creators><creator><creatorName>Chen, Wei</creatorName>
    <nameIdentifier nameIdentifierScheme="ORCID">0000-0002-1825-0097</nameIdentifier>
    <affiliation>Taipei Veterans General Hospital</affiliation></creator></creators>
  <titles><title xml:lang="en">Brain MRI with tumour annotations</title>
    <title titleType="Subtitle" xml:lang="en">Pilot release</title></titles>
  <publisher>Taipei Veterans General Hospital</publisher>
  <publicationYear>2020</publicationYear>
  <subjects><subject xml:lang="en" subjectScheme="MeSH"
    valueURI="http://id.nlm.nih.gov/mesh/D001932">Brain Neoplasms</subject></subjects>
  <dates><date dateType="Issued">2020-02-01</date><date dateType="Collected">2016-01-01/2019-06-30</date></dates>
  <language>en</language>
  <resourceType resourceTypeGeneral="Dataset">MRI series</resourceType>
  <relatedIdentifiers><relatedIdentifier relatedIdentifierType="DOI"
    relationType="IsCitedBy">10.5072/paper.1</relatedIdentifier></relatedIdentifiers>
  <version>1.1</version>
  <rightsList><rights rightsURI="https://creativecommons.org/licenses/by-nc/4.0/">CC BY-NC 4.0</rights>
    <rights rightsURI="info:eu-repo/semantics/restrictedAccess"/></rightsList>
  <descriptions><description descriptionType="Abstract" xml:lang="en">T1/T2 MRI of 300 cases.</description>
    <description descriptionType="Methods" xml:lang="en">Annotated by two neuroradiologists.</description>
  </descriptions>
  <geoLocations><geoLocation><geoLocationPlace>Taipei</geoLocationPlace></geoLocation></geoLocations>
</resource></payload></oai_datacite>"""


@dataclass
class Rec:
    identifier: str
    datestamp: str
    metadata: dict[str, str] = field(default_factory=dict)  # prefix -> payload XML
    deleted: bool = False


@dataclass
class OaiServer:
    """ListRecords with ``from``, resumption tokens of ``page_size`` records and OAI errors.

    ``expire_tokens`` makes every resumption token answer ``badResumptionToken``.
    """

    records: list[Rec]
    page_size: int = 3
    expire_tokens: bool = False
    body: bytes | None = None  # when set, answered verbatim (broken responses)
    requests: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        self.requests.append(query)
        if self.body is not None:
            return 200, "text/xml", self.body
        if query.get("verb") != "ListRecords":
            return 200, "text/xml", self._error("badVerb", "only ListRecords here")
        if "resumptionToken" in query:
            if self.expire_tokens:
                return 200, "text/xml", self._error("badResumptionToken", "the token has expired")
            prefix, low, offset = query["resumptionToken"].split("|")
        else:
            prefix, low, offset = query.get("metadataPrefix", ""), query.get("from", ""), "0"
        found = [r for r in self.records if (prefix in r.metadata or r.deleted) and r.datestamp[:10] >= low]
        if prefix not in ("oai_dc", "oai_datacite"):
            return 200, "text/xml", self._error("cannotDisseminateFormat", f"no {prefix}")
        if not found:
            return 200, "text/xml", self._error("noRecordsMatch", "nothing")
        start = int(offset)
        page = found[start : start + self.page_size]
        parts = [self._record(r, prefix) for r in page]
        if start + self.page_size < len(found):
            token = f"{prefix}|{low}|{start + self.page_size}"
            parts.append(f'<resumptionToken completeListSize="{len(found)}" cursor="{start}">{token}</resumptionToken>')
        elif start:
            parts.append(f'<resumptionToken completeListSize="{len(found)}" cursor="{start}"/>')
        return 200, "text/xml", self._envelope(f"<ListRecords>{''.join(parts)}</ListRecords>")

    @staticmethod
    def _record(r: Rec, prefix: str) -> str:
        status = ' status="deleted"' if r.deleted else ""
        header = f"<header{status}><identifier>{r.identifier}</identifier><datestamp>{r.datestamp}</datestamp></header>"
        if r.deleted:
            return f"<record>{header}</record>"
        return f"<record>{header}<metadata>{r.metadata[prefix]}</metadata></record>"

    def _error(self, code: str, message: str) -> bytes:
        return self._envelope(f'<error code="{code}">{message}</error>')

    @staticmethod
    def _envelope(inner: str) -> bytes:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI_NS}">'
            f"<responseDate>2024-01-01T00:00:00Z</responseDate><request>http://x/oai</request>{inner}</OAI-PMH>"
        ).encode()


def _repository() -> list[Rec]:
    recs = [
        Rec(f"oai:repo.example.org:{n}", f"2020-01-0{n}", {"oai_dc": _dc(n, f"Chest X-ray set {n}")})
        for n in range(1, 7)
    ]
    recs.insert(3, Rec("oai:repo.example.org:bad", "2020-01-04", {"oai_dc": _dc(99, None)}))
    return recs


def _revisions(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(RevisionRow)) or 0)


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_three_pages_follow_resumption_tokens_and_a_malformed_record_fails_alone(
    service: HarvestService, store: Store
) -> None:
    server = OaiServer(_repository())
    with serve(server) as url:
        info = service.add_source("oaipmh", f"{url}/oai", name="repo", options=FAST)
        run = service.run("repo")
    assert (run.status, run.added, run.failed) == ("succeeded", 6, 1)
    assert [("resumptionToken" in q) for q in server.requests] == [False, True, True]
    [error] = service.errors(name="repo")
    assert (error.upstream_id, error.stage) == ("oai:repo.example.org:bad", "validate") and "title" in error.reason
    ds = store.get(store.derive_guid(info.guid, "oai:repo.example.org:2")).dataset
    assert ds.title == {"zh-Hant": "影像資料集 2", "en": "Chest X-ray set 2"}
    assert ds.keywords == {"en": ["radiology"], "zh-Hant": ["胸腔"]}
    assert ds.identifier == ds.iri == "https://doi.org/10.5072/ntuh.2"
    assert ds.landing_page == "https://doi.org/10.5072/ntuh.2"
    assert ds.language == ["ZHO"] and ds.access_rights == "PUBLIC"
    assert ds.license is not None and ds.license.iri == "https://creativecommons.org/licenses/by/4.0/"
    assert [(p.start, p.end) for p in ds.temporal] == [(date(2015, 1, 1), date(2018, 12, 31))]
    assert ds.spatial == ["Taipei"] and ds.issued == date(2019, 9, 30)
    assert ds.creators[0].name == {"en": "Lin, Mei-Ling"} and ds.extras["type"] == ["Dataset"]


def test_incremental_run_sends_from_as_a_day_and_takes_only_changed_records(
    service: HarvestService, store: Store
) -> None:
    records = _repository()
    server = OaiServer(records)
    with serve(server) as url:
        info = service.add_source("oaipmh", f"{url}/oai", name="repo", options=FAST)
        service.run("repo")
        records[0].datestamp = _today()
        records[0].metadata["oai_dc"] = _dc(1, "Chest X-ray set 1, second edition")
        server.requests.clear()
        run = service.run("repo", full=False)
    assert (run.mode, run.status, run.added, run.updated, run.failed) == ("incremental", "succeeded", 0, 1, 0)
    sent = server.requests[0]["from"]
    assert sent in (_today(), (datetime.now(UTC) - timedelta(days=1)).date().isoformat())
    ds = store.get(store.derive_guid(info.guid, "oai:repo.example.org:1")).dataset
    assert ds.title["en"] == "Chest X-ray set 1, second edition"


def test_no_records_match_is_an_empty_listing_not_a_failure(service: HarvestService, store: Store) -> None:
    server = OaiServer(_repository())
    with serve(server) as url:
        service.add_source("oaipmh", f"{url}/oai", name="repo", options=FAST)
        service.run("repo")
        run = service.run("repo", full=False)  # nothing has a datestamp since the last run
    assert (run.status, run.added, run.updated, run.unchanged, run.withdrawn) == ("succeeded", 0, 0, 0, 0)
    assert len(store.guids_of_source(service.source("repo").guid)) == 6


def test_a_record_deleted_upstream_is_withdrawn_even_by_an_incremental_run(
    service: HarvestService, store: Store
) -> None:
    records = _repository()
    server = OaiServer(records)
    with serve(server) as url:
        info = service.add_source("oaipmh", f"{url}/oai", name="repo", options=FAST)
        service.run("repo")
        records[1] = Rec(records[1].identifier, _today(), deleted=True)
        run = service.run("repo", full=False)
        full = service.run("repo")
    assert (run.status, run.withdrawn) == ("succeeded", 1)
    gone = store.get(store.derive_guid(info.guid, "oai:repo.example.org:2"))
    assert gone.is_tombstone and gone.tombstone_reason == "withdrawn at source"
    assert (full.withdrawn, full.unchanged) == (0, 5)


def test_a_bad_resumption_token_fails_the_run_with_its_reason_and_changes_nothing(
    service: HarvestService, store: Store
) -> None:
    records = _repository()
    server = OaiServer(records)
    with serve(server) as url:
        info = service.add_source("oaipmh", f"{url}/oai", name="repo", options=FAST)
        service.run("repo")
        before = {u: store.get(g).revision for u, g in store.guids_of_source(info.guid).items()}
        revisions = _revisions(store)
        del records[4:]  # would be withdrawn by a complete full run
        server.expire_tokens = True
        run = service.run("repo")
    assert (run.status, run.withdrawn) == ("failed", 0)
    assert "badResumptionToken" in (run.reason or "") and "the token has expired" in (run.reason or "")
    assert {u: store.get(g).revision for u, g in store.guids_of_source(info.guid).items()} == before
    assert _revisions(store) == revisions


def test_oai_datacite_records_are_mapped_from_the_datacite_kernel(service: HarvestService, store: Store) -> None:
    server = OaiServer([Rec("oai:repo.example.org:brain", "2020-02-01", {"oai_datacite": DATACITE})])
    with serve(server) as url:
        info = service.add_source(
            "oaipmh", f"{url}/oai", name="dc", options={**FAST, "metadata_prefix": "oai_datacite"}
        )
        run = service.run("dc")
    assert (run.added, run.failed) == (1, 0)
    assert server.requests[0]["metadataPrefix"] == "oai_datacite"
    ds = store.get(store.derive_guid(info.guid, "oai:repo.example.org:brain")).dataset
    assert (
        ds.title == {"en": "Brain MRI with tumour annotations"}
        and ds.identifier == "https://doi.org/10.5072/TVGH.BRAIN"
    )
    assert [(a.name, a.iri) for a in ds.creators] == [({"en": "Chen, Wei"}, "https://orcid.org/0000-0002-1825-0097")]
    assert ds.keywords == {"en": ["Brain Neoplasms"]} and ds.themes == ["http://id.nlm.nih.gov/mesh/D001932"]
    assert ds.issued == date(2020, 2, 1) and ds.version == "1.1" and ds.access_rights == "RESTRICTED"
    assert ds.license is not None and ds.license.iri == "https://creativecommons.org/licenses/by-nc/4.0/"
    assert [(p.start, p.end) for p in ds.temporal] == [(date(2016, 1, 1), date(2019, 6, 30))]
    assert ds.description == {"en": "T1/T2 MRI of 300 cases."}
    assert ds.provenance == {"en": "Annotated by two neuroradiologists."}
    assert ds.is_referenced_by == ["https://doi.org/10.5072/paper.1"] and ds.spatial == ["Taipei"]


def test_a_response_with_a_doctype_is_refused_so_no_entity_is_expanded(service: HarvestService) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    with pytest.raises(ET.ParseError, match="DOCTYPE"):
        parse_xml(bomb)
    server = OaiServer([], body=bomb)
    with serve(server) as url:
        service.add_source("oaipmh", f"{url}/oai", name="evil", options=FAST)
        run = service.run("evil")
    assert run.status == "failed" and "DOCTYPE" in (run.reason or "")


def test_an_unsupported_metadata_prefix_is_refused_when_the_source_is_added(service: HarvestService) -> None:
    with pytest.raises(StoreError, match="oai_datacite"):
        service.add_source("oaipmh", "http://127.0.0.1:9/oai", name="x", options={"metadata_prefix": "marc21"})
