"""The data-subject portal's rules and service: sign-in with a letter's one-time code or a password of one's
own, throttling and lockout, portal sessions, the "my data" view of a person, and their choice changes.

Framework-free (the web routes are thin over :class:`PortalService`); never imports ``catalog``. The raw
national id is pseudonymised on arrival and never stored, logged or returned.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, select

from consent import audit, membership, notice_lists, withdrawals
from consent import tables as t
from consent.audit import Actor
from consent.decide import Use
from consent.errors import ConsentError, NotFound
from consent.pseudonyms import IdentifierError
from consent.registry import ConsentRegistry, now_utc
from consent.settings import ConsentSettings
from consent.state import ALL, StateEntry, StateKey, decide_current
from schemas.consent import (
    GRANTS,
    Category,
    Channel,
    ConsentEvent,
    Decision,
    EventKind,
    EventRequest,
    ReleaseProject,
    format_instant,
    parse_instant,
    purposes,
    utc,
)

GENERAL_PURPOSE = "DUO:0000042"  # general research use: the use the "in or out" of each dataset is told for
PURPOSE_CHOICES = ("DUO:0000046", "DUO:0000045")  # NCU, NPU: the purposes a person can refuse on their own
PASSWORD_MIN = 8
PASSWORD_MAX = 1024

_hasher = PasswordHasher()
# Verified whenever no stored password is compared, so every sign-in costs one argon2 verification.
_DUMMY_HASH = _hasher.hash("fairgate portal: nothing to compare")


# --- plain rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortalPolicy:
    code_valid_days: int = 90
    max_failures_per_id: int = 20
    max_failures_per_client: int = 200
    lock: timedelta = timedelta(hours=24)
    window: timedelta = timedelta(hours=24)
    idle: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: ConsentSettings) -> PortalPolicy:
        lock = timedelta(minutes=settings.portal_lock_minutes)
        return cls(
            code_valid_days=settings.portal_code_valid_days,
            max_failures_per_id=settings.portal_max_failures,
            max_failures_per_client=settings.portal_max_failures_per_client,
            lock=lock,
            window=lock,
            idle=timedelta(minutes=settings.portal_idle_minutes),
        )


def code_usable(
    created_at: datetime, used_at: datetime | None, revoked_at: datetime | None, now: datetime, valid_days: int
) -> bool:
    """A letter's code signs in once, until it is replaced, within ``valid_days`` of being issued."""
    return used_at is None and revoked_at is None and utc(now) <= utc(created_at) + timedelta(days=valid_days)


@dataclass(frozen=True)
class Throttle:
    failures: int
    first_failure_at: datetime
    locked_until: datetime | None = None


def is_locked(state: Throttle | None, now: datetime) -> bool:
    return state is not None and state.locked_until is not None and now < state.locked_until


def after_failure(state: Throttle | None, now: datetime, limit: int, policy: PortalPolicy) -> Throttle:
    """One more failure: counting restarts once the window, or a lock, has passed; ``limit`` failures lock."""
    if (
        state is None
        or now - state.first_failure_at > policy.window
        or (state.locked_until is not None and now >= state.locked_until)
    ):
        state = Throttle(0, now)
    failures = state.failures + 1
    return Throttle(failures, state.first_failure_at, now + policy.lock if failures >= limit else state.locked_until)


def password_problem(password: str) -> str | None:
    """A message key saying why ``password`` cannot be used, or None."""
    if len(password) < PASSWORD_MIN:
        return "portal_password_short"
    if len(password) > PASSWORD_MAX:
        return "portal_password_long"
    return None


class Direction(StrEnum):
    OUT = "out"  # stop using my data (opt out, withdraw, decline)
    IN = "in"  # use my data (consent, re-consent)


@dataclass(frozen=True)
class Change:
    """What a person asks: ``direction`` for everything, one dataset, or one purpose (all datasets)."""

    direction: Direction
    dataset: str | None = None
    purpose: str | None = None


