"""Password hashing (argon2id through ``argon2-cffi``) and the password rule.

The hasher's parameters are argon2-cffi's defaults (RFC 9106's low-memory profile); a stored hash made
with older parameters is re-hashed at the next successful sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a bound keeps a megabyte "password" from costing the server

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so that an unknown account costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("fairgate: no such account")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; an absent hash still spends one verification."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password[:MAX_LENGTH]) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` may not be used (a message that says what to do), or None."""
    if len(password) < MIN_LENGTH:
        return f"choose a password of at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"choose a password of at most {MAX_LENGTH} characters"
    if email and password.strip().lower() == email.strip().lower():
        return "choose a password that is not your e-mail address"
    return None
