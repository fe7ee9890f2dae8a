"""What the store tells others about datasets: stored records, change records, errors, and the
subscriber protocols.

Plain data only, no database: a process that only follows changes (the search indexer's
child process) imports this, not SQLAlchemy. :mod:`catalog.store` re-exports every name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:  # a process that only reads rows (the search indexer) need not load the models
    from schemas import Dataset

ChangeKind = Literal["created", "updated", "restored", "tombstoned", "unpublished"]
#: Publication states: active (published), unpublished (hidden from search, listings and feeds but
#: resolvable to stewards), tombstoned (withdrawn; resolves as 410 with the reason).
DatasetStatus = Literal["active", "unpublished", "tombstoned"]
#: Kinds of change after which a record must leave the search index.
GONE_KINDS = frozenset({"tombstoned", "unpublished"})


class StoreError(Exception):
    """Base of store errors; ``code`` is stable for API clients."""

    code = "store_error"


class NotFound(StoreError):
    code = "not_found"


class Conflict(StoreError):
    """An edit was based on a revision that is no longer current (HTTP 409)."""

    code = "stale_revision"


@dataclass(frozen=True)
class StoredDataset:
    """A dataset as the store holds it, with its bookkeeping."""

    dataset: Dataset
    guid: str
    revision: int
    status: DatasetStatus
    content_hash: str
    created_at: datetime
    updated_at: datetime
    source_guid: str | None = None
    upstream_id: str | None = None
    tombstone_reason: str | None = None
    tombstoned_at: datetime | None = None

    @property
    def is_tombstone(self) -> bool:
        return self.status == "tombstoned"

    @property
    def is_unpublished(self) -> bool:
        return self.status == "unpublished"


@dataclass(frozen=True)
class Change:
    """What a subscriber hears after a commit."""

    kind: ChangeKind
    guid: str
    stored: StoredDataset
    #: The canonical JSON the store wrote for the content, when it has it at hand: a
    #: subscriber in another process rebuilds ``stored`` from it instead of a pickled model.
    content: str | None = None


class ChangeRow(NamedTuple):
    """A :class:`Change` as plain data (cheap to pickle): what another process needs to hear it.

    The content travels as the canonical JSON the store wrote, and the dataset is rebuilt
    from it as a store read would (``to_change``), so a subscriber in another process sees
    exactly what ``fairgate reindex`` would see.
    """

    kind: ChangeKind
    guid: str
    content: str
    revision: int
    status: DatasetStatus
    content_hash: str
    created_at: datetime
    updated_at: datetime
    source_guid: str | None
    upstream_id: str | None
    tombstone_reason: str | None
    tombstoned_at: datetime | None

    @classmethod
    def of(cls, change: Change) -> ChangeRow:
        s = change.stored
        content = change.content
        if content is None:  # only the store's own process builds rows; it has the store loaded
            from catalog.store import canonical_json

            content = canonical_json(s.dataset.content())
        # A plain str: the store's CanonicalJSON marker class would make the receiving
        # process import catalog.db (and SQLAlchemy) just to unpickle it.
        return cls(
            change.kind, change.guid, str(content), s.revision, s.status, s.content_hash, s.created_at, s.updated_at,
            s.source_guid, s.upstream_id, s.tombstone_reason, s.tombstoned_at,
        )  # fmt: skip

    def to_change(self) -> Change:
        stored = StoredDataset(
            dataset=dataset_of(self.guid, json.loads(self.content)),
            guid=self.guid,
            revision=self.revision,
            status=self.status,
            content_hash=self.content_hash,
            created_at=self.created_at,
            updated_at=self.updated_at,
            source_guid=self.source_guid,
            upstream_id=self.upstream_id,
            tombstone_reason=self.tombstone_reason,
            tombstoned_at=self.tombstoned_at,
        )
        return Change(self.kind, self.guid, stored, self.content)


Subscriber = Callable[[Sequence[Change]], None]


class DeliveryError(StoreError):
    """Changes were committed, but a subscriber fed behind a bulk writer could not take them."""

    code = "delivery_failed"


class BulkSink(Protocol):
    """Where a bulk writer's commits go instead of a subscriber's call (e.g. another process)."""

    def send(self, changes: Sequence[Change]) -> None:
        """Take the changes of one commit; may return before they are applied."""
        ...

    def flush(self) -> None:
        """Return once everything sent is applied (an error waits for ``close``)."""
        ...

    def close(self, *, raise_error: bool = True) -> None:
        """Apply everything sent, release what the sink holds; raise :class:`DeliveryError` if
        anything could not be applied (and ``raise_error``)."""
        ...


@runtime_checkable
class BulkSubscriber(Protocol):
    """A subscriber that takes a bulk writer's commits its own way (``publishing_behind``)."""

    def __call__(self, changes: Sequence[Change]) -> None: ...

    def open_bulk(self, *, max_changes: int, max_wait: float) -> BulkSink: ...


def dataset_of(guid: str, content: dict[str, Any]) -> Dataset:
    """The dataset stored under ``guid`` with ``content`` (a store read)."""
    from schemas import Dataset

    return Dataset.model_validate({**content, "guid": guid})
