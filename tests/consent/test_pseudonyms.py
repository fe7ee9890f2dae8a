"""Pseudonyms and Taiwan identifier checks."""

from __future__ import annotations

import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from consent.pseudonyms import IdentifierError, Pseudonymiser, check_taiwan_id, load_or_create_key
from tests.consent.subjects import national_id


@pytest.mark.parametrize(
    "valid",
    ["A123456789", "a123456789", " F131104093 ", "A800000014", "AA00000009"],
)
def test_national_ids_and_both_resident_permit_formats_pass_their_check_digit(valid: str) -> None:
    assert check_taiwan_id(valid) == valid.strip().upper()


@pytest.mark.parametrize(
    ("invalid", "reason"),
    [
        ("A123456788", "check digit"),
        ("A12345678", "10 characters"),
        ("1123456789", "start with a letter"),
        ("A323456789", "second character"),
        ("AE00000009", "second character"),
        ("A12345678X", "8 digits"),
    ],
)
def test_invalid_ids_say_why_without_repeating_the_id(invalid: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as info:
        check_taiwan_id(invalid)
    assert reason in str(info.value)
    assert invalid not in str(info.value) and invalid[1:] not in str(info.value)


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pseudonym.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key and len(key) == 32
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.key"]  # no temporary file left behind


def test_racing_processes_all_read_the_one_key_that_was_created(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pseudonym.key"
    with ProcessPoolExecutor(max_workers=4) as pool:
        keys = list(pool.map(load_or_create_key, [path] * 8))
    assert len(set(keys)) == 1 and keys[0] == load_or_create_key(path)


def test_pseudonym_is_stable_per_key_and_normalised_and_differs_across_keys() -> None:
    one, two = Pseudonymiser(b"k" * 32), Pseudonymiser(b"j" * 32)
    ident = national_id(42)
    assert one.subject(ident) == one.subject(" " + ident.lower())
    assert one.subject(ident) != two.subject(ident)
    assert len(one.subject(ident)) == 64


def test_local_identifiers_need_an_institution_namespace() -> None:
    p = Pseudonymiser(b"k" * 32)
    with pytest.raises(IdentifierError, match="institution namespace"):
        p.subject(None, "MRN-1", None)
    assert p.subject(None, "MRN-1", "NTU") != p.subject(None, "MRN-1", "TMU")


def test_pseudonymiser_repr_hides_the_key() -> None:
    assert "kkkk" not in repr(Pseudonymiser(b"k" * 32))
