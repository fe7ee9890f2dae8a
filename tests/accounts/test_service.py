"""The accounts service on SQLite and on real PostgreSQL: users, sign-in and its lock, sessions, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from catalog.accounts.service import AccountError, AccountService, SignInLocked
from catalog.accounts.tables import UserRow
from catalog.store import Store
from schemas.accounts import Role

PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def service(store: Store) -> AccountService:
    return AccountService(store.engine, idle=timedelta(minutes=30))


def test_a_user_signs_in_with_the_password_and_the_hash_is_argon2(service: AccountService) -> None:
    added = service.add_user("Ada@NTU.edu.tw ", "Ada", ["steward"], password=PASSWORD, institution="NTU")
    assert added.email == "ada@ntu.edu.tw" and added.roles == frozenset({Role.STEWARD})
    from sqlalchemy.orm import Session

    with Session(service.engine) as s:
        row = s.get(UserRow, added.id)
        assert row is not None and row.password_hash is not None
        assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    assert service.authenticate("ada@ntu.edu.tw", PASSWORD) is not None
    assert service.authenticate("ada@ntu.edu.tw", "wrong password!") is None


def test_bad_accounts_are_refused_with_the_field_and_what_to_do(service: AccountService) -> None:
    with pytest.raises(AccountError) as e:
        service.add_user("not-an-address", "X", ["researcher"], password=PASSWORD)
    assert e.value.field == "email"
    with pytest.raises(AccountError) as e:
        service.add_user("a@b.org", "X", ["researcher"], password="short")
    assert e.value.field == "password" and "10 characters" in str(e.value)
    with pytest.raises(AccountError) as e:
        service.add_user("a@b.org", "X", ["emperor"], password=PASSWORD)
    assert "researcher, steward, reviewer, chair, admin" in str(e.value)
    service.add_user("a@b.org", "X", ["researcher"], password=PASSWORD)
    with pytest.raises(AccountError, match="exists already"):
        service.add_user("A@b.org", "Y", ["researcher"], password=PASSWORD)


def test_five_failures_lock_an_account_and_an_unknown_address_alike(service: AccountService) -> None:
    service.add_user("ada@ntu.edu.tw", "Ada", ["steward"], password=PASSWORD)
    for email in ("ada@ntu.edu.tw", "nobody@ntu.edu.tw"):
        for i in range(5):
            assert (
                service.authenticate(
                    email, "wrong password!", client=f"10.0.0.{len(email)}", now=T0 + timedelta(seconds=i)
                )
                is None
            )
        with pytest.raises(SignInLocked):
            service.authenticate(email, PASSWORD, client="10.0.0.1", now=T0 + timedelta(minutes=1))
    # The lock ends after its time, and the right password works again.
    assert service.authenticate("ada@ntu.edu.tw", PASSWORD, client="10.0.0.1", now=T0 + timedelta(minutes=20))


def test_a_disabled_account_cannot_sign_in_and_its_sessions_and_tokens_stop(service: AccountService) -> None:
    user = service.add_user("ada@ntu.edu.tw", "Ada", ["steward"], password=PASSWORD)
    sid = service.open_session(user.id)
    _, secret = service.create_token(user.id, "script")
    assert service.session_principal(sid) is not None and service.token_principal(secret) is not None
    service.set_disabled(user.id, True)
    assert service.authenticate("ada@ntu.edu.tw", PASSWORD) is None
    assert service.session_principal(sid) is None and service.token_principal(secret) is None


def test_a_session_ends_after_inactivity_but_not_while_used(service: AccountService) -> None:
    user = service.add_user("ada@ntu.edu.tw", "Ada", ["steward"], password=PASSWORD)
    sid = service.open_session(user.id, now=T0)
    for minutes in (20, 40, 60):  # each visit within 30 minutes of the last one keeps it alive
        assert service.session_principal(sid, now=T0 + timedelta(minutes=minutes)) is not None
    assert service.session_principal(sid, now=T0 + timedelta(minutes=91)) is None
    assert service.session_principal(sid, now=T0 + timedelta(minutes=92)) is None  # and it stays ended


def test_tokens_act_as_their_user_until_revoked_or_expired(service: AccountService) -> None:
    user = service.add_user("ada@ntu.edu.tw", "Ada", ["steward", "reviewer"], password=PASSWORD)
    info, secret = service.create_token(user.id, "nightly harvest", days=7, now=T0)
    assert secret.startswith("fgt_") and len(secret) > 40
    who = service.token_principal(secret, now=T0 + timedelta(days=1))
    assert who is not None and who.actor == f"token:{info.id}" and who.roles == {Role.STEWARD, Role.REVIEWER}
    assert service.token_principal(secret, now=T0 + timedelta(days=8)) is None  # expired
    assert service.token_principal(secret[:-1] + "x", now=T0) is None
    other = service.add_user("bob@ntu.edu.tw", "Bob", ["researcher"], password=PASSWORD)
    with pytest.raises(AccountError):
        service.revoke_token(info.id, user_id=other.id)  # not his
    service.revoke_token(info.id, user_id=user.id)
    assert service.token_principal(secret, now=T0 + timedelta(days=1)) is None
