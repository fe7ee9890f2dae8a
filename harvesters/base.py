"""What every harvester yields and the protocol it follows: a stream of :class:`HarvestedRecord`.

Sources are pure: they fetch and map, they never write to the store. The run engine in
``catalog.harvest`` decides what a record means for the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import ValidationError

from schemas import Dataset

Stage = Literal["fetch", "parse", "map", "validate"]


@dataclass(frozen=True)
class RecordError:
    """Why one record could not be harvested; ``stage`` says where it went wrong."""

    stage: Stage
    reason: str


@dataclass(frozen=True)
class HarvestedRecord:
    """One upstream record: its id, when it changed upstream, its raw payload, and the result.

    At most one of ``dataset`` and ``error`` is set; neither means the source found the
    payload unchanged (see ``meta``).
    """

    upstream_id: str
    modified: datetime | None
    raw: Any
    dataset: Dataset | None = None
    error: RecordError | None = None
    # Extra facts a source knows; not stored. Keys the engine reads: "total" (records upstream,
    # for progress), "digest" (payload digest for unchanged detection), "gap" (this failure
    # hides an unknown number of records, e.g. a page that did not parse: do not withdraw),
    # "deleted" (upstream says the record was deleted: withdraw it once the listing completes).
    # A record with neither dataset nor error means "payload unchanged since the last run".
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.dataset is not None and self.error is None


class SourceError(Exception):
    """The listing itself failed (after retries): the run cannot know what exists upstream."""


@runtime_checkable
class Source(Protocol):
    """A remote or local catalog, read as a stream of records (bounded memory).

    ``records(since=None)`` is a full listing: when it finishes without raising
    :class:`SourceError`, every upstream record has been yielded (ok or failed), so the
    engine may tombstone what was not seen. With ``since`` only records modified at or
    after that time need be yielded (an incremental run, which never tombstones).
    """

    kind: str

    def records(self, since: datetime | None = None) -> Iterator[HarvestedRecord]: ...


def validation_reason(exc: ValidationError) -> str:
    """A readable one-line summary of a pydantic error: field, then what is wrong."""
    parts = []
    for e in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in e["loc"]) or "record"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def failed(
    upstream_id: str, stage: Stage, reason: str, raw: Any = None, modified: datetime | None = None
) -> HarvestedRecord:
    return HarvestedRecord(upstream_id, modified, raw, None, RecordError(stage, reason))