def kind_for(direction: Direction, categories: list[Category], granted_before: bool) -> EventKind:
    """The ledger event a change is recorded as: C opts out, B withdraws, A declines (or withdraws a consent
    given earlier); coming back is consent (A, first time) or re-consent."""
    if direction is Direction.OUT:
        if categories and all(c is Category.C for c in categories):
            return EventKind.OPTED_OUT
        if categories and all(c is Category.A for c in categories) and not granted_before:
            return EventKind.CONSENT_DECLINED
        return EventKind.WITHDRAWN
    if categories and all(c is Category.A for c in categories) and not granted_before:
        return EventKind.CONSENT_GIVEN
    return EventKind.RECONSENTED


def covers(release_dataset: str, release_scopes: frozenset[str], change: Change) -> bool:
    """Whether a refusal of ``change``'s scope reaches a release (the rule withdrawal notices follow)."""
    if change.dataset is not None and change.dataset != release_dataset:
        return False
    return change.purpose is None or change.purpose in release_scopes


# --- view models --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetStatus:
    dataset: str
    institution: str
    category: Category
    enrolled_at: datetime
    included: bool
    reason: str  # the decision's reason: the deciding event kind or the category default
    since: datetime | None  # when the deciding choice took effect
    notice_period_ends: datetime | None  # category C, notice sent, period running


@dataclass(frozen=True)
class NoticeState:
    notice_id: str
    created_at: datetime
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class ReleaseUse:
    release_id: str
    application: str
    dataset: str
    purpose: str
    released_at: datetime
    active_until: datetime
    project: ReleaseProject | None
    notices: list[NoticeState] = field(default_factory=list)


@dataclass(frozen=True)
class PurposeChoice:
    purpose: str
    kind: EventKind
    effective_at: datetime
    dataset: str | None


@dataclass(frozen=True)
class MyData:
    subject: str
    datasets: list[DatasetStatus]
    purpose_choices: list[PurposeChoice]
    releases: list[ReleaseUse]  # newest first
    events: list[ConsentEvent]  # newest first


@dataclass(frozen=True)
class ChangePlan:
    change: Change
    kind: EventKind
    datasets: list[str]  # enrolments the change reaches
    releases_to_notify: list[str]  # active releases holding their cases whose holders will be told to delete
    projects_to_notify: int


@dataclass(frozen=True)
class SignIn:
    outcome: str  # "ok", "failed" (one answer for unknown id, wrong secret, used or expired code), "locked"
    subject: str | None = None
    by_code: bool = False


@dataclass(frozen=True)
class PortalSession:
    subject: str
    needs_password: bool
    created_at: datetime


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _at(value: str | None) -> datetime | None:
    return parse_instant(value) if value else None


