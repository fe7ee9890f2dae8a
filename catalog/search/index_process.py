"""Keep the search index current from a child process while a bulk writer (a harvest run) writes.

In a thread of the writing process, analysing and indexing records takes turns with
fetching, mapping and writing them on one core (the GIL); a child process does it on
another. The child opens the same index from the settings and is fed the committed changes
as plain rows (the canonical JSON the store wrote, see :class:`catalog.store.ChangeRow`)
through a pipe into a bounded queue; it applies them in groups of about ``max_changes`` (one index
commit each). A bulk write smaller than ``start_after`` changes is not worth a process
start: it is applied here, in one group, when the write ends.

Sending and flushing never raise (a commit has happened; its writer must not take a
delivery problem for its own): an error in the child, or a child that died, is raised as
:class:`catalog.store.DeliveryError` when the sink closes, that is when the bulk write ends. Nothing
reaches the index that the store has not committed.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from catalog.changes import Change, ChangeRow, DeliveryError
from catalog.search.index import Group, SearchIndex, apply_changes, notice_outside_writes, open_index
from catalog.search.index_child import HEADER
from catalog.settings import Settings

#: Changes of a bulk write below which no process is started (applied here when it ends).
START_AFTER = 200
#: The child's entry module (it reads the pipe before it imports this one).
CHILD = "catalog.search.index_child"
#: Handing a child the two pipe ends by number (``pass_fds``) needs POSIX; elsewhere a bulk
#: write is applied in this process, a group of ``max_changes`` at a time.
_PIPES_TO_CHILDREN = os.name == "posix"
#: The child's collector thresholds: a young-object scan every 20,000 allocations, not 700.
_GC_THRESHOLDS = (20_000, 20, 20)
#: The child's inbox: the next message, or :class:`queue.Empty` after the timeout (``None``: wait).
Receive = Callable[[float | None], tuple[str, Any]]
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
    ) -> None:
        self._settings = settings
        self._index = index
        self._max_changes = max(1, max_changes)
        self._max_wait = max_wait
        self._start_after = max(1, start_after)
        self._lock = threading.Lock()
        self._held: list[Change] = []  # changes sent before the child is started
        self._process: subprocess.Popen[bytes] | None = None
        self._to_child: BinaryIO | None = None
        self._from_child: BinaryIO | None = None
        self._flushes = 0
        self._error: str | None = None
        self._closed = False
        self._here = not _PIPES_TO_CHILDREN  # apply in this process, a group at a time

    @property
    def pid(self) -> int | None:
        """The child's process id, once one was started (the write was large enough)."""
        return self._process.pid if self._process is not None else None

    # --- BulkSink ------------------------------------------------------------------------

    def send(self, changes: Sequence[Change]) -> None:
        with self._lock:
            try:
                self._send(changes)
            except Exception as exc:
                # The store has committed these changes and its writer must not take this for
                # its own failure (a harvest would retry the batch, find it unchanged, and the
                # records would never be indexed): the run hears of it when the sink closes.
                self._error = self._error or _describe(exc)

    def _send(self, changes: Sequence[Change]) -> None:
        if self._process is None:
            self._held.extend(changes)
            if self._here:
                if len(self._held) >= self._max_changes:  # bounded memory: apply as we go
                    self._apply_here()
                return
            if len(self._held) < self._start_after:
                return
            try:
                self._start()
            except OSError:
                # No process could be started (no interpreter, no memory for a fork): this
                # process applies the changes itself, slower but complete.
                self._here = True
                self._apply_here()
                return
            changes, self._held = self._held, []
        self._write(("rows", [ChangeRow.of(c) for c in changes]))

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
        # A fresh interpreter (not a fork: the writer's threads hold locks and database
        # connections) that imports only what indexing needs, talking over two pipes of its
        # own (its stdout and stderr stay the parent's, for its log). Not multiprocessing:
        # that would also start its resource-tracker process and re-import our main module.
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in [*sys.path, env.get("PYTHONPATH", "")] if p)
        # Its inbox thread and tantivy's threads would each get a malloc arena of their own;
        # two arenas keep its resident memory about 10 MB lower at the same speed.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", CHILD, str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            os.close(to_child_w)
            os.close(from_child_r)
            raise
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._to_child = os.fdopen(to_child_w, "wb")
        self._from_child = os.fdopen(from_child_r, "rb")
        self._write(("start", (self._settings, self._max_changes, self._max_wait)))

    def _gone(self) -> None:
        assert self._process is not None
        code = self._process.wait()
        self._error = self._error or f"the indexing process exited unexpectedly (exit code {code})"

    def _write(self, message: tuple[str, Any]) -> bool:
        """Hand ``message`` to the child; blocks only while the child's inbox is full."""
        if self._error is not None and self._to_child is None:
            return False
        assert self._to_child is not None
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            self._to_child.write(len(data).to_bytes(HEADER, "little"))
            self._to_child.write(data)
            self._to_child.flush()
            return True
        except OSError:  # a broken pipe: the child is gone
            self._close_pipe()
            self._gone()
            return False

    def _close_pipe(self) -> None:
        if self._to_child is not None:
            with contextlib.suppress(OSError):
                self._to_child.close()
            self._to_child = None

    def _round_trip(self, kind: str) -> None:
        """Send ``kind`` (flush or stop) and wait until the child says every earlier change is applied."""
        self._flushes += 1
        number = self._flushes
        if not self._write((kind, number)):
            return
        assert self._from_child is not None
        while True:
            try:
                _, answered, error = pickle.load(self._from_child)
            except (EOFError, OSError, pickle.UnpicklingError):
                self._gone()
                return
            if error is not None:
                self._error = self._error or error
            if answered == number:
                break
        notice_outside_writes(self._index)

    def _stop_child(self) -> None:
        assert self._process is not None
        self._close_pipe()  # the child reads the end of its input and exits
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # it did not exit: it is stuck, not working for us
            self._process.kill()
            self._process.wait()
        if self._from_child is not None:
            self._from_child.close()
            self._from_child = None


def serve(receive: Receive, reply: Callable[[tuple[str, Any, str | None]], None]) -> None:
    """The child: apply groups of rows to the index until told to stop; report the first error.

    Each commit's records are turned into index documents (from their stored JSON) as soon as they
    arrive, while the writer is still producing the next ones; a group's index commit is
    all that is left when the writer says stop.
    """
    kind, body = receive(None)
    if kind != "start":  # the parent is gone before it said what to open
        return
    settings, max_changes, max_wait = body
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
            kind, body = receive(max(0.0, due - time.monotonic()) if len(group) else None)
        except queue.Empty:  # the oldest pending change has waited long enough
            apply()
            continue
        if kind == "rows":
            if not len(group):
                due = time.monotonic() + max_wait
            try:
                group.add_rows(body)
            except Exception as exc:
                error = error or _describe(exc)
            if len(group) >= max_changes:
                apply()
            continue
        apply()
        if kind == "eof":  # the parent is gone: what it sent is applied, nobody to answer
            break
        reply((kind, body, error))
        error = None  # reported once
        if kind == "stop":
            break
    if index is not None:
        index.close()
