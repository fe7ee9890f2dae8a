"""Attach the configured search index to a freshly opened context and keep it current.

The index goes into ``ctx.extensions["search"]`` and subscribes to the store, so every
create, update, restore, tombstone and harvest batch reaches it after commit. An empty
index over a non-empty store (first start, deleted index directory) is rebuilt at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from catalog.search.index import SearchIndex, apply_changes, open_index
from catalog.store import Change

if TYPE_CHECKING:  # context.py imports this module to list it among its attachments
    from catalog.context import Context

log = logging.getLogger("fairgate.search")

EXTENSION = "search"


def attach_search(ctx: Context) -> None:
    index = open_index(ctx.settings)
    ctx.extensions[EXTENSION] = index

    def on_change(changes: Sequence[Change]) -> None:
        try:
            apply_changes(index, changes)
        except Exception:
            # The store has committed; a failed index update must not undo that for the
            # user. The index is derived data: `fairgate reindex` repairs it.
            log.exception("search index update failed; run `fairgate reindex`")

    ctx.store.subscribe(on_change)
    if index.count() == 0 and ctx.store.count() > 0:
        log.info("search index is empty; building it from the store")
        index.rebuild(ctx.store.iter_all())


def search_index(ctx: Context) -> SearchIndex:
    """The context's index (attaching it if this context was opened without it)."""
    if EXTENSION not in ctx.extensions:
        attach_search(ctx)
    index: SearchIndex = ctx.extensions[EXTENSION]
    return index
