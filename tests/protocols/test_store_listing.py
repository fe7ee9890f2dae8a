"""Store.listing: insertion order, offsets, row-id resumption and change-time windows, on
SQLite and on PostgreSQL (both keep UTC; the window must mean the same on both)."""

from __future__ import annotations

from datetime import timedelta

from catalog.store import Store
from schemas import Dataset


def _put(store: Store, n: int) -> list[str]:
    return [
        store.save(Dataset.model_validate({"title": {"en": f"Set {i}"}}), actor="t", activity="create").guid
        for i in range(n)
    ]


def test_listing_pages_by_offset_and_by_row_id_in_insertion_order(store: Store) -> None:
    guids = _put(store, 5)
    assert [s.guid for _, s in store.listing(offset=1, limit=3)] == guids[1:4]
    first = store.listing(limit=2)
    assert [s.guid for _, s in store.listing(after_id=first[-1][0], limit=10)] == guids[2:]
    assert store.count_listing() == 5


def test_change_window_includes_its_start_and_excludes_its_end(store: Store) -> None:
    guids = _put(store, 3)
    times = [store.get(g).updated_at for g in guids]
    window = store.listing(modified_from=times[1], modified_before=times[2])
    assert [s.guid for _, s in window] == [guids[1]]
    assert store.count_listing(modified_from=times[1]) == 2
    assert store.count_listing(modified_before=times[0] - timedelta(seconds=1)) == 0


def test_tombstones_are_listed_only_when_asked_for(store: Store) -> None:
    guids = _put(store, 2)
    store.tombstone(guids[0], reason="gone", actor="t")
    assert [s.guid for _, s in store.listing()] == [guids[1]]
    listed = store.listing(include_tombstones=True)
    assert [(s.guid, s.is_tombstone) for _, s in listed] == [(guids[0], True), (guids[1], False)]
    assert store.earliest_change() is not None
