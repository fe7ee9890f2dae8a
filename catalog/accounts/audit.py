"""The catalog's audit log: every state change and every view of a person's data, with who, what, when
and from where. Appended in its own short transaction; never updated. Holds pseudonyms, never raw ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from catalog.accounts.service import as_utc, now_utc
from catalog.accounts.tables import AuditRow


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    subject: str | None
    client: str
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        *,
        client: str = "",
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(AuditRow).values(
                    at=now or now_utc(),
                    actor=actor[:100],
                    action=action[:100],
                    target=target[:500],
                    subject=subject,
                    client=client[:100],
                    detail=detail or {},
                )
            )

    def entries(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[AuditRecord]:
        """Newest first, filtered by any of the given fields."""
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if actor:
            q = q.where(AuditRow.actor == actor)
        if action:
            q = q.where(AuditRow.action.startswith(action))
        if subject:
            q = q.where(AuditRow.subject == subject)
        if since:
            q = q.where(AuditRow.at >= since)
        if until:
            q = q.where(AuditRow.at < until)
        with self.engine.connect() as conn:
            return [
                AuditRecord(r.id, as_utc(r.at), r.actor, r.action, r.target, r.subject, r.client, r.detail)
                for r in conn.execute(q)
            ]
