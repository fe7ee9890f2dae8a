"""The :class:`SearchIndex` interface every backend implements, and ``open_index(settings)``.

Callers (API, pages, CLI) only see this interface and the data of ``query.py``; which
engine answers is a setting (``FAIRGATE_SEARCH_BACKEND``: ``embedded``, the default, which is
tantivy; ``sqlite`` for the SQLite FTS5 index; or ``elasticsearch``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from catalog.changes import GONE_KINDS, Change, ChangeRow, StoredDataset
from catalog.search.document import SearchDocument, build_document, document_of_content
from catalog.search.query import SearchQuery, SearchResults
from catalog.settings import Settings

Progress = Callable[[int], None]


class Suggestion(BaseModel):
    """An autocomplete entry: a dataset title (with its GUID) or a keyword."""

    text: str
    kind: str
    guid: str | None = None
    count: int = 1


@runtime_checkable
class SearchIndex(Protocol):
    backend: str

    def search(self, query: SearchQuery) -> SearchResults:
        """Ranked, filtered, faceted results; never raises on odd query text."""
        ...

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """Titles and keywords starting with ``prefix`` (or with a word starting with it)."""
        ...

    def upsert(self, documents: Sequence[SearchDocument]) -> None: ...

    def remove(self, guids: Sequence[str]) -> None: ...

    def rebuild(self, records: Iterable[StoredDataset], progress: Progress | None = None) -> int:
        """Replace the whole index with ``records`` (active ones); readers never see a half-built index."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def document_of(stored: StoredDataset) -> SearchDocument:
    return build_document(stored.dataset, stored.guid, updated=stored.updated_at)


def document_of_row(row: ChangeRow) -> SearchDocument:
    """The document of a change handed over as a row: built from its canonical JSON, which
    gives what a store read would (see ``document_of_content``) without validating it again."""
    try:
        return document_of_content(row.guid, json.loads(row.content), updated=row.updated_at)
    except (KeyError, TypeError, ValueError, AttributeError):  # content of a shape it does not know
        return document_of(row.to_change().stored)


@runtime_checkable
class AppliesGroups(Protocol):
    """A backend that applies a group of documents and removals itself (tantivy: one commit,
    no delete for records the store has just created)."""

    def apply_group(self, documents: Iterable[SearchDocument], gone: Sequence[str], new: frozenset[str]) -> None: ...


class Group:
    """A group of changes reduced to what the index must do: the last change of a record
    decides (a group may tombstone and then restore it). Documents are built as changes
    are added, so a caller can build them while it waits for more."""

    def __init__(self) -> None:
        self._final: dict[str, tuple[str, SearchDocument | None]] = {}

    def __len__(self) -> int:
        return len(self._final)

    def add(self, changes: Iterable[Change]) -> None:
        for c in changes:
            self._final.pop(c.guid, None)  # keep the order of last changes
            self._final[c.guid] = (c.kind, None if c.kind in GONE_KINDS else document_of(c.stored))

    def add_rows(self, rows: Iterable[ChangeRow]) -> None:
        """Like :meth:`add`, for changes handed over as rows (from another process)."""
        for r in rows:
            self._final.pop(r.guid, None)
            self._final[r.guid] = (r.kind, None if r.kind in GONE_KINDS else document_of_row(r))

    def clear(self) -> None:
        self._final = {}

    def apply(self, index: SearchIndex) -> None:
        final, self._final = self._final, {}
        gone = [g for g, (kind, _) in final.items() if kind in GONE_KINDS]
        live = [doc for _, doc in final.values() if doc is not None]
        new = frozenset(g for g, (kind, _) in final.items() if kind == "created")
        if isinstance(index, AppliesGroups):
            index.apply_group(live, gone, new)
            return
        if live:
            index.upsert(live)
        if gone:
            index.remove(gone)


def apply_changes(index: SearchIndex, changes: Sequence[Change]) -> None:
    """Keep ``index`` current with what the store just committed."""
    group = Group()
    group.add(changes)
    group.apply(index)


@runtime_checkable
class NoticesOutsideWrites(Protocol):
    """A backend whose readers do not see another process's commits at once (tantivy)."""

    def notice_outside_writes(self) -> None: ...


def notice_outside_writes(index: SearchIndex) -> None:
    """Make ``index`` show at once what another process has just written to it."""
    if isinstance(index, NoticesOutsideWrites):
        index.notice_outside_writes()


def open_index(settings: Settings) -> SearchIndex:
    """Open the index ``settings`` names, creating an empty one when needed."""
    backend = settings.search_backend.strip().lower()
    if backend in ("embedded", "tantivy"):
        # tantivy, not FTS5, by measurement: bench/bench_search.py at 100k records.
        from catalog.search.tantivy_backend import TantivyIndex

        return TantivyIndex.open(settings.resolved_search_index_path(), data_dir=settings.data_dir)
    if backend == "sqlite":
        from catalog.search.embedded import EmbeddedIndex

        return EmbeddedIndex.open(settings.resolved_search_index_path(), data_dir=settings.data_dir)
    if backend == "elasticsearch":
        from catalog.search.elasticsearch import ElasticsearchIndex

        if not settings.elasticsearch_url:
            raise ValueError(
                "FAIRGATE_SEARCH_BACKEND=elasticsearch needs FAIRGATE_ELASTICSEARCH_URL "
                "(for example http://127.0.0.1:9200)"
            )
        return ElasticsearchIndex.connect(
            settings.elasticsearch_url, settings.elasticsearch_index, data_dir=settings.data_dir
        )
    raise ValueError(
        f"FAIRGATE_SEARCH_BACKEND={backend!r} is not known; use 'embedded' (tantivy), 'sqlite' or 'elasticsearch'"
    )


def active(records: Iterable[StoredDataset]) -> Iterable[StoredDataset]:
    return (r for r in records if r.status == "active")
