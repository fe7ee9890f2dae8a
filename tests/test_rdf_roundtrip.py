"""Model -> RDF -> model is lossless in Turtle, JSON-LD and RDF/XML (catalog.dcat + harvesters.dcat_parse)."""

from __future__ import annotations

import json

import pytest

from catalog.dcat import Paging, dataset_to_schemaorg, serialise_catalog, serialise_dataset
from harvesters.dcat_parse import UNTAGGED, parse_document
from schemas import Dataset, ImagingInfo
from tests.rdf_examples import rich_catalog, rich_dataset

FORMATS = ["turtle", "json-ld", "xml"]
BASE = "https://fairgate.example.org"


def _round_trip(ds: Dataset, fmt: str) -> Dataset:
    doc = parse_document(serialise_dataset(ds, fmt, base_url=BASE), fmt)
    assert [r.error for r in doc.records] == [None]
    return doc.datasets[0]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("access", ["PUBLIC", "RESTRICTED", "NON_PUBLIC"])
def test_every_field_of_a_rich_dataset_survives_the_round_trip(fmt: str, access: str) -> None:
    ds = rich_dataset(access)
    assert _round_trip(ds, fmt).model_dump() == ds.model_dump()


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_order_is_kept_even_when_not_sorted(fmt: str) -> None:
    ds = rich_dataset(
        keywords={"en": ["zeta", "alpha", "mid"]},
        themes=[
            "http://publications.europa.eu/resource/authority/data-theme/TECH",
            "http://publications.europa.eu/resource/authority/data-theme/HEAL",
        ],
    )
    back = _round_trip(ds, fmt)
    assert back.keywords == {"en": ["zeta", "alpha", "mid"]}
    assert back.themes == ds.themes
    assert [a.name for a in back.creators] == [a.name for a in ds.creators]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_minimal_dataset_without_guid_keeps_its_upstream_iri_as_subject(fmt: str) -> None:
    ds = Dataset(iri="https://upstream.example.org/ds/7", title={"en": "Seven"})
    back = _round_trip(ds, fmt)
    assert back.model_dump() == ds.model_dump()
    assert back.guid is None and back.iri == "https://upstream.example.org/ds/7"


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_imaging_block_is_not_confused_with_no_imaging_block(fmt: str) -> None:
    with_empty = rich_dataset(imaging=ImagingInfo())
    without = rich_dataset(imaging=None)
    assert _round_trip(with_empty, fmt).imaging == ImagingInfo()
    assert _round_trip(without, fmt).imaging is None


def test_dataset_iri_is_base_url_guid_path() -> None:
    ds = rich_dataset()
    ttl = serialise_dataset(ds, "turtle", base_url=BASE)
    assert f"<{BASE}/guid/{ds.guid}>" in ttl
    # the upstream IRI is kept beside our own
    assert f"owl:sameAs <{ds.iri}>" in ttl


def test_untagged_text_is_read_as_und_and_written_back_untagged() -> None:
    ttl = """@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    <https://x.org/d> a dcat:Dataset ; dct:title "Plain title", "標題"@zh-Hant ."""
    ds = parse_document(ttl, "turtle").datasets[0]
    assert ds.title == {UNTAGGED: "Plain title", "zh-Hant": "標題"}
    out = serialise_dataset(ds, "turtle", base_url=BASE)
    assert '"Plain title" ' in out or '"Plain title"\n' in out or '"Plain title",' in out


@pytest.mark.parametrize("prop", ["trustedDataHolder", "trusteddataholder"])
def test_both_casings_of_trusted_data_holder_are_read(prop: str) -> None:
    ttl = f"""@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    @prefix h: <http://healthdataportal.eu/ns/health#> .
    <https://x.org/d> a dcat:Dataset ; dct:title "T"@en ; h:{prop} true ."""
    ds = parse_document(ttl, "turtle").datasets[0]
    assert ds.health.trusted_data_holder is True
    assert ds.extras == {}


def test_unknown_properties_are_kept_in_extras_and_written_back() -> None:
    ttl = """@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    <https://x.org/d> a dcat:Dataset ; dct:title "T"@en ; <https://x.org/p> "v"@en, <https://x.org/o> ;
      <https://x.org/q> [ <https://x.org/r> "deep" ] ."""
    ds = parse_document(ttl, "turtle").datasets[0]
    assert ds.extras["https://x.org/p"] == [{"@value": "v", "@language": "en"}, {"@id": "https://x.org/o"}]
    assert ds.extras["https://x.org/q"] == [{"https://x.org/r": [{"@value": "deep"}]}]
    for fmt in FORMATS:
        assert _round_trip(ds, fmt).extras == ds.extras


