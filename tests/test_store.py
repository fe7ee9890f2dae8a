"""The store keeps every revision, refuses stale edits, and never loses a GUID."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from catalog import guid as guids
from catalog.store import (
    BulkSubscriber,
    Change,
    ChangeRow,
    Conflict,
    DeliveryError,
    NewRecord,
    NotFound,
    Store,
    StoreError,
)
from schemas import Dataset


def _ds(title: str = "Lung CT", **extra: object) -> Dataset:
    return Dataset.model_validate({"title": {"en": title, "zh-Hant": "肺部 CT"}, **extra})


def test_a_new_dataset_gets_a_guid_under_the_configured_prefix(store: Store) -> None:
    result = store.save(_ds(), actor="steward")
    assert result.status == "created" and result.revision == 1
    assert result.guid.startswith(store.guid_prefix + "/") and guids.is_guid(result.guid)
    assert store.get(result.guid).dataset.title["en"] == "Lung CT"


def test_resaving_identical_content_creates_no_revision(store: Store) -> None:
    guid = store.save(_ds(), actor="steward").guid
    again = store.save(store.get(guid).dataset, actor="steward")
    assert again.status == "unchanged" and again.revision == 1
    assert len(store.revisions(guid)) == 1


def test_every_change_is_kept_as_a_revision_with_who_and_why(store: Store) -> None:
    guid = store.save(_ds(), actor="alice", reason="first").guid
    store.save(_ds("Lung CT v2").model_copy(update={"guid": guid}), actor="bob", reason="typo")
    revs = store.revisions(guid)
    assert [(r.number, r.actor, r.reason) for r in revs] == [(1, "alice", "first"), (2, "bob", "typo")]
    assert revs[0].dataset.title["en"] == "Lung CT"
    assert store.revision(guid, 2).dataset.title["en"] == "Lung CT v2"


def test_an_edit_based_on_a_stale_revision_is_refused_and_writes_nothing(store: Store) -> None:
    guid = store.save(_ds(), actor="a").guid
    store.save(_ds("v2").model_copy(update={"guid": guid}), actor="a", expected_revision=1)
    with pytest.raises(Conflict, match="revision 2, not 1"):
        store.save(_ds("v3").model_copy(update={"guid": guid}), actor="b", expected_revision=1)
    assert store.get(guid).dataset.title["en"] == "v2"
    assert len(store.revisions(guid)) == 2


def test_harvested_guid_is_derived_from_source_and_upstream_id(store: Store) -> None:
    source = guids.mint(store.guid_prefix)
    first = store.save(_ds(), actor="h", source_guid=source, upstream_id="pkg-1")
    second = store.save(_ds("changed"), actor="h", source_guid=source, upstream_id="pkg-1")
    assert first.guid == second.guid == guids.derive(store.guid_prefix, source, "pkg-1")
    assert second.status == "updated"
    assert store.guids_of_source(source) == {"pkg-1": first.guid}


def test_tombstone_keeps_the_record_resolvable_with_its_reason(store: Store) -> None:
    guid = store.save(_ds(), actor="a").guid
    store.tombstone(guid, reason="withdrawn at source", actor="harvester")
    stored = store.get(guid)
    assert stored.is_tombstone and stored.tombstone_reason == "withdrawn at source"
    assert stored.dataset.title["en"] == "Lung CT"
    assert store.count() == 0 and store.count(include_tombstones=True) == 1
    assert store.revisions(guid)[-1].activity == "tombstone"


def test_saving_a_tombstoned_record_restores_it(store: Store) -> None:
    guid = store.save(_ds(), actor="a").guid
    store.tombstone(guid, reason="mistake", actor="a")
    result = store.save(store.get(guid).dataset, actor="a")
    assert result.status == "restored" and not store.get(guid).is_tombstone


def test_a_tombstone_needs_a_reason(store: Store) -> None:
    guid = store.save(_ds(), actor="a").guid
    with pytest.raises(StoreError, match="reason"):
        store.tombstone(guid, reason=" ", actor="a")


def test_unknown_guid_is_not_found_with_advice(store: Store) -> None:
    with pytest.raises(NotFound, match="search the catalog"):
        store.get("dg.TW01/00000000-0000-0000-0000-000000000000")


def test_a_failing_batch_leaves_nothing_half_written(store: Store) -> None:
    source = guids.mint(store.guid_prefix)
    store.save_many([NewRecord(_ds("one"), "1")], actor="h", activity="harvest", source_guid=source)
    one = store.derive_guid(source, "1")
    # A revision number that is already taken makes the database refuse the batch mid-way.
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO dataset_revisions (dataset_guid, number, content_hash, content, activity, actor,"
                " created_at) VALUES (:g, 2, 'x', '{}', 'x', 'x', CURRENT_TIMESTAMP)"
            ),
            {"g": one},
        )
    batch = [NewRecord(_ds("two"), "2"), NewRecord(_ds("changed one"), "1")]
    with pytest.raises(IntegrityError):
        store.save_many(batch, actor="h", activity="harvest", source_guid=source)
    assert store.count() == 1
    assert store.get(one).dataset.title["en"] == "one"
    assert store.find(store.derive_guid(source, "2")) is None


def test_paging_walks_every_record_once(store: Store) -> None:
    for i in range(7):
        store.save(_ds(f"d{i}"), actor="a")
    seen: list[str] = []
    cursor = None
    while True:
        page = store.page(limit=3, cursor=cursor)
        seen.extend(s.dataset.title["en"] for s in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"d{i}" for i in range(7)]


def test_a_foreign_cursor_is_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match="start again"):
        store.page(cursor="!!!")


def test_subscribers_hear_changes_after_commit(store: Store) -> None:
    heard: list[Change] = []
    store.subscribe(lambda changes: heard.extend(changes))
    guid = store.save(_ds(), actor="a").guid
    store.save(store.get(guid).dataset, actor="a")  # unchanged: nothing to hear
    store.tombstone(guid, reason="gone", actor="a")
    assert [(c.kind, c.guid) for c in heard] == [("created", guid), ("tombstoned", guid)]


def test_revisions_cannot_be_orphaned_by_deleting_a_dataset(store: Store) -> None:
    guid = store.save(_ds(), actor="a").guid
    with pytest.raises(Exception), store.engine.begin() as conn:  # noqa: B017 - driver-specific error class
        conn.execute(text("DELETE FROM datasets WHERE guid = :g"), {"g": guid})
    assert store.get(guid)


def test_changes_published_behind_all_arrive_in_order_when_the_block_ends(store: Store) -> None:
    calls: list[list[tuple[str, str]]] = []
    store.subscribe(lambda changes: calls.append([(c.kind, c.guid) for c in changes]))
    source = guids.mint(store.guid_prefix)
    expected: list[tuple[str, str]] = []
    with store.publishing_behind(max_changes=1000, max_wait=60):
        for i in range(6):
            saved = store.save_many(
                [NewRecord(_ds(f"set {i}.{k}"), f"u{i}.{k}") for k in range(3)],
                actor="h",
                activity="harvest",
                source_guid=source,
            )
            expected += [("created", r.guid) for r in saved]
        store.tombstone(expected[0][1], reason="gone", actor="h")
        expected.append(("tombstoned", expected[0][1]))
    assert [c for call in calls for c in call] == expected
    assert len(calls) < 7  # gathered into fewer deliveries than there were commits


def test_a_subscriber_error_behind_is_raised_when_the_block_ends(store: Store) -> None:
    def broken(changes: object) -> None:
        raise RuntimeError("index is down")

    store.subscribe(broken)
    with pytest.raises(RuntimeError, match="index is down"), store.publishing_behind():
        guid = store.save(_ds(), actor="a").guid
    assert store.get(guid).revision == 1  # the commit stands; only its delivery failed


def test_another_threads_commit_is_heard_after_the_queued_ones_and_before_its_save_returns(store: Store) -> None:
    heard: list[tuple[str, int]] = []
    store.subscribe(lambda changes: heard.extend((c.guid, c.stored.revision) for c in changes))
    guid = store.save(_ds("v1"), actor="a").guid
    heard.clear()
    seen_by_other: list[list[tuple[str, int]]] = []

    def edit() -> None:
        store.save(_ds("v3").model_copy(update={"guid": guid}), actor="web")
        seen_by_other.append(list(heard))

    with store.publishing_behind(max_changes=1000, max_wait=60):
        store.save(_ds("v2").model_copy(update={"guid": guid}), actor="bulk")  # queued, not yet heard
        other = threading.Thread(target=edit)
        other.start()
        other.join(30)
    assert seen_by_other == [[(guid, 2), (guid, 3)]]
    assert heard == [(guid, 2), (guid, 3)]


@pytest.mark.timeout(60)
def test_a_subscriber_that_writes_behind_does_not_wait_on_itself(store: Store) -> None:
    heard: list[str] = []

    def audit(changes: Sequence[Change]) -> None:
        for c in changes:
            heard.append(c.stored.dataset.title["en"])
            if c.stored.dataset.title["en"] == "Lung CT":
                store.save(_ds("derived"), actor="subscriber")

    store.subscribe(audit)
    with store.publishing_behind():
        store.save(_ds(), actor="bulk")
    assert heard == ["Lung CT", "derived"]


class _Sink:
    """A bulk sink that records what it is sent and applies it at flush/close (like the index's)."""

    def __init__(self, applied: list[list[tuple[str, str]]], fail: bool) -> None:
        self.applied, self.fail = applied, fail
        self.sent: list[tuple[str, str]] = []
        self.closed = False

    def send(self, changes: Sequence[Change]) -> None:
        self.sent.extend((c.kind, c.guid) for c in changes)

    def flush(self) -> None:
        self.applied.append(self.sent)
        self.sent = []

    def close(self, *, raise_error: bool = True) -> None:
        self.flush()
        self.closed = True
        if self.fail and raise_error:
            raise DeliveryError("the index is full")


class _BulkListener:
    """A bulk subscriber: commits of a bulk writer go to a sink, other commits to the call."""

    def __init__(self, fail: bool = False) -> None:
        self.called: list[tuple[str, str]] = []
        self.applied: list[list[tuple[str, str]]] = []
        self.sinks: list[_Sink] = []
        self.fail = fail

    def __call__(self, changes: Sequence[Change]) -> None:
        self.called.extend((c.kind, c.guid) for c in changes)

    def open_bulk(self, *, max_changes: int, max_wait: float) -> _Sink:
        self.sinks.append(_Sink(self.applied, self.fail))
        return self.sinks[-1]


def test_a_bulk_subscriber_gets_a_bulk_writers_commits_through_its_sink_closed_when_the_block_ends(
    store: Store,
) -> None:
    listener = _BulkListener()
    store.subscribe(listener)
    plain: list[tuple[str, str]] = []
    store.subscribe(lambda changes: plain.extend((c.kind, c.guid) for c in changes))
    with store.publishing_behind():
        first = store.save(_ds("a"), actor="bulk").guid
        second = store.save(_ds("b"), actor="bulk").guid
        store.tombstone(first, reason="gone", actor="bulk")
    expected = [("created", first), ("created", second), ("tombstoned", first)]
    assert isinstance(listener, BulkSubscriber)
    assert listener.applied == [expected] and listener.sinks[0].closed
    assert listener.called == [] and plain == expected  # the plain subscriber heard them behind, as before
    after = store.save(_ds("c"), actor="web").guid
    assert listener.called == [("created", after)]  # outside a block: the ordinary call


def test_another_threads_commit_during_a_bulk_write_is_applied_before_its_save_returns(store: Store) -> None:
    listener = _BulkListener()
    store.subscribe(listener)
    with store.publishing_behind():
        bulk = store.save(_ds("bulk"), actor="bulk").guid
        other = threading.Thread(target=lambda: store.save(_ds("web"), actor="web"))
        other.start()
        other.join(30)
        web_applied = list(listener.applied)
    assert [kind for batch in web_applied for kind, _ in batch] == ["created", "created"]
    assert web_applied[0][0] == ("created", bulk)  # in commit order: the bulk writer's first


def test_a_sink_that_cannot_apply_raises_delivery_error_when_the_block_ends_and_the_commits_stand(
    store: Store,
) -> None:
    store.subscribe(_BulkListener(fail=True))
    with pytest.raises(DeliveryError, match="index is full"), store.publishing_behind():
        guid = store.save(_ds(), actor="bulk").guid
    assert store.get(guid).revision == 1


def test_a_change_row_rebuilds_the_change_a_store_read_would_give(store: Store) -> None:
    heard: list[Change] = []
    store.subscribe(heard.extend)
    guid = store.save(_ds("Lung CT", keywords={"en": ["lung"]}, issued="2020-01-02"), actor="a").guid
    store.tombstone(guid, reason="gone", actor="a")
    for change in heard:
        row = ChangeRow.of(change)
        again = pickle.loads(pickle.dumps(row)).to_change()
        assert (again.kind, again.guid) == (change.kind, change.guid)
        assert again.stored == change.stored
    assert heard[-1].stored == store.get(guid)


@pytest.mark.postgres
def test_postgresql_connections_plan_each_statement_afresh_without_jit_and_keep_the_urls_options(
    pg_url: str,
) -> None:
    """A harvest grows its tables from empty within one connection; a generic plan kept from the start
    filtered every stored record of the source on each batch (316 ms a batch at 17,000 records)."""
    from catalog.db import make_engine

    engine = make_engine(f"{pg_url}?options=-c%20work_mem%3D7MB")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            assert conn.execute(text("SHOW work_mem")).scalar() == "7MB"
    finally:
        engine.dispose()


def test_unpublish_hides_a_record_from_listings_and_an_edit_keeps_it_hidden(store: Store) -> None:
    heard: list[str] = []
    store.subscribe(lambda changes: heard.extend(c.kind for c in changes))
    guid = store.save(_ds("Hidden"), actor="a").guid
    store.unpublish(guid, actor="steward")
    assert store.get(guid).status == "unpublished" and store.count() == 0
    assert [s.guid for s in store.curation_list(status="unpublished")] == [guid]
    current = store.get(guid)
    store.save(current.dataset.model_copy(update={"title": {"en": "Hidden 2"}}), actor="a")
    assert store.get(guid).status == "unpublished" and store.count() == 0
    store.publish(guid, actor="steward")
    assert store.get(guid).status == "active" and store.count() == 1
    assert heard == ["created", "unpublished", "unpublished", "restored"]
    assert [r.activity for r in store.revisions(guid)] == ["edit", "unpublish", "edit", "publish"]


def test_restore_brings_a_tombstone_back_and_refuses_a_record_that_is_not_one(store: Store) -> None:
    guid = store.save(_ds("Back"), actor="a").guid
    assert store.restore(guid, actor="steward").status == "unchanged"  # already live: nothing written
    store.unpublish(guid, actor="steward")
    with pytest.raises(StoreError):
        store.restore(guid, actor="steward")  # unpublished is not a tombstone; publish it instead
    store.publish(guid, actor="steward")
    store.tombstone(guid, reason="duplicate", actor="steward")
    store.restore(guid, actor="steward", reason="not a duplicate after all")
    stored = store.get(guid)
    assert stored.status == "active" and stored.tombstone_reason is None


def test_the_curation_list_finds_text_in_any_language_and_every_state(store: Store) -> None:
    a = store.save(_ds("Knee MRI"), actor="a").guid
    b = store.save(_ds("Lung CT"), actor="a").guid
    store.tombstone(b, reason="gone", actor="s")
    assert {s.guid for s in store.curation_list()} == {a, b}
    assert [s.guid for s in store.curation_list(text="knee")] == [a]
    assert [s.guid for s in store.curation_list(text="100%_")] == []
