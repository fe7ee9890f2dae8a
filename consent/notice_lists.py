"""A withdrawal notice's pseudonyms as one value: sorted, 16 bytes each, packed end to end.

A bulk opt-out owes holders a million pseudonyms; a row per pseudonym wrote about 200 MB of rows and
index on SQLite, where a notice's packed list is 16 bytes a pseudonym in one row. Release pseudonyms are
32 lowercase hex digits under every scheme (:func:`consent.pseudonyms.release_pseudonym`), and their
bytes sort as their hex does, so a packed list is searched by bisection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

WIDTH = 16  # bytes of one pseudonym
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[_HEX] = np.arange(16, dtype=np.uint8)


def pack(pseudonyms: Iterable[str]) -> bytes:
    """The sorted, distinct ``pseudonyms`` packed; refuses anything but 32 lowercase hex digits."""
    names = sorted(set(pseudonyms))
    if not names:
        return b""
    text = np.frombuffer("".join(names).encode("ascii"), dtype=np.uint8)
    if len(text) != 2 * WIDTH * len(names):
        raise ValueError("a release pseudonym is 32 hex digits")
    nibbles = _NIBBLE[text]
    if (nibbles == 255).any():
        raise ValueError("a release pseudonym is 32 lowercase hex digits")
    return ((nibbles[0::2] << 4) | nibbles[1::2]).astype(np.uint8).tobytes()


def unpack(blob: bytes | None) -> list[str]:
    """The pseudonyms of a packed list, in order."""
    if not blob:
        return []
    raw = np.frombuffer(blob, dtype=np.uint8)
    digits = np.empty(2 * len(raw), dtype=np.uint8)
    digits[0::2] = _HEX[raw >> 4]
    digits[1::2] = _HEX[raw & 15]
    text = digits.tobytes().decode("ascii")
    step = 2 * WIDTH
    return [text[i : i + step] for i in range(0, len(text), step)]


def count(blob: bytes | None) -> int:
    return len(blob or b"") // WIDTH


def holds(blob: bytes | None, pseudonyms: Sequence[str]) -> np.ndarray:
    """Which of ``pseudonyms`` the packed list holds."""
    if not blob or not pseudonyms:
        return np.zeros(len(pseudonyms), dtype=np.bool_)
    listed = np.frombuffer(blob, dtype=f"S{WIDTH}")
    asked = np.frombuffer(b"".join(bytes.fromhex(p) for p in pseudonyms), dtype=f"S{WIDTH}")
    at = np.searchsorted(listed, asked)
    at[at == len(listed)] = 0
    result: np.ndarray = listed[at] == asked
    return result
