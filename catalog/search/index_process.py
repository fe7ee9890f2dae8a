"""Keep the search index current from a child process while a bulk writer (a harvest run) writes.

In a thread of the writing process, analysing and indexing records takes turns with
fetching, mapping and writing them on one core (the GIL); a child process does it on
another. The child opens the same index from the settings and is fed the committed changes
as plain rows (the canonical JSON the store wrote, see :class:`catalog.store.ChangeRow`)
through a bounded queue; it applies them in groups of about ``max_changes`` (one index
commit each). A bulk write smaller than ``start_after`` changes is not worth a process
start: it is applied here, in one group, when the write ends.

Sending and flushing never raise (a commit has happened; its writer must not take a
delivery problem for its own): an error in the child, or a child that died, is raised as
:class:`catalog.store.DeliveryError` when the sink closes, that is when the bulk write ends. Nothing
reaches the index that the store has not committed.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
import threading
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from typing import Any

from catalog.search.index import Group, SearchIndex, apply_changes, notice_outside_writes, open_index
from catalog.settings import Settings
from catalog.store import Change, ChangeRow, DeliveryError

#: Changes of a bulk write below which no process is started (applied here when it ends).
START_AFTER = 200
#: Messages (commits) queued towards the child before the writer waits for it: bounds memory.
QUEUED = 4
#: How often a waiting parent checks that the child is still alive (seconds).
_POLL = 0.5
#: The child's collector thresholds: a young-object scan every 20,000 allocations, not 700.
_GC_THRESHOLDS = (20_000, 20, 20)
_REINDEX = "the records are stored; run `fairgate reindex` to bring the search index up to date"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class IndexProcess:
    """A :class:`catalog.store.BulkSink` applying a bulk writer's changes from a child process."""

    def __init__(
        self,
        settings: Settings,
        index: SearchIndex,
        *,
        max_changes: int,
        max_wait: float,
        start_after: int = START_AFTER,
        queued: int = QUEUED,
    ) -> None:
        self._settings = settings
        self._index = index
        self._max_changes = max(1, max_changes)
        self._max_wait = max_wait
        self._start_after = max(1, start_after)
        self._queued = max(1, queued)
        self._lock = threading.Lock()
        self._held: list[Change] = []  # changes sent before the child is started
        self._process: BaseProcess | None = None
        self._inbox: Any = None
        self._outbox: Any = None
        self._flushes = 0
        self._error: str | None = None
        self._closed = False

    @property
    def started(self) -> bool:
        """Whether a child process was started (the write was large enough)."""
        return self._process is not None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # --- BulkSink ------------------------------------------------------------------------

    def send(self, changes: Sequence[Change]) -> None:
        with self._lock:
            if self._process is None:
                self._held.extend(changes)
                if len(self._held) < self._start_after:
                    return
                changes, self._held = self._held, []
                self._start()
            if self._error is None:  # a dead child takes nothing more; the error is raised at close
                self._put(("rows", [ChangeRow.of(c) for c in changes]))

    def flush(self) -> None:
        with self._lock:
            if self._process is None:
                self._apply_here()
            else:
                self._round_trip("flush")

    def close(self, *, raise_error: bool = True) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._process is None:
                self._apply_here()
            else:
                try:
                    self._round_trip("stop")
                finally:
                    self._stop_child()
            if raise_error:
                self._raise()

    # --- in this process -------------------------------------------------------------------

    def _apply_here(self) -> None:
        held, self._held = self._held, []
        if held:
            try:
                apply_changes(self._index, held)
            except Exception as exc:
                self._error = self._error or _describe(exc)

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise DeliveryError(f"the search index could not take this run's changes ({error}); {_REINDEX}")

    # --- the child -------------------------------------------------------------------------

    def _start(self) -> None:
        # spawn, not fork: a forked child would inherit the writer's threads' locks and open
        # database connections; this one imports only what indexing needs.
        ctx = multiprocessing.get_context("spawn")
        self._inbox = ctx.Queue(maxsize=self._queued)
        self._outbox = ctx.Queue()
        self._process = ctx.Process(
            target=_serve,
            args=(self._settings, self._inbox, self._outbox, self._max_changes, self._max_wait),
            name="fairgate-indexer",
            daemon=True,
        )
        self._process.start()

    def _alive(self) -> bool:
        assert self._process is not None
        if self._process.is_alive():
            return True
        self._error = self._error or f"the indexing process exited unexpectedly (exit code {self._process.exitcode})"
        return False

    def _put(self, message: tuple[str, Any]) -> bool:
        while True:
            try:
                self._inbox.put(message, timeout=_POLL)
                return True
            except queue.Full:
                if not self._alive():
                    return False

    def _round_trip(self, kind: str) -> None:
        """Send ``kind`` (flush or stop) and wait until the child says every earlier change is applied."""
        self._flushes += 1
        number = self._flushes
        if not self._put((kind, number)):
            return
        while True:
            try:
                _, answered, error = self._outbox.get(timeout=_POLL)
            except queue.Empty:
                if not self._alive():
                    return
                continue
            if error is not None:
                self._error = self._error or error
            if answered == number:
                break
        notice_outside_writes(self._index)

    def _stop_child(self) -> None:
        assert self._process is not None
        self._process.join(timeout=30)
        if self._process.is_alive():  # it did not answer "stop": it is stuck, not working for us
            self._process.kill()
            self._process.join()
        # The child has taken every message it answered for; after a crash nobody reads what
        # is left, and waiting for it to be written would wait forever.
        self._inbox.cancel_join_thread()
        for q in (self._inbox, self._outbox):
            q.close()


def _serve(settings: Settings, inbox: Any, outbox: Any, max_changes: int, max_wait: float) -> None:
    """The child: apply groups of rows to the index until told to stop; report the first error.

    Each commit's records are rebuilt and turned into index documents as soon as they
    arrive, while the writer is still producing the next ones; a group's index commit is
    all that is left when the writer says stop.
    """
    error: str | None = None
    index: SearchIndex | None = None
    try:
        index = open_index(settings)
    except Exception as exc:
        error = f"the search index could not be opened: {_describe(exc)}"
    # This process only turns short-lived rows into documents: the collector's scans of
    # young objects, and of the imported modules' objects, were a third of its time.
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)
    group = Group()
    due = 0.0

    def apply() -> None:
        nonlocal error
        if not len(group) or index is None:
            group.clear()
            return
        try:
            # Later groups are still applied after a failed one: the index ends as complete
            # as it can be, and the first error is what the run reports.
            group.apply(index)
        except Exception as exc:
            error = error or _describe(exc)
            group.clear()

    while True:
        try:
            kind, body = inbox.get(timeout=max(0.0, due - time.monotonic()) if len(group) else None)
        except queue.Empty:  # the oldest pending change has waited long enough
            apply()
            continue
        if kind == "rows":
            if not len(group):
                due = time.monotonic() + max_wait
            try:
                group.add(row.to_change() for row in body)
            except Exception as exc:
                error = error or _describe(exc)
            if len(group) >= max_changes:
                apply()
            continue
        apply()
        outbox.put((kind, body, error))
        error = None  # reported once
        if kind == "stop":
            break
    if index is not None:
        index.close()
