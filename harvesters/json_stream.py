"""Read the items of one big JSON array from a file one at a time, so memory stays bounded.

Only the array named ``key`` of the top-level object (or a top-level array itself) is
streamed; the other top-level members are decoded whole. A document that is not complete,
well-formed JSON raises :class:`JsonStreamError` with the line and column of the problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

_CHUNK = 1 << 20
_WS = " \t\n\r"


class JsonStreamError(ValueError):
    """The document is not complete, well-formed JSON (or not the expected shape)."""


class _Reader:
    """A sliding text buffer over ``stream`` that tracks where it is in the whole document."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line = 1  # line number of buf[0] in the document
        self.column = 0  # 0-based column of buf[0]

    def _fill(self) -> bool:
        """Read more text (at least as much as is buffered, so re-decoding stays linear)."""
        if self.eof:
            return False
        consumed = self.buf[: self.pos]
        newlines = consumed.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(consumed) - (consumed.rfind("\n") + 1)
        else:
            self.column += len(consumed)
        self.buf = self.buf[self.pos :]
        self.pos = 0
        more = self.stream.read(max(_CHUNK, len(self.buf)))
        if not more:
            self.eof = True
            return False
        self.buf += more
        return True

    def where(self, index: int) -> str:
        before = self.buf[:index]
        newlines = before.count("\n")
        line = self.line + newlines
        column = index - before.rfind("\n") if newlines else self.column + index + 1
        return f"line {line}, column {column}"

    def fail(self, message: str, index: int | None = None) -> JsonStreamError:
        return JsonStreamError(f"{message} at {self.where(self.pos if index is None else index)}")

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the document)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def expect(self, char: str, what: str) -> None:
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "the end of the document"
            raise self.fail(f"expected {what} but found {shown}")
        self.pos += 1

    def value(self) -> Any:
        """Decode the next JSON value, reading more text until it is whole."""
        decoder = json.JSONDecoder()
        self.peek()
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                offset = exc.pos - self.pos  # _fill moves the buffer under us
                if self._fill():
                    continue
                raise self.fail(f"not complete JSON ({exc.msg})", self.pos + offset) from None
            # A number that ends with the buffer may go on in the next chunk.
            if end == len(self.buf) and self._fill():
                continue
            self.pos = end
            return value


def stream_array(stream: TextIO, key: str) -> Iterator[Any]:
    """Yield each item of the top-level array, or of the array under ``key`` in the top-level object.

    Raises :class:`JsonStreamError` as soon as the document is found broken, after the items
    before the break were yielded; callers that must not act on half a document read it
    through once (see :func:`count_items`) before acting.
    """
    r = _Reader(stream)
    first = r.peek()
    if first == "[":
        yield from _items(r)
    elif first == "{":
        r.pos += 1
        found = False
        while r.peek() != "}":
            name = r.value()
            if not isinstance(name, str):
                raise r.fail("expected a member name")
            r.expect(":", "':' after a member name")
            if name == key and r.peek() == "[":
                found = True
                yield from _items(r)
            else:
                r.value()
            if r.peek() == ",":
                r.pos += 1
                continue
            break
        r.expect("}", "',' or '}' in the top-level object")
        if not found:
            raise JsonStreamError(f"the document has no {key!r} array")
    elif first == "":
        raise JsonStreamError("the document is empty")
    else:
        raise r.fail(f"expected a JSON object or array but found {first!r}")
    if r.peek() != "":
        raise r.fail("unexpected text after the end of the JSON document")


def _items(r: _Reader) -> Iterator[Any]:
    r.expect("[", "'['")
    if r.peek() == "]":
        r.pos += 1
        return
    while True:
        yield r.value()
        if r.peek() == ",":
            r.pos += 1
            continue
        r.expect("]", "',' or ']' in the array")
        return


def count_items(stream: TextIO, key: str) -> int:
    """Read the whole document through, checking it is complete; return how many items the array has."""
    return sum(1 for _ in stream_array(stream, key))
