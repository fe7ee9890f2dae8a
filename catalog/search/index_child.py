"""The search indexer child's entry point: read the pipe first, import the indexer after.

``python -m catalog.search.index_child <in fd> <out fd>``. Importing the indexer (models,
settings, tantivy) takes a good part of a second; until something reads the pipe, the
writer's first batch (larger than a pipe buffer) waits on it. So this module imports only
the standard library, starts the thread that reads the parent's framed messages, and only
then imports :mod:`catalog.search.index_process` to serve them. Messages are kept as bytes
until the main thread takes them (unpickling them imports the classes they hold).
"""

from __future__ import annotations

import os
import pickle
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

#: Messages held before the reader waits (the parent's writes then wait too): bounds memory.
QUEUED = 4
#: Each message is an 8-byte little-endian length, then that many bytes of pickle.
HEADER = 8


def _read_frames(source: BinaryIO, inbox: queue.Queue[bytes | None]) -> None:
    """Queue each framed message of ``source``; ``None`` at its end (the parent closed it or died)."""
    while True:
        try:
            head = source.read(HEADER)
            size = int.from_bytes(head, "little") if len(head) == HEADER else 0
            body = source.read(size) if size else b""
        except OSError:
            body = b""
        if not body or len(body) != size:  # the end, or a message cut short by a parent that died
            inbox.put(None)
            return
        inbox.put(body)


def receiver(inbox: queue.Queue[bytes | None]) -> Callable[[float | None], tuple[str, Any]]:
    """``receive(timeout)``: the next message (``("eof", None)`` at the end); raises
    :class:`queue.Empty` when none came within ``timeout`` seconds (``None``: wait)."""

    def receive(timeout: float | None) -> tuple[str, Any]:
        frame = inbox.get(timeout=timeout)
        if frame is None:
            return ("eof", None)
        try:
            message: tuple[str, Any] = pickle.loads(frame)
        except (pickle.UnpicklingError, EOFError):
            return ("eof", None)
        return message

    return receive


def main(argv: Sequence[str]) -> int:
    inbox_file = os.fdopen(int(argv[0]), "rb")
    outbox_file = os.fdopen(int(argv[1]), "wb")
    inbox: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUED)
    threading.Thread(target=_read_frames, args=(inbox_file, inbox), name="fairgate-indexer-inbox", daemon=True).start()

    def reply(message: tuple[str, Any, str | None]) -> None:
        pickle.dump(message, outbox_file, protocol=pickle.HIGHEST_PROTOCOL)
        outbox_file.flush()

    from catalog.search.index_process import serve  # the heavy imports, while the thread reads

    serve(receiver(inbox), reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