class PortalService:
    """The portal over one registry: every view and change is audited with channel ``portal``."""

    def __init__(self, registry: ConsentRegistry, policy: PortalPolicy | None = None) -> None:
        self.registry = registry
        self.policy = policy or PortalPolicy()

    # --- signing in -------------------------------------------------------------------------------------

    def _id_key(self, national_id: str) -> tuple[str, str | None]:
        """The throttle key of what was typed (known or not, valid or not) and its pseudonym when valid."""
        try:
            subject = self.registry.pseudonymiser.subject(national_id)
        except IdentifierError:
            typed = "".join(national_id.split()).upper()
            return "id:" + self.registry.pseudonymiser.access_code_hash("portal-id:" + typed), None
        return "id:" + subject, subject

    @staticmethod
    def _throttle(conn: Connection, key: str) -> Throttle | None:
        row = conn.execute(select(t.portal_throttle).where(t.portal_throttle.c.key == key)).first()
        if row is None:
            return None
        return Throttle(row.failures, parse_instant(row.first_failure_at), _at(row.locked_until))

    @staticmethod
    def _store_throttle(conn: Connection, key: str, state: Throttle) -> None:
        values = {
            "failures": state.failures,
            "first_failure_at": format_instant(state.first_failure_at),
            "locked_until": format_instant(state.locked_until) if state.locked_until else None,
        }
        done = conn.execute(t.portal_throttle.update().where(t.portal_throttle.c.key == key).values(**values))
        if done.rowcount == 0:
            conn.execute(t.portal_throttle.insert().values(key=key, **values))

    def sign_in(self, national_id: str, secret: str, client: str, now: datetime | None = None) -> SignIn:
        """Sign in with a letter's code or one's password. Every refusal but a lock is one answer, and every
        attempt costs the same reads and one argon2 verification, so nobody learns who is enrolled."""
        moment = utc(now or now_utc())
        id_key, subject = self._id_key(national_id)
        client_key = "client:" + client[:64]
        code_hash = self.registry.pseudonymiser.access_code_hash(secret.strip())

        def look(conn: Connection) -> tuple[bool, Any, str | None]:
            locked = is_locked(self._throttle(conn, id_key), moment) or is_locked(
                self._throttle(conn, client_key), moment
            )
            code = conn.execute(
                select(t.access_codes).where(
                    t.access_codes.c.code_hash == code_hash, t.access_codes.c.subject == (subject or "")
                )
            ).first()
            stored = conn.execute(
                select(t.portal_credentials.c.password_hash).where(t.portal_credentials.c.subject == (subject or ""))
            ).scalar()
            return locked, code, stored

        locked, code, stored = self.registry._retrying(look)
        code_ok = code is not None and code_usable(
            parse_instant(code.created_at), _at(code.used_at), _at(code.revoked_at), moment, self.policy.code_valid_days
        )
        password_ok: bool = False
        try:
            verified: bool = _hasher.verify(stored if stored and not code_ok else _DUMMY_HASH, secret[:PASSWORD_MAX])
            password_ok = verified and bool(stored) and not code_ok
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            password_ok = False
        if locked:
            self._audit_attempt(client, subject, "portal.sign_in.locked", moment)
            return SignIn("locked")

        def settle(conn: Connection) -> SignIn:
            ok: bool = password_ok
            if code_ok:
                used = conn.execute(
                    t.access_codes.update()
                    .where(t.access_codes.c.code_hash == code_hash, t.access_codes.c.used_at.is_(None))
                    .values(used_at=format_instant(moment))
                )
                ok = used.rowcount == 1  # a second, simultaneous use of one code loses
            who = Actor("portal", client=client)
            if ok:
                conn.execute(t.portal_throttle.delete().where(t.portal_throttle.c.key == id_key))
                audit.record(
                    conn, who, "portal.sign_in", moment, subject=subject, detail="code" if code_ok else "password"
                )
                return SignIn("ok", subject, by_code=code_ok)
            for key, limit in (
                (id_key, self.policy.max_failures_per_id),
                (client_key, self.policy.max_failures_per_client),
            ):
                self._store_throttle(conn, key, after_failure(self._throttle(conn, key), moment, limit, self.policy))
            audit.record(conn, who, "portal.sign_in.failed", moment, subject=subject)
            return SignIn("failed")

        result: SignIn = self.registry._retrying(settle)
        return result

    def _audit_attempt(self, client: str, subject: str | None, action: str, moment: datetime) -> None:
        self.registry._retrying(
            lambda conn: audit.record(conn, Actor("portal", client=client), action, moment, subject=subject)
        )

    def set_password(self, subject: str, password: str, client: str, now: datetime | None = None) -> None:
        problem = password_problem(password)
        if problem:
            raise ConsentError(problem)
        hashed = _hasher.hash(password)
        moment = utc(now or now_utc())

        def work(conn: Connection) -> None:
            done = conn.execute(
                t.portal_credentials.update()
                .where(t.portal_credentials.c.subject == subject)
                .values(password_hash=hashed, set_at=format_instant(moment))
            )
            if done.rowcount == 0:
                conn.execute(
                    t.portal_credentials.insert().values(
                        subject=subject, password_hash=hashed, set_at=format_instant(moment)
                    )
                )
            conn.execute(
                t.portal_sessions.update().where(t.portal_sessions.c.subject == subject).values(needs_password=False)
            )
            audit.record(conn, Actor("portal", client=client), "portal.password_set", moment, subject=subject)

        self.registry._retrying(work)

    def reissue_code(self, national_id: str, who: Actor, now: datetime | None = None) -> str:
        """A steward's new code for a person who lost theirs; earlier unused codes stop working (audited)."""
        subject = self.registry.pseudonymiser.subject(national_id)
        moment = utc(now or now_utc())

        def revoke(conn: Connection) -> None:
            enrolled = conn.execute(select(t.enrolments.c.subject).where(t.enrolments.c.subject == subject)).first()
            if enrolled is None:
                raise NotFound("this person is not enrolled in any dataset of the registry")
            conn.execute(
                t.access_codes.update()
                .where(
                    t.access_codes.c.subject == subject,
                    t.access_codes.c.used_at.is_(None),
                    t.access_codes.c.revoked_at.is_(None),
                )
                .values(revoked_at=format_instant(moment))
            )
            audit.record(conn, who, "portal.code_reissue", moment, subject=subject)

        self.registry._retrying(revoke)
        return self.registry.issue_access_codes([subject], now=moment)[0]

    # --- sessions --------------------------------------------------------------------------------------

    def open_session(self, subject: str, client: str, needs_password: bool, now: datetime | None = None) -> str:
        token = secrets.token_urlsafe(32)
        stamp = format_instant(now or now_utc())
        self.registry._retrying(
            lambda conn: conn.execute(
                t.portal_sessions.insert().values(
                    token_hash=_hash_token(token),
                    subject=subject,
                    created_at=stamp,
                    last_seen_at=stamp,
                    client=client[:64],
                    needs_password=needs_password,
                )
            )
        )
        return token

    def session(self, token: str, now: datetime | None = None) -> PortalSession | None:
        """The live session of ``token`` (its inactivity clock restarted), or None once ended or idle."""
        moment = utc(now or now_utc())
        key = _hash_token(token)

        def work(conn: Connection) -> PortalSession | None:
            row = conn.execute(select(t.portal_sessions).where(t.portal_sessions.c.token_hash == key)).first()
            if row is None or row.ended_at is not None:
                return None
            if moment - parse_instant(row.last_seen_at) > self.policy.idle:
                conn.execute(
                    t.portal_sessions.update()
                    .where(t.portal_sessions.c.token_hash == key)
                    .values(ended_at=format_instant(moment))
                )
                return None
            conn.execute(
                t.portal_sessions.update()
                .where(t.portal_sessions.c.token_hash == key)
                .values(last_seen_at=format_instant(moment))
            )
            return PortalSession(row.subject, bool(row.needs_password), parse_instant(row.created_at))

        result: PortalSession | None = self.registry._retrying(work)
        return result

    def end_session(self, token: str, client: str, now: datetime | None = None) -> None:
        moment = utc(now or now_utc())
        key = _hash_token(token)

        def work(conn: Connection) -> None:
            row = conn.execute(select(t.portal_sessions).where(t.portal_sessions.c.token_hash == key)).first()
            if row is None or row.ended_at is not None:
                return
            conn.execute(
                t.portal_sessions.update()
                .where(t.portal_sessions.c.token_hash == key)
                .values(ended_at=format_instant(moment))
            )
            audit.record(conn, Actor("portal", client=client), "portal.sign_out", moment, subject=row.subject)

        self.registry._retrying(work)

    # --- what the person sees --------------------------------------------------------------------------

    def my_data(self, subject: str, client: str, now: datetime | None = None) -> MyData:
        """Every enrolment with its status today, every release that included their cases with its notices'
        state, and their whole history (audited as ``portal.view``)."""
        moment = utc(now or now_utc())

        def work(conn: Connection) -> MyData:
            audit.record(conn, Actor("portal", client=client), "portal.view", moment, subject=subject)
            enrolments = self.registry._enrolments_in(conn, subject)
            state = self.registry._state_in(conn, subject)
            events = self.registry._events_in(conn, subject)
            datasets = [self._status(e, state, moment) for e in sorted(enrolments, key=lambda e: e.dataset)]
            choices = [
                PurposeChoice(
                    k.scope_purpose, v.kind, v.effective_at, None if k.scope_dataset == ALL else k.scope_dataset
                )
                for k, v in sorted(state.items(), key=lambda kv: kv[1].effective_at, reverse=True)
                if k.facet == "choice" and k.scope_purpose != ALL
            ]
            return MyData(
                subject,
                datasets,
                choices,
                _releases_of(conn, subject, self.registry.pseudonymiser.release_secret),
                events[::-1],
            )

        result: MyData = self.registry._retrying(work)
        return result

    def _status(self, enrolment: Any, state: dict[StateKey, StateEntry], moment: datetime) -> DatasetStatus:
        policy = self.registry.policy
        decision: Decision = decide_current(state, enrolment, policy, Use(enrolment.dataset, GENERAL_PURPOSE), moment)
        since = max(
            (
                v.effective_at
                for k, v in state.items()
                if k.facet == "choice"
                and k.scope_dataset in (ALL, enrolment.dataset)
                and k.scope_purpose == ALL
                and v.kind.value == decision.reason
            ),
            default=None,
        )
        ends = None
        if decision.reason == "notice_period_running":
            sent = [
                v.effective_at
                for k, v in state.items()
                if k.facet == EventKind.NOTICE_SENT.value and k.scope_dataset in (ALL, enrolment.dataset)
            ]
            ends = max(sent) + timedelta(days=policy.notice_period_days) if sent else None
        return DatasetStatus(
            enrolment.dataset,
            enrolment.institution,
            enrolment.category,
            enrolment.enrolled_at,
            decision.permit,
            decision.reason,
            since,
            ends,
        )

    def history(self, subject: str, client: str) -> list[ConsentEvent]:
        """Every event of the person, from any channel, newest first (audited as ``portal.history``)."""

        def work(conn: Connection) -> list[ConsentEvent]:
            audit.record(conn, Actor("portal", client=client), "portal.history", now_utc(), subject=subject)
            return self.registry._events_in(conn, subject)[::-1]

        result: list[ConsentEvent] = self.registry._retrying(work)
        return result

    # --- changing a choice -----------------------------------------------------------------------------

    def plan(self, subject: str, change: Change, client: str, now: datetime | None = None) -> ChangePlan:
        """Exactly what ``change`` will do, before it is made (audited as ``portal.change.preview``)."""
        moment = utc(now or now_utc())
        if change.purpose is not None:
            change = Change(change.direction, change.dataset, purposes().normalise(change.purpose))
            if change.purpose not in PURPOSE_CHOICES:
                raise ConsentError("portal_purpose_unknown")

        def work(conn: Connection) -> ChangePlan:
            enrolments = self.registry._enrolments_in(conn, subject)
            reached = [e for e in enrolments if change.dataset in (None, e.dataset)]
            if not reached:
                raise NotFound("portal_not_enrolled")
            events = self.registry._events_in(conn, subject)
            granted = any(
                e.kind in GRANTS
                and change.dataset in (None, e.scope_dataset)
                and e.scope_dataset in (None, change.dataset)
                for e in events
            )
            kind = kind_for(change.direction, [e.category for e in reached], granted)
            releases: list[str] = []
            projects: set[str] = set()
            if change.direction is Direction.OUT:
                for use in _releases_of(conn, subject, self.registry.pseudonymiser.release_secret):
                    # a holder already told to delete their cases is not told again
                    owed = use.active_until >= moment and not use.notices
                    if owed and covers(use.dataset, _scopes(conn, use.release_id), change):
                        releases.append(use.release_id)
                        projects.add(use.application)
            audit.record(
                conn,
                Actor("portal", client=client),
                "portal.change.preview",
                moment,
                subject=subject,
                dataset=change.dataset,
                purpose=change.purpose,
                detail=kind.value,
            )
            return ChangePlan(change, kind, sorted(e.dataset for e in reached), releases, len(projects))

        result: ChangePlan = self.registry._retrying(work)
        return result

    def commit(self, subject: str, plan: ChangePlan, client: str, key: str) -> ConsentEvent:
        """Append the planned change through the registry (channel ``portal``; ``key`` makes a repeated
        submission of one confirmation page a no-op) and audit it."""
        request = EventRequest(
            subject=subject,
            kind=plan.kind,
            scope_dataset=plan.change.dataset,
            scope_purpose=plan.change.purpose,
            channel=Channel.PORTAL,
            actor="portal",
            evidence="data-subject portal session",
        )
        event = self.registry.append([request], [f"portal:{key}"])[0]
        self.registry._retrying(
            lambda conn: audit.record(
                conn,
                Actor("portal", client=client),
                "portal.change",
                now_utc(),
                subject=subject,
                dataset=plan.change.dataset,
                purpose=plan.change.purpose,
                detail=f"{event.kind.value} event {event.event_id}",
            )
        )
        return event

    def own_event(self, subject: str, event_id: str, client: str) -> ConsentEvent:
        """One of the person's own events, for its receipt (audited as ``portal.receipt``)."""

        def work(conn: Connection) -> ConsentEvent:
            found = [e for e in self.registry._events_in(conn, subject) if e.event_id == event_id]
            if not found:
                raise NotFound("portal_no_such_receipt")
            audit.record(
                conn,
                Actor("portal", client=client),
                "portal.receipt",
                now_utc(),
                subject=subject,
                detail=f"event {event_id}",
            )
            return found[0]

        result: ConsentEvent = self.registry._retrying(work)
        return result


