"""The catalog store: datasets with GUIDs, append-only revisions, tombstones, optimistic concurrency.

All writes to datasets go through :class:`Store`. It never talks to the search index
directly: it tells its subscribers (for example the indexer) what changed after each
commit, so the index stays derived data that ``fairgate reindex`` can rebuild.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Text, bindparam, cast, func, insert, or_, select, update

from catalog import guid as guids
from catalog.changes import (
    BulkSink,
    BulkSubscriber,
    Change,
    ChangeKind,
    ChangeRow,
    Conflict,
    DatasetStatus,
    DeliveryError,
    NotFound,
    StoredDataset,
    StoreError,
    Subscriber,
    dataset_of,
)
from catalog.db import CanonicalJSON, make_sessionmaker
from catalog.tables import DatasetRow, RevisionRow
from schemas import Dataset

SaveStatus = Literal["created", "updated", "unchanged", "restored"]

__all__ = [
    "BulkSink",
    "BulkSubscriber",
    "Change",
    "ChangeKind",
    "ChangeRow",
    "Conflict",
    "DeliveryError",
    "NewRecord",
    "NotFound",
    "Page",
    "Revision",
    "SaveResult",
    "SaveStatus",
    "Store",
    "StoreError",
    "StoredDataset",
    "Subscriber",
    "canonical_json",
    "content_hash",
]


@dataclass(frozen=True)
class Revision:
    guid: str
    number: int
    content_hash: str
    activity: str
    actor: str
    reason: str | None
    created_at: datetime
    dataset: Dataset


@dataclass(frozen=True)
class SaveResult:
    guid: str
    revision: int
    status: SaveStatus


@dataclass(frozen=True)
class Page:
    items: list[StoredDataset]
    next_cursor: str | None


@dataclass(frozen=True)
class NewRecord:
    """One record for :meth:`Store.save_many`."""

    dataset: Dataset
    upstream_id: str | None = None


#: One encoder for every record (``json.dumps`` with options builds one per call); content
#: is a model dump, which cannot hold a cycle, so the encoder does not look for one.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), check_circular=False)


def canonical_json(content: dict[str, Any]) -> CanonicalJSON:
    """The canonical JSON text of a record's content (sorted keys, no spaces)."""
    return CanonicalJSON(_CANONICAL.encode(content))


