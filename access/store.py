"""The append-only store of application events (table ``access_events`` in the catalog database).

Given an engine by its caller (the catalog opens the database and runs the migration); it never
updates or deletes a row, and the database refuses it too. Two writers racing on one application
conflict on (application_id, n) and the later one is told to retry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import JSON, Column, DateTime, Engine, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from access.commands import Refused
from access.fold import fold
from access.refusals import Refusal
from schemas.access import EVENT_ADAPTER, Application, Event

_metadata = MetaData()
access_events = Table(
    "access_events",
    _metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("application_id", String(100), nullable=False),
    Column("n", Integer, nullable=False),
    Column("type", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("applicant", String(100), nullable=False),
    Column("body", JSON, nullable=False),
)


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    """Someone else changed the application between read and write."""


class EventStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def history(self, application_id: str) -> list[Event]:
        q = select(access_events.c.body).where(access_events.c.application_id == application_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(access_events.c.n)).scalars().all()
        return [EVENT_ADAPTER.validate_python(body) for body in rows]

    def get(self, application_id: str) -> Application:
        events = self.history(application_id)
        if not events:
            raise NotFound(f"no application {application_id!r}; list yours at /api/applications")
        return fold(events)

    def applications(self, applicant: str | None = None) -> list[Application]:
        """Every application (of ``applicant``, if given), oldest first."""
        q = select(access_events.c.application_id, access_events.c.body).order_by(access_events.c.seq)
        if applicant is not None:
            q = q.where(access_events.c.applicant == applicant)
        streams: dict[str, list[Event]] = defaultdict(list)
        with self.engine.connect() as conn:
            for app_id, body in conn.execute(q):
                streams[app_id].append(EVENT_ADAPTER.validate_python(body))
        return [fold(events) for events in streams.values()]

    def append(self, applicant: str, after: int, events: Sequence[Event]) -> None:
        """Append ``events`` to an application that had ``after`` events when it was read."""
        rows = [
            {
                "application_id": e.application_id,
                "n": after + i + 1,
                "type": e.type,
                "at": e.at,
                "actor": e.actor,
                "applicant": applicant,
                "body": EVENT_ADAPTER.dump_python(e, mode="json"),
            }
            for i, e in enumerate(events)
        ]
        if not rows:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(access_events.insert(), rows)
        except IntegrityError:
            raise Conflict("the application changed while you worked on it: reload it and try again") from None

    def create(self, events: Sequence[Event]) -> Application:
        if not events:
            raise Refused(Refusal("nothing_to_create"))
        first = fold(events[:1])
        self.append(first.applicant, 0, events)
        return fold(events)

    def act(self, application_id: str, command: Callable[[Application], list[Event]]) -> Application:
        """Fold the application, run ``command`` on it and append what it emits; returns the new state."""
        history = self.history(application_id)
        if not history:
            raise NotFound(f"no application {application_id!r}; list yours at /api/applications")
        app = fold(history)
        new = command(app)
        self.append(app.applicant, len(history), new)
        return fold([*history, *new])
