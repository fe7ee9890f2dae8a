"""Attach the configured search index to a freshly opened context and keep it current.

The index goes into ``ctx.extensions["search"]`` and subscribes to the store, so every
create, update, restore, tombstone and harvest batch reaches it after commit. A bulk
writer's commits (``Store.publishing_behind``, a harvest run) are applied by a child
process once they are many (``index_process.py``), so indexing runs on another core. An
empty index over a non-empty store (first start, deleted index directory) is rebuilt at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from catalog.search.index import SearchIndex, apply_changes, open_index
from catalog.search.index_process import START_AFTER, IndexProcess
from catalog.settings import Settings
from catalog.store import BulkSink, Change

if TYPE_CHECKING:  # context.py imports this module to list it among its attachments
    from catalog.context import Context

log = logging.getLogger("fairgate.search")

EXTENSION = "search"
SUBSCRIBER = "search.subscriber"


class IndexSubscriber:
    """The store subscriber that keeps ``index`` current (a :class:`catalog.store.BulkSubscriber`)."""

    def __init__(self, index: SearchIndex, settings: Settings, *, start_after: int = START_AFTER) -> None:
        self.index = index
        self.settings = settings
        #: Changes of a bulk write from which on a child process applies them.
        self.start_after = start_after

    def __call__(self, changes: Sequence[Change]) -> None:
        try:
            apply_changes(self.index, changes)
        except Exception:
            # The store has committed; a failed index update must not undo that for the
            # user. The index is derived data: `fairgate reindex` repairs it.
            log.exception("search index update failed; run `fairgate reindex`")

    def open_bulk(self, *, max_changes: int, max_wait: float) -> BulkSink:
        # A bulk writer hears of a failed update when its write ends (DeliveryError).
        return IndexProcess(
            self.settings, self.index, max_changes=max_changes, max_wait=max_wait, start_after=self.start_after
        )


def attach_search(ctx: Context) -> None:
    index = open_index(ctx.settings)
    ctx.extensions[EXTENSION] = index
    subscriber = IndexSubscriber(index, ctx.settings)
    ctx.extensions[SUBSCRIBER] = subscriber
    ctx.store.subscribe(subscriber)
    if index.count() == 0 and ctx.store.count() > 0:
        log.info("search index is empty; building it from the store")
        index.rebuild(ctx.store.iter_all())


def search_index(ctx: Context) -> SearchIndex:
    """The context's index (attaching it if this context was opened without it)."""
    if EXTENSION not in ctx.extensions:
        attach_search(ctx)
    index: SearchIndex = ctx.extensions[EXTENSION]
    return index
