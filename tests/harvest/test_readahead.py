"""Reading a record stream ahead in a thread keeps order, raises the source's errors, and stops when closed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from catalog.harvest.readahead import read_ahead


def test_items_arrive_in_order_and_all_of_them() -> None:
    assert list(read_ahead(iter(range(1000)), size=7)) == list(range(1000))


def test_an_error_of_the_source_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("page 3 failed")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for item in read_ahead(source(), size=10):
            got.append(item)
    assert got == [1, 2]


def test_closing_early_stops_the_worker_and_closes_the_source() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def source() -> Iterator[int]:
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    stream = read_ahead(source(), size=5)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert closed.is_set()
    assert len(produced) < 20  # bounded by the queue, not the whole source
