"""A run keeps the search index current from a child process, and says so when it could not."""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from catalog.context import Context, open_context
from catalog.harvest import HarvestService
from catalog.search.attach import SUBSCRIBER, IndexSubscriber, search_index
from catalog.search.query import SearchQuery
from catalog.settings import Settings
from harvesters.base import HarvestedRecord
from harvesters.ckan import package_to_dataset
from schemas import Dataset
from tests.harvest.servers import CkanServer, serve

FAST = {"attempts": 2, "backoff": 0.01, "rows": 25}
INDEXER = "catalog.search.index_child"


def _context(tmp_path: Path, backend: str = "embedded", start_after: int = 1) -> Context:
    ctx = open_context(Settings(data_dir=tmp_path, search_backend=backend))
    subscriber = ctx.extensions[SUBSCRIBER]
    assert isinstance(subscriber, IndexSubscriber)
    subscriber.start_after = start_after  # 1: every bulk write goes through the child process
    return ctx


def _indexed(ctx: Context) -> set[str]:
    index, found = search_index(ctx), set[str]()
    cursor: str | None = None
    while True:
        page = index.search(SearchQuery(q="", limit=100, cursor=cursor))
        found |= {h.guid for h in page.hits}
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _stored(ctx: Context) -> set[str]:
    return {s.guid for s in ctx.store.iter_all()}


def _indexers() -> list[psutil.Process]:
    """The indexing child processes of this process that are still running."""
    found = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if INDEXER in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
    return found


@pytest.mark.parametrize("backend", ["embedded", "sqlite"])
def test_a_run_indexed_by_the_child_process_leaves_exactly_the_stored_records_searchable(
    backend: str, tmp_path: Path, depositar: list[dict[str, Any]]
) -> None:
    ctx = _context(tmp_path, backend)
    service = HarvestService(ctx.store, batch_size=10, index_batch=25)
    packages = copy.deepcopy(depositar[:60])
    with serve(CkanServer(packages)) as url:
        service.add_source("ckan", url, name="d", options=FAST)
        first = service.run("d")
        assert first.status == "succeeded" and _indexed(ctx) == _stored(ctx) and len(_stored(ctx)) == 60
        packages[3]["title"] = "Renamed upstream: glaucoma fundus photographs"
        packages[3]["metadata_modified"] = "2031-01-01T00:00:00"
        del packages[:3]
        second = service.run("d")
    assert (second.status, second.updated, second.withdrawn) == ("succeeded", 1, 3)
    assert _indexed(ctx) == _stored(ctx) and len(_stored(ctx)) == 57
    [hit] = search_index(ctx).search(SearchQuery(q="glaucoma fundus", limit=1)).hits
    assert hit.guid == ctx.store.derive_guid(service.source("d").guid, packages[0]["id"])
    assert _indexers() == []  # the child is gone when the run returns
    search_index(ctx).close()


def test_a_run_whose_listing_fails_leaves_the_index_holding_what_the_store_holds(
    tmp_path: Path, depositar: list[dict[str, Any]]
) -> None:
    ctx = _context(tmp_path)
    service = HarvestService(ctx.store, batch_size=10)
    packages = copy.deepcopy(depositar[:60])
    ckan = CkanServer(packages)
    with serve(ckan) as url:
        service.add_source("ckan", url, name="d", options=FAST)
        service.run("d")
        before = _indexed(ctx)
        del packages[:10]  # would be withdrawn by a complete run
        ckan.fail_starts.add(25)
        run = service.run("d")
    assert run.status == "failed" and run.withdrawn == 0
    assert _indexed(ctx) == before == _stored(ctx)
    search_index(ctx).close()


class _KillsTheIndexer:
    """A source of ``n`` records that kills the indexing child process half way through."""

    kind = "test"

    def __init__(self, packages: list[dict[str, Any]]) -> None:
        self.packages = packages

    def records(self, since: datetime | None = None) -> Iterator[HarvestedRecord]:
        for i, pkg in enumerate(self.packages):
            if i == len(self.packages) // 2:
                deadline = time.monotonic() + 30
                while not _indexers() and time.monotonic() < deadline:
                    time.sleep(0.05)
                for child in _indexers():
                    child.kill()  # reaped by the run, which is how it learns of the death
                while _indexers() and time.monotonic() < deadline:
                    time.sleep(0.05)
            yield HarvestedRecord(pkg["id"], None, pkg, package_to_dataset(pkg))


