"""The search contract, run against every backend (Elasticsearch only when a cluster is given)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from catalog.search.index import SearchIndex, apply_changes
from catalog.search.query import QueryError, SearchQuery
from catalog.store import Change, StoredDataset
from schemas import Dataset
from schemas.dataset import Agent, CaseCounts, ImagingInfo

MakeIndex = Callable[[dict[str, Dataset]], SearchIndex]


def _ds(
    title: dict[str, str],
    description: dict[str, str] | None = None,
    *,
    keywords: dict[str, list[str]] | None = None,
    modalities: list[str] | None = None,
    rights: str = "RESTRICTED",
    publisher: str = "NTU",
    modified: date | None = None,
    cases: int = 0,
) -> Dataset:
    return Dataset(
        title=title,
        description=description or {},
        keywords=keywords or {},
        access_rights=rights,
        publisher=Agent(name={"en": publisher}),
        modified=modified,
        imaging=ImagingInfo(modalities=modalities or [], shared=CaseCounts(fully_annotated=cases)),
    )


ZH_ONLY = {
    "lungct": _ds({"zh-Hant": "肺部 CT 影像"}, {"zh-Hant": "肺結節篩檢之電腦斷層影像"}, modalities=["CT"]),
    "brainmet": _ds({"zh-Hant": "腦部 MRI (腦轉移瘤)"}, {"zh-Hant": "放射治療前之磁振造影"}, modalities=["MR"]),
    "fundus": _ds({"zh-Hant": "眼底照片 (青光眼)"}, {"zh-Hant": "眼科門診收集"}, modalities=["OP"]),
    "liver": _ds({"zh-Hant": "肝臟超音波"}, {"zh-Hant": "脂肪肝追蹤"}, modalities=["US"]),
}
EN_ONLY = {
    "en-brainmet": _ds({"en": "Brain metastases MRI"}, {"en": "Contrast-enhanced MRI before radiosurgery"}),
    "en-glaucoma": _ds({"en": "Glaucoma fundus photographs"}, {"en": "Colour fundus images"}),
}


def _guids(index: SearchIndex, q: str, **kw: object) -> list[str]:
    return [h.guid for h in index.search(SearchQuery(q=q, **kw)).hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("lung CT", "lungct"), ("brain metastases", "brainmet"), ("glaucoma fundus", "fundus"), ("liver", "liver")],
)
def test_english_query_finds_record_described_only_in_chinese(make_index: MakeIndex, query: str, expected: str) -> None:
    index = make_index(ZH_ONLY)
    assert _guids(index, query)[:1] == [expected]


@pytest.mark.parametrize(("query", "expected"), [("腦轉移", "en-brainmet"), ("青光眼 眼底", "en-glaucoma")])
def test_chinese_query_finds_record_described_only_in_english(make_index: MakeIndex, query: str, expected: str) -> None:
    index = make_index(EN_ONLY)
    assert _guids(index, query)[:1] == [expected]


def test_simplified_chinese_query_finds_traditional_record(make_index: MakeIndex) -> None:
    index = make_index(ZH_ONLY)
    assert _guids(index, "脑转移")[:1] == ["brainmet"]
    assert _guids(index, "肝脏超声波")[:1] == ["liver"]


def test_literal_match_ranks_above_vocabulary_expansion(make_index: MakeIndex) -> None:
    index = make_index(
        {
            "literal": _ds({"en": "Lung screening cohort"}),
            "expanded": _ds({"zh-Hant": "肺部篩檢世代"}),
        }
    )
    assert _guids(index, "lung") == ["literal", "expanded"]


def test_title_match_ranks_above_keyword_above_description(make_index: MakeIndex) -> None:
    index = make_index(
        {
            "in-description": _ds({"en": "Imaging cohort A"}, {"en": "Includes some sarcoma cases among others."}),
            "in-keywords": _ds({"en": "Imaging cohort B"}, keywords={"en": ["sarcoma"]}),
            "in-title": _ds({"en": "Sarcoma imaging cohort"}),
        }
    )
    assert _guids(index, "sarcoma") == ["in-title", "in-keywords", "in-description"]


def test_exact_chinese_phrase_ranks_above_scattered_characters(make_index: MakeIndex) -> None:
    index = make_index(
        {
            "scattered": _ds({"zh-Hant": "資料集 甲"}, {"zh-Hant": "包含骨骼與肉眼可見之瘤"}),
            "phrase": _ds({"zh-Hant": "資料集 乙"}, {"zh-Hant": "骨肉瘤病人之影像"}),
        }
    )
    assert _guids(index, "骨肉瘤") == ["phrase", "scattered"]


def test_multi_select_facets_or_within_and_across_with_counts_ignoring_own_selection(make_index: MakeIndex) -> None:
    index = make_index(
        {
            "ct-ntu": _ds({"en": "A"}, modalities=["CT"], publisher="NTU"),
            "mr-ntu": _ds({"en": "B"}, modalities=["MR"], publisher="NTU"),
            "ct-tmu": _ds({"en": "C"}, modalities=["CT"], publisher="TMU"),
            "us-tmu": _ds({"en": "D"}, modalities=["US"], publisher="TMU"),
        }
    )
    res = index.search(SearchQuery(filters={"modality": ["CT", "MR"], "publisher": ["NTU"]}))
    assert sorted(h.guid for h in res.hits) == ["ct-ntu", "mr-ntu"]
    assert res.total == 2
    facets = {f.name: {v.value: (v.count, v.selected) for v in f.values} for f in res.facets}
    # modality counts ignore the modality selection but honour the publisher one
    assert facets["modality"] == {"CT": (1, True), "MR": (1, True)}
    # publisher counts ignore the publisher selection but honour the modality one
    assert facets["publisher"] == {"NTU": (2, True), "TMU": (1, False)}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"modality": ["CT"], "publisher": ["TMU"]}, {"PUBLIC": 1, "NON_PUBLIC": 1}),
        ({"modality": ["CT", "MR"], "publisher": ["NTU"]}, {"PUBLIC": 1, "RESTRICTED": 1}),
        ({"modality": ["CT", "MR"]}, {"PUBLIC": 2, "RESTRICTED": 1, "NON_PUBLIC": 1}),
        ({"modality": ["CT", "MR"], "publisher": ["NTU", "TMU"]}, {"PUBLIC": 2, "RESTRICTED": 1, "NON_PUBLIC": 1}),
    ],
)
def test_unselected_facets_are_counted_over_every_selection(
    make_index: MakeIndex, filters: dict[str, list[str]], expected: dict[str, int]
) -> None:
    index = make_index(
        {
            "ct-ntu": _ds({"en": "A"}, modalities=["CT"], publisher="NTU", rights="PUBLIC"),
            "mr-ntu": _ds({"en": "B"}, modalities=["MR"], publisher="NTU", rights="RESTRICTED"),
            "ct-tmu": _ds({"en": "C"}, modalities=["CT"], publisher="TMU", rights="PUBLIC"),
            "ctmr-tmu": _ds({"en": "D"}, modalities=["CT", "MR"], publisher="TMU", rights="NON_PUBLIC"),
            "us-ntu": _ds({"en": "E"}, modalities=["US"], publisher="NTU", rights="PUBLIC"),
        }
    )
    res = index.search(SearchQuery(filters=filters))
    facets = {f.name: {v.value: v.count for v in f.values} for f in res.facets}
    assert facets["access_rights"] == expected
    assert res.total == sum(expected.values())


def test_every_required_facet_is_reported(make_index: MakeIndex) -> None:
    index = make_index(ZH_ONLY)
    names = [f.name for f in index.search(SearchQuery()).facets]
    for required in (
        "modality",
        "body_site",
        "publisher",
        "access_route",
        "access_rights",
        "license",
        "format",
        "annotation_status",
        "health_category",
        "keyword",
        "language",
    ):
        assert required in names


def test_sorts_by_newest_title_and_cases(make_index: MakeIndex) -> None:
    index = make_index(
        {
            "old-big": _ds({"en": "Beta"}, modified=date(2019, 1, 1), cases=900),
            "new-small": _ds({"en": "Alpha"}, modified=date(2023, 1, 1), cases=10),
            "mid": _ds({"en": "Gamma"}, modified=date(2021, 1, 1), cases=50),
        }
    )
    assert _guids(index, "", sort="newest") == ["new-small", "mid", "old-big"]
    assert _guids(index, "", sort="title") == ["new-small", "old-big", "mid"]
    assert _guids(index, "", sort="cases") == ["old-big", "mid", "new-small"]


@pytest.mark.parametrize("sort", ["relevance", "newest", "title", "cases"])
def test_cursor_pages_cover_every_result_exactly_once(make_index: MakeIndex, sort: str) -> None:
    records = {
        f"r{i:02d}": _ds({"en": f"Chest CT series {i}"}, modified=date(2020, 1, 1 + i % 28), cases=i % 5)
        for i in range(23)
    }
    index = make_index(records)
    seen: list[str] = []
    cursor = None
    while True:
        res = index.search(SearchQuery(q="chest CT", sort=sort, limit=5, cursor=cursor))
        assert res.total == 23
        seen += [h.guid for h in res.hits]
        cursor = res.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(records)


def test_cursor_of_another_search_is_refused_with_a_clear_error(make_index: MakeIndex) -> None:
    index = make_index({f"r{i}": _ds({"en": f"CT {i}"}) for i in range(5)})
    cursor = index.search(SearchQuery(q="CT", limit=2)).next_cursor
    assert cursor
    with pytest.raises(QueryError, match="different search"):
        index.search(SearchQuery(q="MRI", limit=2, cursor=cursor))
    with pytest.raises(QueryError, match="start again"):
        index.search(SearchQuery(q="CT", cursor="not-a-cursor"))


def test_upsert_replaces_and_remove_forgets(make_index: MakeIndex) -> None:
    from catalog.search.document import build_document

    index = make_index(ZH_ONLY)
    index.upsert([build_document(_ds({"en": "Kidney ultrasound"}), "liver")])
    assert _guids(index, "kidney") == ["liver"]
    assert _guids(index, "脂肪肝") == []
    index.remove(["liver", "never-indexed"])
    assert _guids(index, "kidney") == []
    assert index.count() == 3


def test_highlights_mark_literal_and_expanded_terms_and_escape_html(make_index: MakeIndex) -> None:
    index = make_index({"x": _ds({"zh-Hant": "肺部 <b>CT</b>", "en": "Lung CT"})})
    hit = index.search(SearchQuery(q="lung")).hits[0]
    assert hit.highlights["title"]["en"] == "<mark>Lung</mark> CT"
    assert hit.highlights["title"]["zh-Hant"] == "<mark>肺部</mark> &lt;b&gt;CT&lt;/b&gt;"


def test_suggest_completes_titles_and_keywords(make_index: MakeIndex) -> None:
    index = make_index({**ZH_ONLY, "kw": _ds({"en": "Retina set"}, keywords={"en": ["glaucoma screening"]})})
    found = {(s.text, s.kind) for s in index.suggest("眼底")}
    assert ("眼底照片 (青光眼)", "title") in found
    assert ("glaucoma screening", "keyword") in {(s.text, s.kind) for s in index.suggest("Glauc")}
    assert ("眼底照片 (青光眼)", "title") in {(s.text, s.kind) for s in index.suggest("青光")}
    assert index.suggest("") == []


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "lung AND (CT OR",
        "NOT -x +y ~2 ^3 *",
        "'; DROP TABLE docs; --",
        "🫁🧠",
        "x" * 10_000,
        "title:lung",
        'NEAR("a" "b")',
        "{t} : x",
        "\x00\x01",
        "   ",
        "肺" * 3000,
    ],
)
def test_any_query_string_returns_results_or_nothing(make_index: MakeIndex, query: str) -> None:
    index = make_index(ZH_ONLY)
    res = index.search(SearchQuery(q=query))
    assert res.total >= 0 and len(res.hits) <= 20


def _change(kind: str, guid: str, title: str) -> Change:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    stored = StoredDataset(
        dataset=_ds({"en": title}),
        guid=guid,
        revision=1,
        content_hash="x",
        created_at=now,
        updated_at=now,
        status="tombstoned" if kind == "tombstoned" else "active",
    )
    return Change(kind, guid, stored)  # type: ignore[arg-type]


def test_a_group_of_changes_leaves_each_record_as_its_last_change_says(make_index: MakeIndex) -> None:
    # A bulk writer's commits reach the index in groups: a record may change twice in one.
    index = make_index({})
    apply_changes(index, [_change("created", "a", "Kidney ultrasound"), _change("created", "b", "Kidney biopsy")])
    apply_changes(
        index,
        [
            _change("updated", "a", "Kidney ultrasound follow-up"),
            _change("updated", "a", "Kidney ultrasound second follow-up"),
            _change("tombstoned", "b", "Kidney biopsy"),
            _change("restored", "b", "Kidney biopsy"),
            _change("created", "c", "Kidney stones"),
            _change("tombstoned", "c", "Kidney stones"),
        ],
    )
    assert index.count() == 2
    assert sorted(h.guid for h in index.search(SearchQuery(q="kidney")).hits) == ["a", "b"]
    assert [h.guid for h in index.search(SearchQuery(q="second")).hits] == ["a"]
    assert index.search(SearchQuery(q="stones")).total == 0
