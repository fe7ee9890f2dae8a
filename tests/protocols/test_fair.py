"""The FAIR self-assessment: plain rules on records, then the JSON, the dataset page section and
the stewards' report served over HTTP."""

from __future__ import annotations

import httpx

from catalog.fair.assess import assess, catalog_report
from schemas import Dataset
from tests.protocols.conftest import RICH, Served

PRINCIPLES = ["F1", "F2", "F3", "F4", "A1", "A2", "I1", "I2", "I3", "R1", "R1.1", "R1.2", "R1.3"]


def _bare() -> Dataset:
    return Dataset.model_validate({"title": {"en": "Only a title"}})


def test_every_principle_is_scored_under_its_fuji_metric_ids() -> None:
    a = assess(_bare(), "dg.TW01/x")
    assert list(a.principle_scores()) == PRINCIPLES
    assert all(m.id.startswith(f"FsF-{m.principle}-") for m in a.metrics)


def test_a_bare_record_scores_low_and_is_told_what_to_fix_in_both_languages() -> None:
    a = assess(_bare(), "dg.TW01/x")
    fixes = a.fixes()
    assert a.percent < 50
    assert any("licence" in f["en"] for f in fixes)
    assert all(f["zh-Hant"] and f["en"] for f in fixes)


def test_the_rich_record_passes_every_record_level_check() -> None:
    a = assess(Dataset.model_validate(RICH), "dg.TW01/x")
    assert a.fixes() == []
    assert a.percent == 100


def test_giving_a_recognised_licence_fills_r1_1() -> None:
    bare = _bare()
    before = assess(bare, "g").principle_scores()["R1.1"]
    licensed = bare.model_copy(update={"license": {"iri": "https://creativecommons.org/licenses/by/4.0/"}})
    after = assess(Dataset.model_validate(licensed.model_dump()), "g").principle_scores()["R1.1"]
    assert (before, after) == ({"score": 0, "max": 2}, {"score": 2, "max": 2})


def test_an_unrecognised_licence_earns_half_of_r1_1() -> None:
    ds = Dataset.model_validate({"title": {"en": "x"}, "license": {"iri": "https://example.org/my-terms"}})
    assert assess(ds, "g").principle_scores()["R1.1"] == {"score": 1, "max": 2}


def test_the_catalog_report_counts_records_passing_each_metric() -> None:
    report = catalog_report([assess(_bare(), "a"), assess(Dataset.model_validate(RICH), "b")])
    licence = next(m for m in report["metrics"] if m["id"] == "FsF-R1.1-01M")
    assert report["records"] == 2 and licence["passed"] == 1
    assert report["weakest"][0]["guid"] == "a"
    assert report["top_fixes"][0]["records"] == 1


def test_the_api_page_and_report_are_served(served: Served) -> None:
    one = httpx.get(f"{served.url}/api/datasets/{served.rich_guid}/fair").json()
    assert one["percent"] == 100 and [m["principle"] for m in one["metrics"]][:2] == ["F1", "F1"]
    whole = httpx.get(f"{served.url}/api/fair").json()
    assert whole["records"] == 26
    for lang, heading in (("en", "FAIR self-assessment"), ("zh-Hant", "FAIR 自我評估")):
        page = httpx.get(f"{served.url}/dataset/{served.rich_guid}", params={"lang": lang}).text
        assert heading in page and "FsF-R1.1-01M" in page
    weakest = whole["weakest"][0]["guid"]
    page = httpx.get(f"{served.url}/dataset/{weakest}", params={"lang": "en"}).text
    assert "What to fix" in page and "licence" in page
    for lang, heading in (("en", "FAIR report of the catalog"), ("zh-Hant", "目錄 FAIR 報告")):
        report = httpx.get(f"{served.url}/fair", params={"lang": lang}).text
        assert heading in report and f"/dataset/{weakest}#fair" in report
