"""Packed notice lists: what goes in comes out sorted and once, membership is exact, bad pseudonyms are refused."""

from __future__ import annotations

import random

import pytest

from consent.notice_lists import count, holds, pack, unpack


def test_a_list_unpacks_sorted_and_distinct_and_answers_membership() -> None:
    rnd = random.Random(4)
    names = [f"{rnd.getrandbits(128):032x}" for _ in range(500)]
    names += ["0" * 32, "f" * 32, "00" * 15 + "01", names[0]]  # edges, and a repeat
    blob = pack(names)
    assert unpack(blob) == sorted(set(names))
    assert count(blob) == len(set(names))
    others = [f"{rnd.getrandbits(128):032x}" for _ in range(50)] + ["00" * 15 + "02"]
    asked = [*names[:30], *others]
    assert holds(blob, asked).tolist() == [True] * 30 + [False] * len(others)
    assert unpack(pack([])) == [] and holds(b"", names[:3]).tolist() == [False] * 3


@pytest.mark.parametrize("bad", ["ABCDEF" + "0" * 26, "0" * 31, "g" * 32])
def test_anything_but_32_lowercase_hex_digits_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="hex digits"):
        pack(["0" * 32, bad])