def test_an_indexer_that_dies_fails_the_run_with_a_reason_and_every_record_is_stored(
    tmp_path: Path, depositar: list[dict[str, Any]]
) -> None:
    ctx = _context(tmp_path)
    service = HarvestService(ctx.store, batch_size=10)
    service.add_source("ckan", "http://127.0.0.1:9/", name="d", options=FAST)
    run = service.run("d", source=_KillsTheIndexer(copy.deepcopy(depositar[:60])))
    assert run.status == "failed" and run.added == 60
    assert "indexing process exited" in (run.reason or "") and "fairgate reindex" in (run.reason or "")
    assert len(_stored(ctx)) == 60 and _indexers() == []
    search_index(ctx).close()


def test_an_index_failure_in_a_small_run_applied_in_process_fails_the_run_too(
    tmp_path: Path, depositar: list[dict[str, Any]]
) -> None:
    ctx = _context(tmp_path, start_after=1000)  # 30 records: no child process
    service = HarvestService(ctx.store, batch_size=10)
    search_index(ctx).close()  # the index can no longer be written
    with serve(CkanServer(copy.deepcopy(depositar[:30]))) as url:
        service.add_source("ckan", url, name="d", options=FAST)
        run = service.run("d")
    assert run.status == "failed" and run.added == 30 and "fairgate reindex" in (run.reason or "")
    assert len(_stored(ctx)) == 30


def test_another_writers_save_during_a_run_is_searchable_when_it_returns(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    index = search_index(ctx)
    found_by_other: list[tuple[str, set[str]]] = []

    def edit() -> None:
        guid = ctx.store.save(Dataset(title={"en": "Steward's kidney biopsy set"}), actor="web").guid
        found_by_other.append((guid, {h.guid for h in index.search(SearchQuery(q="kidney")).hits}))

    with ctx.store.publishing_behind():
        bulk = ctx.store.save(Dataset(title={"en": "Harvested kidney ultrasound"}), actor="harvest").guid
        assert _indexers()  # the bulk write went to the child process
        other = threading.Thread(target=edit)
        other.start()
        other.join(60)
    [(edited, seen)] = found_by_other
    assert seen == {bulk, edited}  # both applied (in commit order) before the edit returned
    assert _indexed(ctx) == _stored(ctx)
    index.close()


def test_a_run_whose_indexer_cannot_be_started_indexes_in_process_and_misses_nothing(
    tmp_path: Path, depositar: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No interpreter to start the child with: the sink used to raise out of the store's
    # publish, after the commit; the harvest took that for a failed batch, saved its records
    # again one by one (unchanged now, so never published) and the run "succeeded" with those
    # records stored but not searchable.
    ctx = _context(tmp_path)
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-such-python"))
    service = HarvestService(ctx.store, batch_size=10, index_batch=25)
    with serve(CkanServer(copy.deepcopy(depositar[:60]))) as url:
        service.add_source("ckan", url, name="d", options=FAST)
        run = service.run("d")
    assert (run.status, run.added, run.unchanged) == ("succeeded", 60, 0)
    assert _indexed(ctx) == _stored(ctx) and len(_stored(ctx)) == 60 and _indexers() == []
    search_index(ctx).close()


class _RefusesFirstCommit:
    """A bulk subscriber whose sink fails to take the first commit it is sent, then takes the rest."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.sends = 0

    def __call__(self, changes: Any) -> None:
        self.received.extend(c.guid for c in changes)

    def open_bulk(self, *, max_changes: int, max_wait: float) -> _RefusesFirstCommit:
        return self

    def send(self, changes: Any) -> None:
        self.sends += 1
        if self.sends == 1:
            raise RuntimeError("sink full")
        self.received.extend(c.guid for c in changes)

    def flush(self) -> None:
        pass

    def close(self, *, raise_error: bool = True) -> None:
        pass


def test_a_sink_that_cannot_take_a_commit_fails_the_run_and_no_record_is_counted_unchanged(
    tmp_path: Path, depositar: list[dict[str, Any]]
) -> None:
    ctx = open_context(Settings(data_dir=tmp_path, search_backend="embedded"))
    sink = _RefusesFirstCommit()
    ctx.store.subscribe(sink)
    service = HarvestService(ctx.store, batch_size=10)
    with serve(CkanServer(copy.deepcopy(depositar[:30]))) as url:
        service.add_source("ckan", url, name="d", options=FAST)
        run = service.run("d")
    # Every record is stored and counted once as added; the lost commit fails the run.
    assert (run.status, run.added, run.unchanged) == ("failed", 30, 0)
    assert "sink full" in (run.reason or "")
    assert len(_stored(ctx)) == 30 and len(sink.received) == 20
    search_index(ctx).close()
