"""What the tantivy backend promises beyond the shared contract: analysis, a rebuild that
swaps whole indexes under open readers, and no engine syntax ever parsed from user text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.search.document import build_document
from catalog.search.index import apply_changes, open_index
from catalog.search.query import SearchQuery
from catalog.search.tantivy_backend import POINTER, TantivyIndex, _analyzer
from catalog.search.text import analyse
from catalog.settings import Settings
from catalog.store import Change, StoredDataset
from schemas import Dataset
from tests.search.test_bad_input import QUERIES
from tests.search.test_contract import ZH_ONLY


def _stored(guid: str, title: str, status: str = "active") -> StoredDataset:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    return StoredDataset(
        dataset=Dataset(title={"en": title}),
        guid=guid,
        revision=1,
        status=status,  # type: ignore[arg-type]
        content_hash="x",
        created_at=now,
        updated_at=now,
    )


def test_tokenizer_gives_back_the_analysed_units_single_han_characters_and_whole_words() -> None:
    units = analyse("肺部 CT scans2 腦轉移，Ｘ光 x-ray").units
    assert units == ["肺", "部", "ct", "scans2", "腦", "轉", "移", "x", "光", "x", "ray"]
    assert _analyzer().analyze(" ".join(units)) == units


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_tokenizer_reproduces_the_units_of_any_text(text: str) -> None:
    units = analyse(text).units
    assert _analyzer().analyze(" ".join(units)) == units


def _change(kind: str, guid: str, title: str) -> Change:
    status = "tombstoned" if kind == "tombstoned" else "active"
    return Change(kind, guid, _stored(guid, title, status))  # type: ignore[arg-type]


def test_a_created_record_already_in_a_stale_index_is_replaced_not_doubled(tmp_path: Path) -> None:
    # A store recreated under an old index folder says "created" for a GUID the index holds.
    index = TantivyIndex.open(tmp_path / "search")
    apply_changes(index, [_change("created", "a", "Kidney ultrasound")])
    apply_changes(index, [_change("created", "a", "Kidney ultrasound again"), _change("created", "d", "Liver")])
    assert index.count() == 2
    assert [h.guid for h in index.search(SearchQuery(q="kidney")).hits] == ["a"]


def test_rebuild_swaps_the_whole_index_and_other_handles_follow(tmp_path: Path) -> None:
    writer = TantivyIndex.open(tmp_path / "search")
    writer.upsert([build_document(ds, guid) for guid, ds in ZH_ONLY.items()])
    reader = TantivyIndex.open(tmp_path / "search")
    assert reader.count() == 4
    old = (tmp_path / "search" / POINTER).read_text().strip()

    written = writer.rebuild([_stored("a", "Kidney ultrasound"), _stored("b", "Gone", status="tombstoned")])

    assert written == 1
    assert (tmp_path / "search" / POINTER).read_text().strip() != old
    assert not (tmp_path / "search" / old).exists()
    assert [h.guid for h in reader.search(SearchQuery(q="kidney")).hits] == ["a"]
    assert reader.search(SearchQuery(q="肺部")).total == 0


def test_reopening_keeps_documents_and_facet_labels(tmp_path: Path) -> None:
    index = TantivyIndex.open(tmp_path / "search")
    index.upsert([build_document(ds, guid) for guid, ds in ZH_ONLY.items()])
    index.close()
    again = TantivyIndex.open(tmp_path / "search")
    res = again.search(SearchQuery(q="肺部"))
    assert [h.guid for h in res.hits] == ["lungct"]
    modality = next(f for f in res.facets if f.name == "modality")
    assert modality.values[0].label["en"] != "" and modality.values[0].value == "CT"


def test_embedded_setting_opens_tantivy_and_sqlite_opens_fts5(tmp_path: Path) -> None:
    base = Settings(data_dir=tmp_path / "var")
    assert open_index(base).backend == "tantivy"
    assert open_index(base.model_copy(update={"search_backend": "sqlite"})).backend == "sqlite"
    with pytest.raises(ValueError, match="not known"):
        open_index(base.model_copy(update={"search_backend": "lucene"}))


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> TantivyIndex:
    ix = TantivyIndex.open(tmp_path_factory.mktemp("tantivy-prop") / "search")
    ix.upsert([build_document(ds, guid) for guid, ds in ZH_ONLY.items()])
    return ix


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=QUERIES)
def test_search_never_fails_on_any_string(index: TantivyIndex, q: str) -> None:
    res = index.search(SearchQuery(q=q, filters={"modality": ["CT"]}, sort="relevance"))
    assert 0 <= len(res.hits) <= res.total


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.text(max_size=100))
def test_suggest_never_fails(index: TantivyIndex, prefix: str) -> None:
    assert len(index.suggest(prefix)) <= 10


def _indexed(tmp_path: Path, records: dict[str, tuple[str, str]]) -> TantivyIndex:
    index = TantivyIndex.open(tmp_path / "search")
    index.upsert(
        [build_document(Dataset(title={"en": t}, description={"en": d}), guid) for guid, (t, d) in records.items()]
    )
    return index


def test_a_record_about_the_query_that_lacks_one_word_ranks_above_passing_mentions(tmp_path: Path) -> None:
    # Twelve records hold every word once, in passing; the one about exactly this lacks
    # "recordings". The all-words ranking listed it 13th, after every passing mention.
    filler = " ".join(f"clause{i} of the survey protocol" for i in range(12))
    passing = {
        f"p{i}": (f"Hospital survey {i}", f"{filler} recordings sleep apnea polysomnography were not collected")
        for i in range(12)
    }
    other = {f"o{i}": (f"Traffic counts {i}", "Vehicle counts on roads, hourly.") for i in range(60)}
    about = {
        "about": (
            "Polysomnography of obstructive sleep apnea",
            "Overnight polysomnography of adults with sleep apnea; polysomnography scored for apnea events.",
        )
    }
    index = _indexed(tmp_path, {**passing, **other, **about})
    res = index.search(SearchQuery(q="sleep apnea polysomnography recordings", limit=10))
    assert res.hits[0].guid == "about"
    assert res.total == 13  # records with some clause; the unrelated ones are not matched
    index.close()


def test_with_everything_else_alike_more_of_the_query_ranks_first(tmp_path: Path) -> None:
    index = _indexed(
        tmp_path,
        {
            "both": ("Coral reef survey", "Transects of coral and reef fish."),
            "coral": ("Coral survey", "Transects of coral and coral fish."),
            "reef": ("Reef survey", "Transects of reef and reef fish."),
            **{f"x{i}": (f"Weather {i}", "Hourly station data.") for i in range(20)},
        },
    )
    guids = [h.guid for h in index.search(SearchQuery(q="coral reef")).hits]
    assert guids[0] == "both" and sorted(guids[1:]) == ["coral", "reef"]
    index.close()
