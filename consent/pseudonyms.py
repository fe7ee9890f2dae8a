"""Pseudonyms: keyed HMAC-SHA256 of a checked, normalised identifier, and the key file that makes them.

Raw identifiers pass through here and nowhere else; no error raised here ever contains one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

# Letter codes of the national id and resident permits (內政部): I, O, W, X, Y, Z are out of order.
_LETTER_CODES = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34, "J": 18,
    "K": 19, "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25, "S": 26, "T": 27,
    "U": 28, "V": 29, "W": 32, "X": 30, "Y": 31, "Z": 33,
}  # fmt: skip
_WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)


class IdentifierError(ValueError):
    """A bad identifier; the message says what is wrong and never repeats the identifier."""


def _checksum_ok(digits: list[int]) -> bool:
    return sum(d * w for d, w in zip(digits, _WEIGHTS, strict=True)) % 10 == 0


def check_taiwan_id(raw: str) -> str:
    """Validate a national id or resident permit number (old and new formats); return it normalised.

    National id: letter, 1 or 2, 8 digits. New resident permit (2021): letter, 8 or 9, 8 digits.
    Old resident permit: letter, A-D, 8 digits. All end in a check digit over the same weights.
    """
    text = raw.strip().upper().replace(" ", "").replace("-", "")
    if len(text) != 10:
        raise IdentifierError(f"national id must be 10 characters (letter + 9 digits), got {len(text)}")
    first, second, rest = text[0], text[1], text[2:]
    if first not in _LETTER_CODES:
        raise IdentifierError("national id must start with a letter A-Z")
    if not rest.isdigit():
        raise IdentifierError("national id must end in 8 digits")
    code = _LETTER_CODES[first]
    head = [code // 10, code % 10]
    if second in "1289":
        middle = int(second)
    elif second in "ABCD":
        middle = _LETTER_CODES[second] % 10
    else:
        raise IdentifierError(
            "national id's second character must be 1 or 2 (citizen), 8 or 9 (resident permit since 2021) "
            "or A-D (older resident permit)"
        )
    if not _checksum_ok([*head, middle, *(int(c) for c in rest)]):
        raise IdentifierError("national id fails its check digit")
    return text


def taiwan_check_digit(prefix: str) -> str:
    """The check digit completing a 9-character id prefix (for generating test and sample data)."""
    for digit in "0123456789":
        try:
            check_taiwan_id(prefix + digit)
        except IdentifierError:
            continue
        return digit
    raise IdentifierError("id prefix has no valid check digit")


def normalise_identifier(national_id: str | None, local_id: str | None, institution: str | None) -> str:
    """The text that gets hashed: a checked Taiwan id, or an institution-namespaced local identifier."""
    if national_id and national_id.strip():
        return "TW:" + check_taiwan_id(national_id)
    if local_id and local_id.strip():
        if not institution or not institution.strip():
            raise IdentifierError("a local identifier needs an institution namespace")
        return f"LOCAL:{institution.strip().upper()}:{local_id.strip()}"
    raise IdentifierError("no identifier: give national_id, or local_id with an institution")


def load_or_create_key(path: Path, what: str = "pseudonym key") -> bytes:
    """Read a key (the HMAC key, or ``what``), creating a random 32-byte key file with mode 0600 if there is none."""
    if not path.exists():
        # A directory we create for the key is private too: listing it reveals nothing either.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written whole to a private temporary file, then linked into place: a process that
        # races us sees either no key file or a complete one, never an empty one.
        fd, tmp = tempfile.mkstemp(prefix=".pseudonym-key-", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 32:
        raise ValueError(f"{what} file {path} holds fewer than 32 bytes; restore it from its backup")
    return key


class Pseudonymiser:
    """Turns identifiers into subject pseudonyms and derives per-release secrets from one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymiser(<key hidden>)"

    def subject(self, national_id: str | None, local_id: str | None = None, institution: str | None = None) -> str:
        normalised = normalise_identifier(national_id, local_id, institution)
        return hmac.new(self._key, normalised.encode(), hashlib.sha256).hexdigest()

    def release_secret(self, release_id: str) -> bytes:
        """A key of this release alone, so pseudonyms of two releases cannot be joined."""
        return hmac.new(self._key, b"release:" + release_id.encode(), hashlib.sha256).digest()

    def access_code_hash(self, code: str) -> str:
        return hmac.new(self._key, b"access-code:" + code.encode(), hashlib.sha256).hexdigest()


def release_pseudonym(secret: bytes, case_id: str, scheme: str = "aes128-cmac-128") -> str:
    """Reference implementation of the per-release case pseudonym (the bulk path computes it in numpy or DuckDB).

    ``aes128-cmac-128``: AES-CMAC(secret[:16], case id), hex (see
    :data:`consent.release_filter.PSEUDONYM_SCHEME`); ``sha256-k128-128``: SHA-256(hex(secret[:16]) ||
    case id), first 32 hex digits; ``sha256-prefix-128`` (the whole secret) and ``hmac-sha256-128``:
    releases made before them."""
    if scheme == "aes128-cmac-128":
        from consent.aes_cmac import cmac_hex  # numpy and cryptography load only when needed

        return cmac_hex(secret[:16], case_id.encode())
    if scheme == "hmac-sha256-128":
        return hmac.new(secret, case_id.encode(), hashlib.sha256).hexdigest()[:32]
    if scheme == "sha256-k128-128":
        secret = secret[:16]
    elif scheme != "sha256-prefix-128":
        raise ValueError(f"unknown release pseudonym scheme {scheme!r}")
    return hashlib.sha256(secret.hex().encode() + case_id.encode()).hexdigest()[:32]
