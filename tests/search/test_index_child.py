"""The indexer child's inbox: framed messages in order, the end of the pipe as ``eof``."""

from __future__ import annotations

import os
import pickle
import queue
import threading

from catalog.search.index_child import HEADER, _read_frames, receiver


def _frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(HEADER, "little") + data


def _receive_all(raw: bytes) -> list[tuple[str, object]]:
    read_end, write_end = os.pipe()
    inbox: queue.Queue[bytes | None] = queue.Queue(maxsize=2)  # smaller than the messages: the reader waits
    with os.fdopen(read_end, "rb") as source:
        reader = threading.Thread(target=_read_frames, args=(source, inbox))
        reader.start()
        with os.fdopen(write_end, "wb") as sink:
            sink.write(raw)
        receive, out = receiver(inbox), []
        while True:
            message = receive(5.0)
            out.append(message)
            if message[0] == "eof":
                break
        reader.join(5.0)
    return out


def test_messages_arrive_in_order_and_the_closed_pipe_ends_them() -> None:
    messages = [("start", {"n": 1}), *(("rows", [i] * 1000) for i in range(5)), ("stop", 1)]
    got = _receive_all(b"".join(_frame(m) for m in messages))
    assert got == [*messages, ("eof", None)]


def test_a_message_cut_short_by_a_dead_parent_ends_the_inbox() -> None:
    whole, cut = _frame(("rows", [1, 2, 3])), _frame(("rows", list(range(100))))
    got = _receive_all(whole + cut[: len(cut) // 2])
    assert got == [("rows", [1, 2, 3]), ("eof", None)]
