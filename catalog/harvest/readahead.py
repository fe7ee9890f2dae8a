"""Read a record stream ahead in a background thread, so fetching and mapping overlap with writing.

Writing a batch spends most of its time inside SQLite and the network (which release the
GIL), so a source that fetches and maps the next records meanwhile makes a run faster
without more memory than the bounded queue between the two.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(items: Iterator[T], *, size: int) -> Generator[T, None, None]:
    """Yield what ``items`` yields, produced by a worker thread at most ``size`` items ahead.

    An exception raised by ``items`` is raised here, where the item it interrupted would have
    been; closing this generator early stops the worker at its next item.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=max(1, size))
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
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the reading thread, which raises it
            put(_Failure(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if stop.is_set() and close is not None:
                close()
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
            yield cast(T, value)
    finally:
        stop.set()
        worker.join(timeout=60)  # a worker stuck in a network call ends with its own timeout
