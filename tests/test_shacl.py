"""Our own DCAT output conforms to the DCAT-AP 3 and HealthDCAT-AP R8 shapes; bad input is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.cli import app
from catalog.dcat import Paging, catalog_graph, dataset_graph, serialise_dataset
from catalog.samples import sample_datasets
from harvesters.dcat_parse import load_graph, parse_graph
from harvesters.quality import quality_notes, validate_dataset, validate_graph
from tests.rdf_examples import conformant_dataset, rich_catalog

BASE = "https://fairgate.example.org"
HEALTH_LEVEL_MESSAGE = "A RESTRICTED or NON_PUBLIC dataset needs"


@pytest.mark.parametrize("access", ["PUBLIC", "RESTRICTED", "NON_PUBLIC"])
def test_a_rich_dataset_conforms_to_dcat_ap_3_and_healthdcat_ap(access: str) -> None:
    assert validate_graph(dataset_graph(conformant_dataset(access), base_url=BASE)) == []


def test_a_paged_catalog_of_datasets_conforms() -> None:
    datasets = [conformant_dataset(a, n) for n, a in enumerate(["PUBLIC", "RESTRICTED", "NON_PUBLIC"], 1)]
    g = catalog_graph(rich_catalog(), datasets, BASE, Paging(f"{BASE}/catalog.ttl", 1, 3, 7))
    assert validate_graph(g) == []


def test_every_sample_dataset_conforms_to_dcat_ap_3_and_healthdcat_ap() -> None:
    for ds in sample_datasets():
        assert validate_graph(dataset_graph(ds.model_copy(update={"guid": "dg.TW01/x"}), base_url=BASE)) == [], (
            ds.identifier
        )


@pytest.mark.parametrize("access", ["RESTRICTED", "NON_PUBLIC"])
def test_restricted_and_non_public_datasets_need_a_contact_point(access: str) -> None:
    ds = conformant_dataset(access).model_copy(update={"contact_points": []})
    messages = [v.message for v in validate_graph(dataset_graph(ds, base_url=BASE))]
    assert any(m.startswith(HEALTH_LEVEL_MESSAGE) for m in messages)


def test_a_public_dataset_needs_no_contact_point() -> None:
    ds = conformant_dataset("PUBLIC").model_copy(update={"contact_points": []})
    assert validate_graph(dataset_graph(ds, base_url=BASE)) == []


def test_a_dataset_without_description_violates_dcat_ap_3_with_focus_and_path() -> None:
    ds = conformant_dataset("PUBLIC").model_copy(update={"description": {}})
    found = validate_graph(dataset_graph(ds, base_url=BASE), ["dcat-ap-3"])
    assert [(v.focus, v.path, v.severity) for v in found] == [
        (f"{BASE}/guid/{ds.guid}", "dct:description", "violation")
    ]


def test_code_values_as_iris_break_the_release_8_rule() -> None:
    ttl = serialise_dataset(conformant_dataset("PUBLIC"), "turtle", base_url=BASE)
    g = load_graph(ttl, "turtle")
    g.parse(
        data=f"<{BASE}/guid/{conformant_dataset('PUBLIC').guid}> "
        "<http://healthdataportal.eu/ns/health#hasCodeValues> <https://icd.example/X> .",
        format="turtle",
    )
    found = validate_graph(g, ["healthdcat-ap-r8"])
    assert [v.path for v in found] == ["healthdcatap:hasCodeValues"]


def test_a_blank_node_focus_says_how_it_is_reached() -> None:
    ds = conformant_dataset("PUBLIC")
    publisher = ds.publisher.model_copy(update={"iri": None, "email": None, "homepage": None})  # type: ignore[union-attr]
    found = validate_graph(dataset_graph(ds.model_copy(update={"publisher": publisher}), base_url=BASE))
    assert any(v.focus == f"[] ← {BASE}/guid/{ds.guid} dct:publisher" for v in found)


def test_one_dataset_of_a_document_is_judged_on_its_own_subgraph() -> None:
    good = conformant_dataset("PUBLIC", 1)
    bad = conformant_dataset("PUBLIC", 2).model_copy(update={"description": {}})
    g = catalog_graph(rich_catalog(), [good, bad], BASE)
    doc = parse_graph(g)
    nodes = {r.subject: r for r in doc.records}
    good_iri, bad_iri = f"{BASE}/guid/{good.guid}", f"{BASE}/guid/{bad.guid}"
    assert set(nodes) == {good_iri, bad_iri}
    from rdflib import URIRef

    assert validate_dataset(g, URIRef(good_iri)) == []
    notes = quality_notes(validate_dataset(g, URIRef(bad_iri)))
    assert [(n.path, n.focus) for n in notes] == [("dct:description", bad_iri)]


# -- fairgate validate FILE ---------------------------------------------------------------

runner = CliRunner()


def test_validate_command_accepts_our_own_output(tmp_path: Path) -> None:
    f = tmp_path / "ds.ttl"
    f.write_text(serialise_dataset(conformant_dataset("NON_PUBLIC"), "turtle", base_url=BASE), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(f)])
    assert result.exit_code == 0, result.output
    assert "conforms" in result.output


def test_validate_command_lists_violations_and_exits_1(tmp_path: Path) -> None:
    ds = conformant_dataset("PUBLIC").model_copy(update={"description": {}})
    f = tmp_path / "ds.jsonld"
    f.write_text(serialise_dataset(ds, "json-ld", base_url=BASE), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(f)], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert f"{BASE}/guid/{ds.guid}" in result.output
    assert "dct:description" in result.output
    assert "Less than 1 values" in result.output


def test_validate_command_reports_the_line_of_a_syntax_error_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "broken.ttl"
    f.write_text('@prefix dct: <http://purl.org/dc/terms/> .\n<a> dct:title "x" ;\n  dct:oops  .\n')
    result = runner.invoke(app, ["validate", str(f)], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "line 3" in result.output