def test_a_vocabulary_value_we_do_not_know_stays_in_extras_instead_of_failing_the_record() -> None:
    ttl = """@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    <https://x.org/d> a dcat:Dataset ; dct:title "T"@en ;
      dct:accessRights <https://x.org/rights/SOMETIMES> ."""
    ds = parse_document(ttl, "turtle").datasets[0]
    assert ds.access_rights is None
    assert ds.extras["http://purl.org/dc/terms/accessRights"] == [{"@id": "https://x.org/rights/SOMETIMES"}]


def test_a_dataset_without_title_fails_alone() -> None:
    ttl = """@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    <https://x.org/a> a dcat:Dataset ; dct:title "A"@en .
    <https://x.org/b> a dcat:Dataset ; dct:description "no title"@en ."""
    doc = parse_document(ttl, "turtle")
    assert [r.subject for r in doc.records] == ["https://x.org/a", "https://x.org/b"]
    assert doc.records[0].dataset is not None
    assert doc.records[1].dataset is None and "dct:title" in (doc.records[1].error or "")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_catalog_with_its_datasets_round_trips(fmt: str) -> None:
    cat = rich_catalog()
    datasets = [rich_dataset(a, n) for n, a in enumerate(["PUBLIC", "RESTRICTED", "NON_PUBLIC"], start=1)]
    doc = parse_document(serialise_catalog(cat, datasets, fmt, base_url=BASE), fmt)
    assert [c.model_dump() for c in doc.catalogs] == [cat.model_dump()]
    assert [d.model_dump() for d in doc.datasets] == [d.model_dump() for d in datasets]
    assert {r.catalog for r in doc.records} == {cat.iri}


@pytest.mark.parametrize(("page", "has_next", "has_previous"), [(1, True, False), (2, True, True), (3, False, True)])
def test_catalog_pages_link_next_and_previous(page: int, has_next: bool, has_previous: bool) -> None:
    paging = Paging(url=f"{BASE}/catalog.ttl", page=page, per_page=2, total=5)
    ttl = serialise_catalog(rich_catalog(), [rich_dataset()], "turtle", base_url=BASE, paging=paging)
    assert "hydra:PartialCollectionView" in ttl
    assert (f"hydra:next <{BASE}/catalog.ttl?page={page + 1}>" in ttl) is has_next
    assert (f"hydra:previous <{BASE}/catalog.ttl?page={page - 1}>" in ttl) is has_previous
    assert f"hydra:last <{BASE}/catalog.ttl?page=3>" in ttl
    doc = parse_document(ttl, "turtle")
    assert doc.next_page == (f"{BASE}/catalog.ttl?page={page + 1}" if has_next else None)


def test_json_ld_is_compacted_with_the_published_context() -> None:
    doc = json.loads(serialise_dataset(rich_dataset(), "json-ld", base_url=BASE))
    assert doc["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    text = json.dumps(doc)
    assert "http://www.w3.org/ns/dcat#keyword" not in text  # compacted, not expanded


def test_schema_org_view_names_the_dataset_and_its_page() -> None:
    ds = rich_dataset()
    so = dataset_to_schemaorg(ds, base_url=BASE, lang="zh-Hant")
    assert so["@type"] == "Dataset"
    assert so["name"] == ds.title["zh-Hant"]
    assert so["url"] == f"{BASE}/guid/{ds.guid}"
    assert so["isAccessibleForFree"] is False
    assert so["license"] == ds.license.iri if ds.license else False
    json.dumps(so)  # must be embeddable as-is


def test_every_sample_dataset_round_trips_in_every_format() -> None:
    samples = pytest.importorskip("catalog.samples")
    datasets = samples.sample_datasets()
    assert len(datasets) == 25
    for fmt in FORMATS:
        doc = parse_document(serialise_catalog(rich_catalog(), datasets, fmt, base_url=BASE), fmt)
        assert [d.model_dump() for d in doc.datasets] == [d.model_dump() for d in datasets], fmt
