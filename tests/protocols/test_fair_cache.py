"""The cached catalog FAIR report: equal to scoring every record afresh after any kind of change,
and a request after one change re-scores that record only (SQLite and PostgreSQL)."""

from __future__ import annotations

from catalog.fair.assess import assess, catalog_report
from catalog.fair.cache import FairReportCache
from catalog.store import Store
from schemas import Dataset
from tests.protocols.conftest import RICH


def _fresh(store: Store) -> dict[str, object]:
    return catalog_report(assess(s.dataset, s.guid) for s in store.iter_all())


def _bare(title: str) -> Dataset:
    return Dataset.model_validate({"title": {"en": title}})


def test_the_cached_report_equals_a_full_rescore_after_every_kind_of_change(store: Store) -> None:
    guids = [store.save(_bare(f"record {i}"), actor="t").guid for i in range(4)]
    rich = store.save(Dataset.model_validate(RICH), actor="t").guid
    cache = FairReportCache(store)
    assert cache.report() == _fresh(store)
    licensed = {
        "guid": guids[0],
        "title": {"en": "record 0"},
        "license": {"iri": "https://creativecommons.org/licenses/by/4.0/"},
    }
    store.save(Dataset.model_validate(licensed), actor="t")
    assert cache.report() == _fresh(store)
    store.unpublish(guids[1], actor="t")
    store.tombstone(guids[2], reason="withdrawn", actor="t")
    report = cache.report()
    assert report == _fresh(store) and report["records"] == 3
    store.publish(guids[1], actor="t")
    store.restore(guids[2], actor="t")
    assert cache.report() == _fresh(store)
    assert cache.report()["records"] == 5 and rich in {w["guid"] for w in cache.report()["weakest"]}


def test_an_unchanged_catalog_is_not_rescored_and_one_change_rescores_one_record(store: Store) -> None:
    for i in range(6):
        store.save(_bare(f"record {i}"), actor="t")
    cache = FairReportCache(store)
    cache.report()
    assert cache.scored == 6
    cache.report()
    assert cache.scored == 6
    store.save(_bare("one more"), actor="t")
    assert cache.report()["records"] == 7
    assert cache.scored == 7


def test_two_caches_on_one_database_see_each_others_writes(store: Store) -> None:
    first, second = FairReportCache(store), FairReportCache(store)
    store.save(_bare("a"), actor="t")
    assert first.report()["records"] == second.report()["records"] == 1
    store.save(_bare("b"), actor="t")  # as if another worker wrote it
    assert first.report()["records"] == 2


def test_a_revision_committed_behind_the_mark_makes_the_cache_rescore_everything(store: Store) -> None:
    guids = [store.save(_bare(f"record {i}"), actor="t").guid for i in range(3)]
    cache = FairReportCache(store)
    cache.report()
    # As if a concurrent writer's revision got an id below the mark already seen: the counts disagree.
    top, rows = cache._mark
    cache._mark = (top, rows - 1)
    store.tombstone(guids[0], reason="withdrawn", actor="t")
    before = cache.scored
    assert cache.report() == _fresh(store)
    assert cache.scored - before == 2  # every published record again, not only the changed one
