"""Assemble a deployment from its settings: the store, the search index, the consent registry.

The CLI and the web app both start here, so there is one way to open fairgate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.bootstrap import open_store
from catalog.search.attach import attach_search
from catalog.settings import Settings
from catalog.store import Store


@dataclass
class Context:
    settings: Settings
    store: Store
    # Filled by the parts that attach themselves (search index, …); typed loosely so that
    # this module does not import every backend.
    extensions: dict[str, Any] = field(default_factory=dict)


def open_context(settings: Settings) -> Context:
    """Open (and migrate) everything ``settings`` describes."""
    store = open_store(settings)
    ctx = Context(settings=settings, store=store)
    for attach in _ATTACHMENTS:
        attach(ctx)
    return ctx


# Parts that hook themselves into a freshly opened context, e.g. the search indexer
# subscribing to store changes. Each is ``Callable[[Context], None]``.
_ATTACHMENTS: list[Any] = [attach_search]