def content_hash(content: dict[str, Any] | CanonicalJSON) -> str:
    """SHA-256 of the canonical JSON of a record's content."""
    text = content if isinstance(content, CanonicalJSON) else canonical_json(content)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone=True columns; we only store UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _aware_utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(str(row_id).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except Exception as exc:
        raise StoreError(f"cursor {cursor!r} is not one this server handed out; start again without it") from exc


class Store:
    """Datasets and their revisions in one SQL database."""

    def __init__(self, engine: Engine, guid_prefix: str) -> None:
        self.engine = engine
        self.guid_prefix = guid_prefix
        self._sessions = make_sessionmaker(engine)
        self._subscribers: list[Subscriber] = []
        self._behind: _Behind | None = None
        self._behind_lock = threading.Lock()

    # --- subscriptions -------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with the changes of each commit, after the commit."""
        self._subscribers.append(subscriber)

    def _publish(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        behind = self._behind
        if behind is not None:
            behind.publish(changes)
        else:
            self._deliver(changes)

    def _deliver(self, changes: Sequence[Change]) -> None:
        for sub in self._subscribers:
            sub(changes)

    @contextmanager
    def publishing_behind(self, *, max_changes: int = 2000, max_wait: float = 5.0, queued: int = 4) -> Iterator[None]:
        """Within the block, subscribers hear of this thread's commits behind it, not during it.

        For bulk writers (a harvest run): keeping the search index current then overlaps with
        the next batches instead of following each one. A :class:`BulkSubscriber` (the search
        index) gets a sink of its own, which may apply the changes in another process, so
        they do not compete with the writer for the GIL; other subscribers hear from a worker
        thread, which gathers commits into groups of about ``max_changes`` (or what waited
        ``max_wait`` seconds), so an index commits a few large batches instead of many small
        ones. Every change has been delivered when the block ends, and a subscriber's
        exception is raised there. Memory stays bounded: the group being gathered plus at
        most ``queued`` commits. Commits of other threads meanwhile are delivered in order
        behind the gathered ones, and their writer waits for that, as it would have waited
        for a synchronous delivery.
        """
        with self._behind_lock:
            nested = self._behind is not None  # nested or concurrent: its commits queue behind the active block
            if not nested:
                self._behind = _Behind(self._subscribers, max_changes=max_changes, max_wait=max_wait, queued=queued)
        if nested:
            yield
            return
        behind = self._behind
        assert behind is not None
        try:
            yield
        except BaseException as exc:
            try:
                behind.close()
            except BaseException as late:  # the block's own error goes on; this one rides along
                exc.add_note(f"also, delivering its commits failed: {late}")
            raise
        else:
            behind.close()
        finally:
            with self._behind_lock:
                self._behind = None

    # --- reads ---------------------------------------------------------------------------

    def get(self, guid: str) -> StoredDataset:
        with self._sessions() as s:
            row = s.scalar(select(DatasetRow).where(DatasetRow.guid == guid))
            if row is None:
                raise NotFound(f"no dataset with GUID {guid!r}; check the identifier or search the catalog")
            return _stored(row)

    def get_many(self, guid_list: Sequence[str]) -> list[StoredDataset]:
        """The datasets of ``guid_list`` that exist, in that order, read in one query."""
        if not guid_list:
            return []
        with self._sessions() as s:
            rows = {r.guid: r for r in s.scalars(select(DatasetRow).where(DatasetRow.guid.in_(list(guid_list))))}
            return [_stored(rows[g]) for g in guid_list if g in rows]

    def find(self, guid: str) -> StoredDataset | None:
        try:
            return self.get(guid)
        except NotFound:
            return None

    def count(self, *, include_tombstones: bool = False) -> int:
        with self._sessions() as s:
            q = select(func.count()).select_from(DatasetRow)
            if not include_tombstones:
                q = q.where(DatasetRow.status == "active")
            return int(s.scalar(q) or 0)

    def page(self, *, limit: int = 50, cursor: str | None = None, include_tombstones: bool = False) -> Page:
        """Datasets in insertion order, ``limit`` at a time; keyset paging by an opaque cursor."""
        limit = max(1, min(limit, 1000))
        after = _decode_cursor(cursor) if cursor else 0
        with self._sessions() as s:
            q = select(DatasetRow).where(DatasetRow.id > after).order_by(DatasetRow.id).limit(limit + 1)
            if not include_tombstones:
                q = q.where(DatasetRow.status == "active")
            rows = list(s.scalars(q))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([_stored(r) for r in rows], _encode_cursor(rows[-1].id) if more and rows else None)

    def iter_all(self, *, include_tombstones: bool = False, batch: int = 500) -> Iterator[StoredDataset]:
        """Every dataset, streamed in batches (bounded memory)."""
        cursor: str | None = None
        while True:
            page = self.page(limit=batch, cursor=cursor, include_tombstones=include_tombstones)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def listing(
        self,
        *,
        after_id: int = 0,
        offset: int = 0,
        limit: int = 100,
        modified_from: datetime | None = None,
        modified_before: datetime | None = None,
        include_tombstones: bool = False,
    ) -> list[tuple[int, StoredDataset]]:
        """Datasets in insertion order with their row ids, optionally only those whose last
        change falls in ``[modified_from, modified_before)``. For protocol listings (CKAN
        ``package_search`` by offset, OAI-PMH by resumption after a row id)."""
        q = select(DatasetRow).where(DatasetRow.id > after_id)
        q = self._modified_filter(q, modified_from, modified_before, include_tombstones)
        q = q.order_by(DatasetRow.id).offset(max(0, offset)).limit(max(1, min(limit, 5000)))
        with self._sessions() as s:
            return [(r.id, _stored(r)) for r in s.scalars(q)]

    def count_listing(
        self,
        *,
        modified_from: datetime | None = None,
        modified_before: datetime | None = None,
        include_tombstones: bool = False,
    ) -> int:
        """How many datasets :meth:`listing` would walk through in all."""
        q = self._modified_filter(
            select(func.count()).select_from(DatasetRow), modified_from, modified_before, include_tombstones
        )
        with self._sessions() as s:
            return int(s.scalar(q) or 0)

    def curation_list(self, *, text: str = "", status: str | None = None, limit: int = 200) -> list[StoredDataset]:
        """Every dataset whatever its state (the steward's list), newest change first, optionally only
        those in ``status`` whose content contains ``text`` (case-insensitive, any language)."""
        q = select(DatasetRow)
        if status:
            q = q.where(DatasetRow.status == status)
        if text.strip():
            needle = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(
                or_(
                    cast(DatasetRow.content, Text).ilike(f"%{needle}%", escape="\\"),
                    DatasetRow.guid.ilike(f"%{needle}%", escape="\\"),
                )
            )
        q = q.order_by(DatasetRow.updated_at.desc(), DatasetRow.id.desc()).limit(max(1, min(limit, 1000)))
        with self._sessions() as s:
            return [_stored(r) for r in s.scalars(q)]

    def earliest_change(self) -> datetime | None:
        """When the least recently changed dataset (tombstones included) last changed."""
        with self._sessions() as s:
            return _aware(s.scalar(select(func.min(DatasetRow.updated_at))))

    def _modified_filter(self, q: Any, low: datetime | None, high: datetime | None, tombstones: bool) -> Any:
        if not tombstones:
            q = q.where(DatasetRow.status == "active")
        # Stored times are UTC; SQLite keeps them as naive text, so there compare naive UTC.
        naive = self.engine.dialect.name == "sqlite"
        if low is not None:
            q = q.where(DatasetRow.updated_at >= (_naive_utc(low) if naive else _aware_utc(low)))
        if high is not None:
            q = q.where(DatasetRow.updated_at < (_naive_utc(high) if naive else _aware_utc(high)))
        return q

    def guids_of_source(self, source_guid: str) -> dict[str, str]:
        """``upstream id -> GUID`` of the active records harvested from ``source_guid``."""
        # Core, not the ORM: a harvest asks this for every record of a source (tens of thousands).
        q = select(DatasetRow.upstream_id, DatasetRow.guid).where(
            DatasetRow.source_guid == source_guid, DatasetRow.status == "active"
        )
        with self.engine.connect() as conn:
            return {u: g for u, g in conn.execute(q).all() if u is not None}

    def change_mark(self) -> tuple[int, int]:
        """``(highest revision row id, number of revision rows)``: every write adds a revision and
        none is ever removed, so this moves whenever any dataset changes (cheap: one aggregate)."""
        with self.engine.connect() as conn:
            top, rows = conn.execute(select(func.max(RevisionRow.id), func.count()).select_from(RevisionRow)).one()
        return int(top or 0), int(rows or 0)

    def changed_since(self, after_revision_id: int) -> tuple[set[str], int]:
        """GUIDs of the datasets with a revision row after ``after_revision_id``, and how many such rows."""
        q = select(RevisionRow.dataset_guid).where(RevisionRow.id > after_revision_id)
        with self.engine.connect() as conn:
            found = [g for (g,) in conn.execute(q)]
        return set(found), len(found)

    def revisions(self, guid: str) -> list[Revision]:
        with self._sessions() as s:
            rows = list(
                s.scalars(
                    select(RevisionRow).where(RevisionRow.dataset_guid == guid).order_by(RevisionRow.number)
                )
            )
        if not rows:
            self.get(guid)  # raises NotFound with a helpful message
        return [_revision(r) for r in rows]

    def revision(self, guid: str, number: int) -> Revision:
        with self._sessions() as s:
            row = s.scalar(
                select(RevisionRow).where(RevisionRow.dataset_guid == guid, RevisionRow.number == number)
            )
        if row is None:
            raise NotFound(f"dataset {guid!r} has no revision {number}")
        return _revision(row)

    # --- writes --------------------------------------------------------------------------

    def derive_guid(self, source_guid: str, upstream_id: str) -> str:
        return guids.derive(self.guid_prefix, source_guid, upstream_id)

    def save(
        self,
        dataset: Dataset,
        *,
        actor: str,
        activity: str = "edit",
        reason: str | None = None,
        expected_revision: int | None = None,
        source_guid: str | None = None,
        upstream_id: str | None = None,
    ) -> SaveResult:
        """Create or update one dataset. Identical content writes nothing.

        ``expected_revision`` makes the edit conditional: if the dataset has moved on since
        that revision, :class:`Conflict` is raised and nothing is written.
        """
        results, changes = self._write(
            [NewRecord(dataset, upstream_id)],
            actor=actor,
            activity=activity,
            reason=reason,
            source_guid=source_guid,
            expected={0: expected_revision} if expected_revision is not None else {},
        )
        self._publish(changes)
        return results[0]

    def save_many(
        self,
        records: Iterable[NewRecord],
        *,
        actor: str,
        activity: str,
        reason: str | None = None,
        source_guid: str | None = None,
    ) -> list[SaveResult]:
        """Save a batch in one transaction: all of it lands or none of it does."""
        results, changes = self._write(
            list(records), actor=actor, activity=activity, reason=reason, source_guid=source_guid, expected={}
        )
        self._publish(changes)
        return results

    def tombstone(self, guid: str, *, reason: str, actor: str) -> SaveResult:
        """Withdraw a dataset: it stays resolvable (HTTP 410) with its last metadata and the reason."""
        return self.tombstone_many([guid], reason=reason, actor=actor)[0]

    def tombstone_many(self, guid_list: Sequence[str], *, reason: str, actor: str) -> list[SaveResult]:
        if not reason.strip():
            raise StoreError("a tombstone needs a reason (it is shown to everyone who resolves the GUID)")
        now = _now()
        results: list[SaveResult] = []
        changes: list[Change] = []
        with self._sessions.begin() as s:
            for guid in guid_list:
                row = s.scalar(select(DatasetRow).where(DatasetRow.guid == guid).with_for_update())
                if row is None:
                    raise NotFound(f"no dataset with GUID {guid!r} to tombstone")
                if row.status == "tombstoned":
                    results.append(SaveResult(guid, row.revision, "unchanged"))
                    continue
                row.revision += 1
                row.status = "tombstoned"
                row.tombstone_reason = reason
                row.tombstoned_at = now
                row.updated_at = now
                s.add(_revision_row(row, "tombstone", actor, reason, now))
                results.append(SaveResult(guid, row.revision, "updated"))
                changes.append(Change("tombstoned", guid, _stored(row), canonical_json(row.content)))
        self._publish(changes)
        return results

    def unpublish(self, guid: str, *, actor: str, reason: str | None = None) -> SaveResult:
        """Hide a published dataset from search, listings and feeds; stewards still resolve it."""
        return self._set_status(guid, "unpublished", frm=("active",), activity="unpublish", actor=actor, reason=reason)

    def publish(self, guid: str, *, actor: str, reason: str | None = None) -> SaveResult:
        """Make an unpublished dataset public again."""
        return self._set_status(guid, "active", frm=("unpublished",), activity="publish", actor=actor, reason=reason)

    def restore(self, guid: str, *, actor: str, reason: str | None = None) -> SaveResult:
        """Bring a tombstoned dataset back, published, with its last metadata."""
        return self._set_status(guid, "active", frm=("tombstoned",), activity="restore", actor=actor, reason=reason)

    def _set_status(
        self, guid: str, to: str, *, frm: tuple[str, ...], activity: str, actor: str, reason: str | None
    ) -> SaveResult:
        now = _now()
        with self._sessions.begin() as s:
            row = s.scalar(select(DatasetRow).where(DatasetRow.guid == guid).with_for_update())
            if row is None:
                raise NotFound(f"no dataset with GUID {guid!r}")
            if row.status == to:
                return SaveResult(guid, row.revision, "unchanged")
            if row.status not in frm:
                raise StoreError(f"dataset {guid} is {row.status}; it cannot be {activity}ed from there")
            row.revision += 1
            row.status = to
            row.tombstone_reason = None
            row.tombstoned_at = None
            row.updated_at = now
            s.add(_revision_row(row, activity, actor, reason, now))
            result = SaveResult(guid, row.revision, "restored" if to == "active" else "updated")
            kind: ChangeKind = "restored" if to == "active" else "unpublished"
            change = Change(kind, guid, _stored(row), canonical_json(row.content))
        self._publish([change])
        return result

    def _write(
        self,
        records: list[NewRecord],
        *,
        actor: str,
        activity: str,
        reason: str | None,
        source_guid: str | None,
        expected: dict[int, int],
    ) -> tuple[list[SaveResult], list[Change]]:
        now = _now()
        prepared: list[tuple[str, Dataset, CanonicalJSON, str, str | None]] = []
        derive = guids.deriver(self.guid_prefix, source_guid) if source_guid else None
        for rec in records:
            ds = rec.dataset
            if ds.guid:
                guid = ds.guid
            elif derive is not None and rec.upstream_id:
                guid = derive(rec.upstream_id)
            else:
                guid = guids.mint(self.guid_prefix)
            # Serialised once: the same text is hashed and written to both rows (see catalog.db).
            content = canonical_json(ds.content())
            prepared.append((guid, ds, content, content_hash(content), rec.upstream_id))

        results: list[SaveResult] = []
        changes: list[Change] = []
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        revisions: list[dict[str, Any]] = []
        # Core statements, not the ORM unit of work: a harvest batch is thousands of rows and
        # the unit of work costs several times the SQL itself (bench/bench_store.py).
        listening = bool(self._subscribers)
        with self.engine.begin() as conn:
            existing = _load_existing(conn, [p[0] for p in prepared])
            for i, (guid, ds, content, digest, upstream_id) in enumerate(prepared):
                row = existing.get(guid)
                if i in expected and (row is None or row.revision != expected[i]):
                    current = "none" if row is None else str(row.revision)
                    raise Conflict(
                        f"dataset {guid} is at revision {current}, not {expected[i]}: "
                        "reload it, reapply your edit and save again"
                    )
                if row is None:
                    row = _Head(guid, 1, digest, "active", source_guid, upstream_id, now)
                    existing[guid] = row
                    inserts.append(
                        {
                            "guid": guid,
                            "revision": 1,
                            "content_hash": digest,
                            "content": content,
                            "status": "active",
                            "source_guid": source_guid,
                            "upstream_id": upstream_id,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    status: SaveStatus = "created"
                else:
                    restored = row.status == "tombstoned"
                    # An edit keeps an unpublished record unpublished; only a tombstone comes back.
                    kept: str = "unpublished" if row.status == "unpublished" else "active"
                    if row.content_hash == digest and not restored:
                        results.append(SaveResult(guid, row.revision, "unchanged"))
                        continue
                    row.revision += 1
                    row.content_hash = digest
                    row.status = kept
                    if source_guid and row.source_guid is None:
                        row.source_guid, row.upstream_id = source_guid, upstream_id
                    pending = next((r for r in inserts if r["guid"] == guid), None) if row.fresh else None
                    if pending is not None:  # the same GUID twice in one batch: the last one wins
                        pending.update(revision=row.revision, content_hash=digest, content=content)
                    else:
                        updates.append(
                            {
                                "b_guid": guid,
                                "revision": row.revision,
                                "content_hash": digest,
                                "content": content,
                                "status": row.status,
                                "tombstone_reason": None,
                                "tombstoned_at": None,
                                "source_guid": row.source_guid,
                                "upstream_id": row.upstream_id,
                                "updated_at": now,
                            }
                        )
                    status = "restored" if restored else "updated"
                revisions.append(
                    {
                        "dataset_guid": guid,
                        "number": row.revision,
                        "content_hash": digest,
                        "content": content,
                        "activity": activity,
                        "actor": actor,
                        "reason": reason,
                        "created_at": now,
                    }
                )
                results.append(SaveResult(guid, row.revision, status))
                if not listening:  # nobody to tell: skip copying the dataset for a change record
                    continue
                stored = StoredDataset(
                    dataset=ds.model_copy(update={"guid": guid}),
                    guid=guid,
                    revision=row.revision,
                    status="unpublished" if row.status == "unpublished" else "active",
                    content_hash=digest,
                    created_at=row.created_at,
                    updated_at=now,
                    source_guid=row.source_guid,
                    upstream_id=row.upstream_id,
                )
                kind: ChangeKind = "unpublished" if row.status == "unpublished" else "updated"
                if status in ("created", "restored"):
                    kind = "created" if status == "created" else "restored"
                changes.append(Change(kind, guid, stored, content))
            if inserts:
                conn.execute(insert(DatasetRow), inserts)
            if updates:
                conn.execute(
                    update(DatasetRow)
                    .where(DatasetRow.guid == bindparam("b_guid"))
                    .values({k: bindparam(k) for k in updates[0] if k != "b_guid"}),
                    updates,
                )
            if revisions:
                conn.execute(insert(RevisionRow), revisions)
        return results, changes


class _Behind:
    """The deliveries of one ``publishing_behind`` block: bulk sinks, and a worker thread for
    the subscribers that have none."""

    def __init__(self, subscribers: Sequence[Subscriber], *, max_changes: int, max_wait: float, queued: int) -> None:
        self._owner = threading.get_ident()
        self._subscribers = list(subscribers)
        self._lock = threading.Lock()
        self._closed = False
        self._error: Exception | None = None  # a sink's failure to take a commit
        self._sinks: list[BulkSink] = []
        plain: list[Subscriber] = []
        try:
            for sub in self._subscribers:
                if isinstance(sub, BulkSubscriber):
                    self._sinks.append(sub.open_bulk(max_changes=max_changes, max_wait=max_wait))
                else:
                    plain.append(sub)
        except BaseException:
            for sink in self._sinks:
                sink.close(raise_error=False)
            raise

        def deliver(changes: Sequence[Change]) -> None:
            for sub in plain:
                sub(changes)

        self._publisher = (
            _Publisher(deliver, max_changes=max_changes, max_wait=max_wait, queued=queued) if plain else None
        )

    def publish(self, changes: Sequence[Change]) -> None:
        with self._lock:
            closed = self._closed
            if not closed:
                for sink in self._sinks:
                    try:
                        sink.send(changes)
                        if threading.get_ident() != self._owner:
                            # Another thread's commit: its writer waits until it is applied, as it
                            # would have for a synchronous delivery (the sink keeps commit order).
                            sink.flush()
                    except Exception as exc:
                        # The commit has happened: raising here would tell its writer the write
                        # failed (a harvest retries such a batch, finds it unchanged, and the
                        # changes never reach the sink). The block's end raises it instead.
                        self._error = self._error or exc
        if closed:  # a late commit of another thread, after the block ended: delivered as usual
            for sub in self._subscribers:
                sub(changes)
        elif self._publisher is not None:
            self._publisher.publish(changes)

    def close(self, *, raise_error: bool = True) -> None:
        """Deliver everything; then raise the first error (a sink's, else a subscriber's)."""
        with self._lock:
            self._closed = True
        error: BaseException | None = None
        if self._error is not None and raise_error:
            late = f"{type(self._error).__name__}: {self._error}"
            error = DeliveryError(f"a commit could not be handed to the search index ({late}); the records are stored")
        for sink in self._sinks:
            try:
                sink.close(raise_error=raise_error)
            except BaseException as exc:
                error = error or exc
        if self._publisher is not None:
            try:
                self._publisher.close(raise_error=raise_error)
            except BaseException as exc:
                error = error or exc
        if error is not None:
            raise error


class _Publisher:
    """A worker thread that delivers queued changes to the subscribers, in commit order."""

    _STOP = object()

    def __init__(self, deliver: Subscriber, *, max_changes: int, max_wait: float, queued: int) -> None:
        self._deliver = deliver
        self._max = max(1, max_changes)
        self._max_wait = max_wait
        self._owner = threading.get_ident()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queued))
        self._lock = threading.Lock()
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="store-publisher", daemon=True)
        self._thread.start()

    def publish(self, changes: Sequence[Change]) -> None:
        if threading.get_ident() == self._owner:
            self._queue.put((list(changes), None))
            return
        if threading.current_thread() is self._thread:  # a subscriber that writes: no waiting on itself
            self._deliver(changes)
            return
        # Another thread's commit: delivered after the queued ones (the index must not end
        # with an older version of a record), and its writer waits, as it would have anyway.
        done: threading.Event | None = None
        with self._lock:
            if not self._closed:
                done = threading.Event()
                self._queue.put((list(changes), done))
        if done is not None:
            done.wait()
        else:
            self._thread.join()
            self._deliver(changes)

    def _work(self) -> None:
        pending: list[Change] = []
        waiters: list[threading.Event] = []
        due = 0.0
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=max(0.0, due - time.monotonic()) if pending else None)
            except queue.Empty:
                item = None  # the oldest pending change has waited long enough
            if item is self._STOP:
                stop = True
            elif item is not None:
                if not pending:
                    due = time.monotonic() + self._max_wait
                pending.extend(item[0])
                if item[1] is not None:
                    waiters.append(item[1])
            # Deliver large groups (an index commits a few big batches, not many small ones),
            # but never keep another thread's writer, or an old change, waiting.
            if pending and (stop or item is None or waiters or len(pending) >= self._max):
                try:
                    self._deliver(pending)
                except BaseException as exc:  # raised to the bulk writer when its block ends
                    if self._error is None:
                        self._error = exc
                finally:
                    for w in waiters:
                        w.set()
                pending, waiters = [], []

    def close(self, *, raise_error: bool = True) -> None:
        """Wait until every queued change is delivered; raise a subscriber's error."""
        with self._lock:
            self._closed = True
            self._queue.put(self._STOP)
        self._thread.join()
        if raise_error and self._error is not None:
            raise self._error


