"""The CKAN package → Dataset mapping, on the real-world fixtures (ckanext-dcat examples, depositar)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from harvesters.ckan import package_to_dataset


def _depositar(shared_fixtures: Path) -> list[dict[str, Any]]:
    path = shared_fixtures / "ckan" / "depositar_packages_300.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _fixture(shared_fixtures: Path, name: str) -> dict[str, Any]:
    data = json.loads((shared_fixtures / "ckan" / name).read_text(encoding="utf-8"))
    return data[0] if isinstance(data, list) else data


def test_every_depositar_package_maps_to_a_dataset_with_all_its_resources(shared_fixtures: Path) -> None:
    packages = _depositar(shared_fixtures)
    assert len(packages) == 300
    for pkg in packages:
        ds = package_to_dataset(pkg, "https://data.depositar.io")
        assert ds.title, pkg["id"]
        assert ds.identifier == pkg["id"]
        assert len(ds.distributions) == len(pkg["resources"])


def test_han_text_is_tagged_zh_hant_and_latin_text_en(shared_fixtures: Path) -> None:
    by_id = {p["id"]: p for p in _depositar(shared_fixtures)}
    ds = package_to_dataset(by_id["6a62e8d0-fad3-41fc-9bd0-c21f83268cc1"])
    assert ds.title == {"zh-Hant": "2023 GIS中心：南山公墓相關資料"}
    assert ds.keywords == {"zh-Hant": ["2023暑期實習"]}
    english = package_to_dataset({"id": "x", "title": "Lung CT", "language": ["eng", "zho"]})
    assert english.title == {"en": "Lung CT"}


def test_latin_text_of_a_chinese_only_package_is_tagged_zh_hant() -> None:
    ds = package_to_dataset({"id": "x", "title": "GIS 2023", "language": ["zho"]})
    assert ds.title == {"zh-Hant": "GIS 2023"}


def test_depositar_package_maps_publisher_licence_temporal_and_resources(shared_fixtures: Path) -> None:
    by_id = {p["id"]: p for p in _depositar(shared_fixtures)}
    ds = package_to_dataset(by_id["9b608d30-fe88-4293-a679-71d9c6bcb34f"], "https://data.depositar.io")
    assert ds.publisher is not None
    assert ds.publisher.name["zh-Hant"].startswith("環境變遷下雲林口湖")
    assert ds.license is not None and ds.license.iri == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert ds.language == ["ZHO", "ENG"]
    assert ds.temporal[0].start is not None and str(ds.temporal[0].start) == "2023-01-01"
    assert ds.contact_points[0].email == "masumi.huang@gmail.com"
    assert "http://www.wikidata.org/entity/Q13226383" in ds.themes
    dist = ds.distributions[0]
    assert dist.format == "PDF" and dist.media_type == "application/pdf" and dist.byte_size == 1960147
    assert dist.download_url is not None and dist.download_url.startswith("https://data.depositar.io/")
    assert ds.extras["data_type"] == [
        "archive",
        "doc",
        "image",
        "multimedia",
        "network",
        "structured",
        "text",
    ]
    assert ds.access_rights == "PUBLIC"


def test_licence_id_maps_to_licence_iri_when_no_url_is_given() -> None:
    ds = package_to_dataset({"id": "x", "title": "t", "license_id": "cc-by-nc-sa"})
    assert ds.license is not None
    assert ds.license.iri == "https://creativecommons.org/licenses/by-nc-sa/4.0/"


def test_unmapped_fields_and_extras_are_kept(shared_fixtures: Path) -> None:
    ds = package_to_dataset(_fixture(shared_fixtures, "ckan_full_dataset_dcat_ap.json"))
    assert ds.extras["temporal_resolution"] == "PT15M"
    assert ds.extras["access_rights"] == "Statement about access rights"
    assert ds.extras["conforms_to"] == ["Standard 1", "Standard 2"]
    assert "spatial_geometry" in ds.extras
    legacy = package_to_dataset({"id": "x", "title": "t", "extras": [{"key": "odd_field", "value": "42"}]})
    assert legacy.extras == {"odd_field": "42"}


def test_full_dcat_ap_package_maps_agents_distribution_checksum_and_frequency(shared_fixtures: Path) -> None:
    ds = package_to_dataset(_fixture(shared_fixtures, "ckan_full_dataset_dcat_ap.json"))
    assert ds.publisher is not None and ds.publisher.email == "publisher@example.org"
    assert [c.email for c in ds.contact_points] == ["contact1@example.org", "contact2@example.org"]
    assert ds.frequency == "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
    assert ds.language == ["ENG", "CAT", "SPA"]
    assert [str(p.start) for p in ds.temporal] == ["1905-03-01", "2024-04-10"]
    dist = ds.distributions[0]
    assert dist.checksum is not None and dist.checksum.algorithm == "sha1"
    assert dist.byte_size == 12323 and dist.format == "CSV"


def test_translated_fields_keep_their_languages(shared_fixtures: Path) -> None:
    ds = package_to_dataset(_fixture(shared_fixtures, "ckan_dataset_multilingual.json"))
    assert ds.title["es"] == "Conjunto de datos de prueba DCAT"
    assert ds.keywords["ca"] == ["Roures", "Pins"]
    assert ds.distributions[0].title["ca"] == "Recurs 1"


def test_legacy_extras_map_publisher_creator_and_languages(shared_fixtures: Path) -> None:
    ds = package_to_dataset(_fixture(shared_fixtures, "ckan_dataset.json"))
    assert ds.publisher is not None and ds.publisher.name == {"en": "Geological Society"}
    assert ds.creators[0].email == "johndoe@example.com"
    assert ds.identifier == "9df8df51-63db-37a8-e044-0003ba9b0d98"
    assert ds.language == ["ENG", "SPA", "CAT"]


def test_health_dcat_ap_package_maps_health_properties(shared_fixtures: Path) -> None:
    ds = package_to_dataset(_fixture(shared_fixtures, "health_dcat_ap.json"))
    assert ds.access_rights == "NON_PUBLIC"
    assert ds.health.number_of_records == 123456789
    assert ds.health.max_typical_age == 110
    assert ds.health.hdab is not None and ds.health.hdab.email == "hdab@example.com"
    assert ds.health.legal_bases == ["https://w3id.org/dpv#Consent"]
    assert ds.sample == ["http://example.com/sample"]


def test_unusable_value_becomes_a_quality_note_not_a_failure() -> None:
    ds = package_to_dataset(
        {"id": "x", "title": "t", "temporal_coverage": [{"start": "2024-05-01", "end": "2020-01-01"}]}
    )
    assert ds.temporal == []
    assert any(n.path == "temporal" for n in ds.quality_notes)


def test_package_without_title_cannot_be_mapped() -> None:
    with pytest.raises(ValidationError, match="title"):
        package_to_dataset({"id": "x", "notes": "no title here"})
