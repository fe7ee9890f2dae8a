"""Rules of a harvest run, shown on a real CKAN action API (127.0.0.1) serving depositar packages."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from catalog.bootstrap import open_store
from catalog.context import open_context
from catalog.harvest import HarvestService, SourceBusy
from catalog.harvest.service import WITHDRAWN_REASON
from catalog.harvest.tables import HarvestLockRow
from catalog.search.attach import search_index
from catalog.search.query import SearchQuery
from catalog.settings import Settings
from catalog.store import Store
from catalog.tables import RevisionRow
from tests.harvest.servers import CkanServer, serve

FAST = {"attempts": 2, "backoff": 0.01, "rows": 25}


def _revisions(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(RevisionRow)) or 0)


def _packages(depositar: list[dict[str, Any]], n: int = 60) -> list[dict[str, Any]]:
    return copy.deepcopy(depositar[:n])


def _touch(pkg: dict[str, Any], title: str) -> None:
    pkg["title"] = title
    pkg["metadata_modified"] = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")


def test_second_run_mints_no_new_guids_and_creates_zero_revisions(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    ckan = CkanServer(_packages(depositar))
    with serve(ckan) as url:
        service.add_source("ckan", url, name="depositar", options=FAST)
        first = service.run("depositar")
        guids_before = store.guids_of_source(service.source("depositar").guid)
        revisions_before = _revisions(store)
        second = service.run("depositar")
    assert (first.status, first.added, first.failed) == ("succeeded", 60, 0)
    assert (second.status, second.added, second.updated, second.unchanged) == ("succeeded", 0, 0, 60)
    assert store.guids_of_source(service.source("depositar").guid) == guids_before
    assert _revisions(store) == revisions_before == 60


def test_guid_is_derived_from_source_guid_and_upstream_id(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    ckan = CkanServer(_packages(depositar, 5))
    with serve(ckan) as url:
        info = service.add_source("ckan", url, name="d5", options=FAST)
        service.run("d5")
    for upstream_id, guid in store.guids_of_source(info.guid).items():
        assert guid == store.derive_guid(info.guid, upstream_id)


def test_forced_run_remaps_but_still_writes_nothing_for_identical_content(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    ckan = CkanServer(_packages(depositar, 30))
    with serve(ckan) as url:
        service.add_source("ckan", url, name="d", options=FAST)
        service.run("d")
        forced = service.run("d", force=True)
    assert (forced.unchanged, forced.updated, forced.added) == (30, 0, 0)
    assert _revisions(store) == 30


def test_changed_upstream_record_gets_a_new_revision_under_the_same_guid(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    packages = _packages(depositar, 30)
    ckan = CkanServer(packages)
    with serve(ckan) as url:
        info = service.add_source("ckan", url, name="d", options=FAST)
        service.run("d")
        _touch(packages[3], "A new title")
        run = service.run("d")
    guid = store.derive_guid(info.guid, packages[3]["id"])
    assert (run.updated, run.unchanged) == (1, 29)
    stored = store.get(guid)
    assert stored.revision == 2 and stored.dataset.title == {"en": "A new title"}


def test_incremental_run_asks_only_for_recent_changes_and_never_withdraws(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    packages = _packages(depositar, 40)
    ckan = CkanServer(packages)
    with serve(ckan) as url:
        info = service.add_source("ckan", url, name="d", options=FAST)
        service.run("d")
        _touch(packages[0], "Changed upstream")
        del packages[5:10]
        run = service.run("d", full=False)
    assert run.mode == "incremental" and run.status == "succeeded"
    assert ckan.requests[-1]["fq"].startswith("metadata_modified:[")
    assert run.updated == 1 and run.withdrawn == 0
    assert len(store.guids_of_source(info.guid)) == 40


def test_full_run_tombstones_records_withdrawn_upstream_and_keeps_their_guids(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    packages = _packages(depositar, 40)
    ckan = CkanServer(packages)
    with serve(ckan) as url:
        info = service.add_source("ckan", url, name="d", options=FAST)
        service.run("d")
        gone = [p["id"] for p in packages[5:8]]
        del packages[5:8]
        run = service.run("d")
        again = service.run("d")
    assert run.withdrawn == 3 and again.withdrawn == 0
    for upstream_id in gone:
        stored = store.get(store.derive_guid(info.guid, upstream_id))
        assert stored.is_tombstone and stored.tombstone_reason == WITHDRAWN_REASON
        assert stored.dataset.title  # the last metadata is still there for the 410 page


@pytest.mark.parametrize("backend", ["embedded", "sqlite"])
def test_the_search_index_holds_every_added_and_none_of_the_withdrawn_records_when_a_run_returns(
    backend: str, tmp_path: Any, depositar: list[dict[str, Any]]
) -> None:
    ctx = open_context(Settings(data_dir=tmp_path, search_backend=backend))
    index = search_index(ctx)
    service = HarvestService(ctx.store, batch_size=10, index_batch=25)  # index deliveries span batches
    packages = _packages(depositar, 60)
    with serve(CkanServer(packages)) as url:
        info = service.add_source("ckan", url, name="d", options=FAST)
        service.run("d")
        assert index.count() == 60
        gone = ctx.store.derive_guid(info.guid, packages[0]["id"])
        del packages[:7]
        run = service.run("d")
    assert run.withdrawn == 7 and index.count() == 53
    assert gone not in {h.guid for h in index.search(SearchQuery(q="", limit=100)).hits}
    index.close()


def test_record_that_comes_back_upstream_is_restored_under_its_old_guid(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    packages = _packages(depositar, 20)
    ckan = CkanServer(packages)
    with serve(ckan) as url:
        info = service.add_source("ckan", url, name="d", options=FAST)
        service.run("d")
        removed = packages.pop(2)
        service.run("d")
        packages.append(removed)
        run = service.run("d")
    assert run.updated == 1
    assert not store.get(store.derive_guid(info.guid, removed["id"])).is_tombstone


def test_a_record_missing_its_title_fails_alone_and_keeps_its_previous_version(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    packages = _packages(depositar, 30)
    ckan = CkanServer(packages)
    with serve(ckan) as url:
        info = service.add_source("ckan", url, name="d", options=FAST)
        service.run("d")
        broken_id = packages[7]["id"]
        old_title = store.get(store.derive_guid(info.guid, broken_id)).dataset.title
        packages[7]["title"] = ""
        packages[7]["metadata_modified"] = "2030-01-01T00:00:00"
        _touch(packages[8], "Still harvested")
        run = service.run("d")
    assert (run.status, run.failed, run.updated, run.withdrawn) == ("succeeded", 1, 1, 0)
    [error] = service.errors(name="d")
    assert error.upstream_id == broken_id and error.stage == "validate" and "title" in error.reason
    kept = store.get(store.derive_guid(info.guid, broken_id))
    assert kept.dataset.title == old_title and not kept.is_tombstone


@pytest.mark.parametrize("fault", ["fail_starts", "truncate_starts"])
def test_a_run_whose_listing_fails_is_marked_failed_and_withdraws_nothing(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]], fault: str
) -> None:
    packages = _packages(depositar, 60)
    ckan = CkanServer(packages)
    with serve(ckan) as url:
        info = service.add_source("ckan", url, name="d", options=FAST)
        service.run("d")
        before = {u: store.get(g).revision for u, g in store.guids_of_source(info.guid).items()}
        del packages[0:10]  # would be withdrawn by a complete full run
        getattr(ckan, fault).add(25)  # the second page
        run = service.run("d")
    assert run.status == "failed" and "failed after 2 attempts" in (run.reason or "")
    assert run.withdrawn == 0
    after = {u: store.get(g) for u, g in store.guids_of_source(info.guid).items()}
    assert {u: s.revision for u, s in after.items()} == before
    assert service.source("d").last_success_at == service.runs("d")[1].started_at


def test_a_page_that_times_out_fails_the_run_with_a_readable_reason(
    service: HarvestService, depositar: list[dict[str, Any]]
) -> None:
    ckan = CkanServer(_packages(depositar, 30), slow_starts={25}, delay=1.5)
    with serve(ckan) as url:
        service.add_source("ckan", url, name="d", options={**FAST, "timeout": 0.3})
        run = service.run("d")
    assert run.status == "failed"
    assert "start=25" in (run.reason or "") and "Timeout" in (run.reason or "")


def test_a_source_still_running_is_skipped_by_run_all_until_its_lock_goes_stale(
    store: Store, depositar: list[dict[str, Any]]
) -> None:
    service = HarvestService(store, stale_after=timedelta(hours=1))
    ckan = CkanServer(_packages(depositar, 5))
    with serve(ckan) as url:
        service.add_source("ckan", url, name="busy", options=FAST)
        service.add_source("ckan", url, name="free", options=FAST)
        busy_id = service._sessions().scalar(select(HarvestLockRow.source_id).limit(1))
        assert busy_id is None
        with service._sessions.begin() as s:
            from catalog.harvest.tables import HarvestSourceRow

            src = s.scalar(select(HarvestSourceRow).where(HarvestSourceRow.name == "busy"))
            assert src is not None
            s.add(HarvestLockRow(source_id=src.id, run_id=None, locked_at=datetime.now(UTC)))
        with pytest.raises(SourceBusy):
            service.run("busy")
        results = {r.source: r.status for r in service.run_all()}
        assert results == {"busy": "skipped", "free": "succeeded"}
        stale = HarvestService(store, stale_after=timedelta(seconds=0))
        assert stale.run("busy").status == "succeeded"


def test_same_dataset_in_two_sources_is_linked_as_duplicate_not_merged(
    service: HarvestService, store: Store, depositar: list[dict[str, Any]]
) -> None:
    packages = _packages(depositar, 10)
    with serve(CkanServer(packages)) as url_a, serve(CkanServer(copy.deepcopy(packages[:3]))) as url_b:
        a = service.add_source("ckan", url_a, name="a", options=FAST)
        b = service.add_source("ckan", url_b, name="b", options=FAST)
        service.run("a")
        service.run("b")
    first = packages[0]["id"]
    guid_a, guid_b = store.derive_guid(a.guid, first), store.derive_guid(b.guid, first)
    links = service.duplicates(guid_a)
    assert [(d.other_guid, d.basis) for d in links] == [(guid_b, "identifier")]
    assert store.get(guid_a).guid != store.get(guid_b).guid
    assert len(service.duplicates()) == 6


def test_unknown_kind_and_bad_name_are_refused_with_a_reason(service: HarvestService) -> None:
    from catalog.store import StoreError

    with pytest.raises(StoreError, match="unknown source kind"):
        service.add_source("ftp", "http://x", name="x")
    with pytest.raises(StoreError, match="source name"):
        service.add_source("ckan", "http://x", name="Bad Name")
    with pytest.raises(StoreError, match="http"):
        service.add_source("ckan", "data.example.org", name="x")


@pytest.mark.postgres
def test_second_run_and_withdrawal_hold_on_postgresql(
    pg_url: str, tmp_path: Any, depositar: list[dict[str, Any]]
) -> None:
    store = open_store(Settings(data_dir=tmp_path), url=pg_url)
    service = HarvestService(store, batch_size=40)
    packages = _packages(depositar, 60)
    with serve(CkanServer(packages)) as url:
        info = service.add_source("ckan", url, name="d", options=FAST)
        first = service.run("d")
        second = service.run("d")
        del packages[:4]
        third = service.run("d")
    assert (first.added, second.unchanged, _revisions(store) - 4) == (60, 60, 60)
    assert third.withdrawn == 4
    assert len(store.guids_of_source(info.guid)) == 56
    store.engine.dispose()