@dataclass
class _Head:
    """The bookkeeping columns of a dataset row, enough to decide what a save must do."""

    guid: str
    revision: int
    content_hash: str
    status: str
    source_guid: str | None
    upstream_id: str | None
    created_at: datetime
    fresh: bool = True


def _load_existing(conn: Connection, guid_list: list[str]) -> dict[str, _Head]:
    found: dict[str, _Head] = {}
    cols = (
        DatasetRow.guid,
        DatasetRow.revision,
        DatasetRow.content_hash,
        DatasetRow.status,
        DatasetRow.source_guid,
        DatasetRow.upstream_id,
        DatasetRow.created_at,
    )
    # Chunked IN lists keep us under SQLite's bound-parameter limit on big batches; FOR UPDATE
    # serialises concurrent writers of the same records on PostgreSQL.
    for start in range(0, len(guid_list), 500):
        chunk = guid_list[start : start + 500]
        for r in conn.execute(select(*cols).where(DatasetRow.guid.in_(chunk)).with_for_update()):
            found[r.guid] = _Head(
                r.guid, r.revision, r.content_hash, r.status, r.source_guid, r.upstream_id,
                _aware(r.created_at) or _now(), fresh=False,
            )  # fmt: skip
    return found


def _revision_row(row: DatasetRow, activity: str, actor: str, reason: str | None, now: datetime) -> RevisionRow:
    return RevisionRow(
        dataset_guid=row.guid,
        number=row.revision,
        content_hash=row.content_hash,
        content=row.content,
        activity=activity,
        actor=actor,
        reason=reason,
        created_at=now,
    )


_STATUSES: dict[str, DatasetStatus] = {"active": "active", "unpublished": "unpublished", "tombstoned": "tombstoned"}


def _stored(row: DatasetRow, dataset: Dataset | None = None) -> StoredDataset:
    ds = dataset.model_copy(update={"guid": row.guid}) if dataset is not None else dataset_of(row.guid, row.content)
    return StoredDataset(
        dataset=ds,
        guid=row.guid,
        revision=row.revision,
        status=_STATUSES.get(row.status, "active"),
        content_hash=row.content_hash,
        created_at=_aware(row.created_at) or _now(),
        updated_at=_aware(row.updated_at) or _now(),
        source_guid=row.source_guid,
        upstream_id=row.upstream_id,
        tombstone_reason=row.tombstone_reason,
        tombstoned_at=_aware(row.tombstoned_at),
    )


def _revision(row: RevisionRow) -> Revision:
    return Revision(
        guid=row.dataset_guid,
        number=row.number,
        content_hash=row.content_hash,
        activity=row.activity,
        actor=row.actor,
        reason=row.reason,
        created_at=_aware(row.created_at) or _now(),
        dataset=dataset_of(row.dataset_guid, row.content),
    )