def _scopes(conn: Connection, release_id: str) -> frozenset[str]:
    q = select(t.release_scopes.c.scope_purpose).where(t.release_scopes.c.release_id == release_id)
    return frozenset(conn.execute(q).scalars())


def _releases_of(conn: Connection, subject: str, secret_of: Callable[[str], bytes]) -> list[ReleaseUse]:
    """Releases holding the subject's cases, newest first, each with the withdrawal notices naming them."""
    cases = membership.cases_of(conn, [subject])
    if not cases:
        return []
    r = t.releases.c
    held = {h.release_id: h.case_ids for h in membership.held_by_release(conn, cases)}
    if not held:
        return []
    ids = sorted(held)
    schemes = {
        str(release_id): (manifest if isinstance(manifest, dict) else json.loads(manifest)).get("pseudonym_scheme")
        for release_id, manifest in conn.execute(select(r.release_id, r.manifest).where(r.release_id.in_(ids)))
    }
    pairs = [
        (release_id, pseudonym)
        for release_id in ids
        for pseudonym in withdrawals.pseudonyms(
            secret_of(release_id), schemes.get(release_id) or withdrawals.CMAC_SCHEME, held[release_id]
        )
    ]
    n = t.withdrawal_notices.c
    mine: dict[str, list[str]] = defaultdict(list)
    for release_id, pseudonym in pairs:
        mine[release_id].append(pseudonym)
    # The notices of those releases (few), and which of them name this person's pseudonyms.
    notices: dict[str, dict[str, NoticeState]] = defaultdict(dict)
    for start in range(0, len(ids), 1000):
        q = select(n.notice_id, n.release_id, n.created_at, n.acknowledged_at, n.pseudonyms).where(
            n.release_id.in_(ids[start : start + 1000])
        )
        for notice_id, release_id, created, acked, packed in conn.execute(q):
            if notice_lists.holds(packed, mine[release_id]).any():
                notices[release_id][notice_id] = NoticeState(notice_id, parse_instant(created), _at(acked))
    uses: list[ReleaseUse] = []
    for start in range(0, len(ids), 1000):
        rows = conn.execute(select(t.releases).where(t.releases.c.release_id.in_(ids[start : start + 1000])))
        for row in rows:
            manifest = row.manifest if isinstance(row.manifest, dict) else json.loads(row.manifest)
            project = manifest.get("project")
            uses.append(
                ReleaseUse(
                    row.release_id,
                    row.application,
                    row.dataset,
                    row.purpose,
                    parse_instant(row.created_at),
                    parse_instant(row.active_until),
                    ReleaseProject.model_validate(project) if project else None,
                    sorted(notices[row.release_id].values(), key=lambda n: n.created_at),
                )
            )
    uses.sort(key=lambda u: u.released_at, reverse=True)
    return uses


__all__ = [
    "Change",
    "ChangePlan",
    "Direction",
    "MyData",
    "PortalPolicy",
    "PortalService",
    "SignIn",
    "after_failure",
    "code_usable",
    "covers",
    "is_locked",
    "kind_for",
    "password_problem",
]
