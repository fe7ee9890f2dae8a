"""Read a record stream ahead in a background thread, so fetching and mapping overlap with writing.

Writing a batch spends most of its time inside SQLite and the network (which release the
GIL), so a source that fetches and maps the next records meanwhile makes a run faster
without more memory than the bounded queue between the two. Items cross the queue in small
chunks: a hand-over per record cost more than an unchanged record's whole check.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_DONE = object()
#: A partial chunk older than this (seconds) goes with the next item, so a slow source trickles
#: rather than waiting for a full chunk.
_CHUNK_AGE = 0.2


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(items: Iterator[T], *, size: int, chunk: int = 50) -> Generator[T, None, None]:
    """Yield what ``items`` yields, produced by a worker thread at most about ``size`` items ahead.

    An exception raised by ``items`` is raised here, where the item it interrupted would have
    been; closing this generator early stops the worker at its next item.
    """
    chunk = max(1, min(chunk, size // 4))
    buffer: queue.Queue[object] = queue.Queue(maxsize=max(1, size // chunk))
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        pending: list[T] = []
        started = 0.0
        try:
            for item in items:
                if not pending:
                    started = time.monotonic()
                pending.append(item)
                if len(pending) >= chunk or time.monotonic() - started > _CHUNK_AGE:
                    if not put(pending):
                        return
                    pending = []
        except BaseException as exc:  # handed to the reading thread, which raises it
            if pending and not put(pending):
                return
            put(_Failure(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if stop.is_set() and close is not None:
                close()
        if pending and not put(pending):
            return
        put(_DONE)

    worker = threading.Thread(target=work, name="harvest-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            value = buffer.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.exc
            yield from cast(list[T], value)
    finally:
        stop.set()
        worker.join(timeout=60)  # a worker stuck in a network call ends with its own timeout
