"""The access audit log: who looked up which person or release, when, and under which request id.

Rows are appended inside the caller's transaction (so a release and its audit row commit together)
and hold pseudonyms only, never a raw identifier. Reading the log is itself audited by the registry.
"""

from __future__ import annotations

import getpass
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select

from consent import tables as t
from schemas.consent import AuditEntry, format_instant, parse_instant

# A client's correlation id is kept only when it cannot be a national id (10 characters): a UUID or
# 16-64 hex digits. Anything else is replaced by an id of ours, so no free text reaches the log.
_REQUEST_ID = re.compile(r"[0-9a-fA-F]{16,64}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(candidate: str | None) -> str:
    """The client's ``X-Request-ID`` when it is a safe correlation id, else a fresh one."""
    if candidate and _REQUEST_ID.fullmatch(candidate.strip()):
        return candidate.strip().lower()
    return new_request_id()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry and no USER/LOGNAME (containers)
        return f"uid{os.getuid()}"


@dataclass(frozen=True)
class Actor:
    """Who is acting (steward token, CLI user, a process) and the id that correlates their request."""

    name: str
    request_id: str = field(default_factory=new_request_id)
    client: str | None = None  # the client address, where a request came over the network

    @classmethod
    def cli(cls) -> Actor:
        return cls(f"cli:{_os_user()}")

    @classmethod
    def process(cls) -> Actor:
        """In-process callers that name nobody (scripts, tests): still audited, under the OS user."""
        return cls(f"process:{_os_user()}")


def record(
    conn: Connection,
    who: Actor,
    action: str,
    at: datetime,
    *,
    subject: str | None = None,
    release_id: str | None = None,
    dataset: str | None = None,
    purpose: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one audit row in ``conn``'s transaction."""
    conn.execute(
        t.audit_log.insert().values(
            at=format_instant(at),
            actor=who.name[:200],
            action=action,
            subject=subject,
            release_id=release_id,
            dataset=dataset,
            purpose=purpose,
            request_id=who.request_id[:64],
            detail=detail,
            client=who.client[:64] if who.client else None,
        )
    )


def entries(
    conn: Connection,
    subject: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Audit rows, oldest first, filtered by subject pseudonym, time and action."""
    q = select(t.audit_log).order_by(t.audit_log.c.id)
    if subject is not None:
        q = q.where(t.audit_log.c.subject == subject)
    if since is not None:
        q = q.where(t.audit_log.c.at >= format_instant(since))
    if action is not None:
        q = q.where(t.audit_log.c.action == action)
    q = q.limit(limit)
    return [
        AuditEntry(
            id=r.id,
            at=parse_instant(r.at),
            actor=r.actor,
            action=r.action,
            subject=r.subject,
            release_id=r.release_id,
            dataset=r.dataset,
            purpose=r.purpose,
            request_id=r.request_id,
            detail=r.detail,
            client=r.client,
        )
        for r in conn.execute(q)
    ]
