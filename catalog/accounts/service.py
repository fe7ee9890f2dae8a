"""The accounts service: users, roles, passwords, sign-in with throttling, web sessions, personal tokens.

Every method is one short transaction on the catalog database, so several workers (or machines sharing
one PostgreSQL) see the same sessions, tokens and locks. Secrets are never stored: sessions and tokens
are kept as SHA-256 of 256 random bits, passwords as argon2id hashes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from catalog.accounts.passwords import hash_password, needs_rehash, password_problem, verify_password
from catalog.accounts.tables import ApiTokenRow, ThrottleRow, UserRow, WebSessionRow
from catalog.accounts.throttle import ThrottlePolicy, ThrottleState, after_failure, is_locked
from schemas.accounts import Principal, Role

TOKEN_PREFIX = "fgt_"
_SESSION_TOUCH = timedelta(seconds=60)  # last_seen is written at most once a minute per session


class AccountError(ValueError):
    """A refused account operation; the message says what to do. ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SignInLocked(Exception):
    """Too many failed sign-ins for this account or address: try again after ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    display_name: str
    institution: str
    roles: frozenset[Role]
    disabled: bool
    created_at: datetime
    last_sign_in_at: datetime | None
    has_password: bool

    def principal(self, token_id: int | None = None) -> Principal:
        return Principal(
            kind="token" if token_id is not None else "user",
            user_id=self.id,
            token_id=token_id,
            email=self.email,
            display_name=self.display_name,
            institution=self.institution,
            roles=self.roles,
        )


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: int
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


def now_utc() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; everything fairgate writes is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or " " in email or len(email) > 320:
        return "enter an e-mail address such as name@hospital.org.tw"
    return None


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    roles = set()
    for v in values:
        try:
            roles.add(Role(v.strip().lower()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise AccountError(f"unknown role {v!r}; use one of {known}", "roles") from None
    return frozenset(roles)


def _account(row: UserRow) -> Account:
    return Account(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        institution=row.institution,
        roles=frozenset(Role(r) for r in row.roles),
        disabled=row.disabled,
        created_at=as_utc(row.created_at),
        last_sign_in_at=as_utc(row.last_sign_in_at) if row.last_sign_in_at else None,
        has_password=row.password_hash is not None,
    )


def _token(row: ApiTokenRow) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
        last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
    )


class AccountService:
    def __init__(
        self, engine: Engine, idle: timedelta = timedelta(minutes=30), throttle: ThrottlePolicy | None = None
    ) -> None:
        self.engine = engine
        self.idle = idle
        self.throttle = throttle or ThrottlePolicy()

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- users ---------------------------------------------------------------------------------

    def count(self) -> int:
        with self._session() as s:
            return len(s.scalars(select(UserRow.id).limit(1)).all())

    def add_user(
        self,
        email: str,
        display_name: str,
        roles: Iterable[Role | str],
        password: str | None = None,
        institution: str = "",
        now: datetime | None = None,
    ) -> Account:
        email = normalise_email(email)
        if (problem := email_problem(email)) is not None:
            raise AccountError(problem, "email")
        if not display_name.strip():
            raise AccountError("enter the name to show for this person", "display_name")
        if password is not None and (problem := password_problem(password, email)) is not None:
            raise AccountError(problem, "password")
        role_set = parse_roles(str(r) for r in roles)
        with self._session() as s, s.begin():
            if s.scalar(select(UserRow.id).where(UserRow.email == email)) is not None:
                raise AccountError(f"an account for {email} exists already; sign in, or pick another address", "email")
            row = UserRow(
                email=email,
                display_name=display_name.strip(),
                institution=institution.strip(),
                roles=sorted(r.value for r in role_set),
                password_hash=hash_password(password) if password is not None else None,
                disabled=False,
                created_at=now or now_utc(),
            )
            s.add(row)
            s.flush()
            return _account(row)

    def users(self) -> list[Account]:
        with self._session() as s:
            return [_account(r) for r in s.scalars(select(UserRow).order_by(UserRow.id))]

    def user(self, user_id: int) -> Account | None:
        with self._session() as s:
            row = s.get(UserRow, user_id)
            return _account(row) if row else None

    def by_email(self, email: str) -> Account | None:
        with self._session() as s:
            row = s.scalar(select(UserRow).where(UserRow.email == normalise_email(email)))
            return _account(row) if row else None

    def _require(self, s: Session, user_id: int) -> UserRow:
        row = s.get(UserRow, user_id)
        if row is None:
            raise AccountError(f"no user {user_id}; see `fairgate user list`")
        return row

    def set_roles(self, user_id: int, roles: Iterable[Role | str]) -> Account:
        role_set = parse_roles(str(r) for r in roles)
        with self._session() as s, s.begin():
            row = self._require(s, user_id)
            row.roles = sorted(r.value for r in role_set)
            return _account(row)

    def set_disabled(self, user_id: int, disabled: bool) -> Account:
        """Disable (or enable) an account; disabling also ends its sessions (its tokens stop working)."""
        with self._session() as s, s.begin():
            row = self._require(s, user_id)
            row.disabled = disabled
            if disabled:
                s.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id))
            return _account(row)

    def set_password(self, user_id: int, password: str) -> None:
        with self._session() as s, s.begin():
            row = self._require(s, user_id)
            if (problem := password_problem(password, row.email)) is not None:
                raise AccountError(problem, "password")
            row.password_hash = hash_password(password)
            # A new password ends every other browser's session.
            s.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id))

    # --- signing in ----------------------------------------------------------------------------

    def _throttle_state(self, s: Session, key: str) -> ThrottleState | None:
        row = s.get(ThrottleRow, key)
        if row is None:
            return None
        return ThrottleState(
            row.failures, as_utc(row.first_failure_at), as_utc(row.locked_until) if row.locked_until else None
        )

    def _record_failure(self, s: Session, key: str, limit: int, now: datetime) -> None:
        state = after_failure(self._throttle_state(s, key), now, limit, self.throttle)
        row = s.get(ThrottleRow, key)
        if row is None:
            s.add(
                ThrottleRow(
                    key=key,
                    failures=state.failures,
                    first_failure_at=state.first_failure_at,
                    locked_until=state.locked_until,
                )
            )
        else:
            row.failures, row.first_failure_at, row.locked_until = (
                state.failures,
                state.first_failure_at,
                state.locked_until,
            )

    def authenticate(self, email: str, password: str, client: str = "", now: datetime | None = None) -> Account | None:
        """The account whose e-mail and password these are, or None.

        Raises :class:`SignInLocked` when the account or the client address is locked: the same
        whether or not the account exists, since the lock is kept per address typed, not per user.
        """
        now = now or now_utc()
        email = normalise_email(email)
        account_key = "email:" + _digest(email)[:40]
        client_key = "client:" + client[:90]
        with self._session() as s:
            for key in (account_key, client_key):
                state = self._throttle_state(s, key)
                if is_locked(state, now):
                    assert state is not None and state.locked_until is not None
                    raise SignInLocked(state.locked_until)
            row = s.scalar(select(UserRow).where(UserRow.email == email))
        ok = verify_password(row.password_hash if row is not None else None, password)
        with self._session() as s, s.begin():
            if not ok or row is None or row.disabled:
                self._record_failure(s, account_key, self.throttle.max_failures, now)
                self._record_failure(s, client_key, self.throttle.max_failures_per_client, now)
                return None
            s.execute(delete(ThrottleRow).where(ThrottleRow.key == account_key))
            fresh = s.get(UserRow, row.id)
            assert fresh is not None
            fresh.last_sign_in_at = now
            if fresh.password_hash and needs_rehash(fresh.password_hash):
                fresh.password_hash = hash_password(password)
            return _account(fresh)

    # --- web sessions --------------------------------------------------------------------------

    def open_session(self, user_id: int, client: str = "", now: datetime | None = None) -> str:
        """A new session id for the cookie (only its hash is kept)."""
        now = now or now_utc()
        sid = secrets.token_urlsafe(32)
        with self._session() as s, s.begin():
            s.add(WebSessionRow(id_hash=_digest(sid), user_id=user_id, created_at=now, last_seen_at=now, client=client))
        return sid

    def session_principal(self, sid: str, now: datetime | None = None) -> Principal | None:
        """The user of a live session; a session idle for longer than ``idle`` is ended."""
        now = now or now_utc()
        key = _digest(sid)
        with self._session() as s:
            found = s.execute(
                select(WebSessionRow, UserRow)
                .join(UserRow, UserRow.id == WebSessionRow.user_id)
                .where(WebSessionRow.id_hash == key)
            ).first()
            if found is None:
                return None
            session, user = found
            last_seen = as_utc(session.last_seen_at)
            if user.disabled or now - last_seen > self.idle:
                s.execute(delete(WebSessionRow).where(WebSessionRow.id_hash == key))
                s.commit()
                return None
            if now - last_seen > _SESSION_TOUCH:
                s.execute(update(WebSessionRow).where(WebSessionRow.id_hash == key).values(last_seen_at=now))
                s.commit()
            return _account(user).principal()

    def close_session(self, sid: str) -> None:
        with self._session() as s, s.begin():
            s.execute(delete(WebSessionRow).where(WebSessionRow.id_hash == _digest(sid)))

    # --- personal API tokens ---------------------------------------------------------------------

    def create_token(
        self, user_id: int, name: str, days: int = 90, now: datetime | None = None
    ) -> tuple[TokenInfo, str]:
        """A new token and its secret (shown once; only its hash is kept)."""
        now = now or now_utc()
        if not name.strip():
            raise AccountError("give the token a name that says what uses it, e.g. 'nightly harvest'", "name")
        if not 1 <= days <= 366:
            raise AccountError("a token lives 1 to 366 days; choose a number of days in that range", "days")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._session() as s, s.begin():
            self._require(s, user_id)
            row = ApiTokenRow(
                user_id=user_id,
                name=name.strip()[:200],
                secret_hash=_digest(secret),
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
            s.add(row)
            s.flush()
            return _token(row), secret

    def tokens_of(self, user_id: int) -> list[TokenInfo]:
        with self._session() as s:
            rows = s.scalars(select(ApiTokenRow).where(ApiTokenRow.user_id == user_id).order_by(ApiTokenRow.id))
            return [_token(r) for r in rows]

    def revoke_token(self, token_id: int, user_id: int | None = None, now: datetime | None = None) -> TokenInfo:
        """Revoke a token (``user_id`` given: only one of that user's own)."""
        with self._session() as s, s.begin():
            row = s.get(ApiTokenRow, token_id)
            if row is None or (user_id is not None and row.user_id != user_id):
                raise AccountError(f"no token {token_id} of yours; see the list of your tokens")
            if row.revoked_at is None:
                row.revoked_at = now or now_utc()
            return _token(row)

    def token_principal(self, secret: str, now: datetime | None = None) -> Principal | None:
        """The user a live token acts as (None for an unknown, revoked or expired token)."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        now = now or now_utc()
        with self._session() as s:
            found = s.execute(
                select(ApiTokenRow, UserRow)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .where(ApiTokenRow.secret_hash == _digest(secret))
            ).first()
            if found is None:
                return None
            token, user = found
            if user.disabled or not _token(token).active(now):
                return None
            last = token.last_used_at
            if last is None or now - as_utc(last) > _SESSION_TOUCH:
                s.execute(update(ApiTokenRow).where(ApiTokenRow.id == token.id).values(last_used_at=now))
                s.commit()
            return _account(user).principal(token_id=token.id)
