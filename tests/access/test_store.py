"""The event store on the catalog database (SQLite and real PostgreSQL): append, fold, refuse rewrites."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from access import commands
from access.store import Conflict, EventStore, NotFound
from catalog.store import Store
from schemas.access import Status
from tests.access.history import APP, RESEARCHER, at, good_form


def _draft(events: EventStore) -> None:
    events.create(commands.create(APP, RESEARCHER, "NTU Hospital", ["ds-1"], at("2026-03-02")))
    events.act(APP, lambda app: commands.save_draft(app, RESEARCHER, good_form(), at("2026-03-02")))


def test_events_are_appended_and_folded_back(store: Store) -> None:
    events = EventStore(store.engine)
    _draft(events)
    app = events.act(APP, lambda app: commands.submit(app, RESEARCHER, at("2026-03-02")))
    assert app.status is Status.SUBMITTED
    assert events.get(APP) == app
    assert [e.type for e in events.history(APP)] == ["created", "draft_saved", "submitted"]
    assert [a.id for a in events.applications(RESEARCHER)] == [APP]
    assert events.applications("user:99") == []


def test_a_writer_that_read_an_older_state_conflicts(store: Store) -> None:
    events = EventStore(store.engine)
    _draft(events)
    stale = events.get(APP)
    events.act(APP, lambda app: commands.submit(app, RESEARCHER, at("2026-03-02")))
    with pytest.raises(Conflict, match="reload it and try again"):
        events.append(RESEARCHER, stale.events, commands.submit(stale, RESEARCHER, at("2026-03-02")))


def test_the_database_refuses_to_update_or_delete_an_event(store: Store) -> None:
    events = EventStore(store.engine)
    _draft(events)
    for statement in ("UPDATE access_events SET actor = 'x'", "DELETE FROM access_events"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(events.history(APP)) == 2


def test_an_unknown_application_says_where_to_look(store: Store) -> None:
    with pytest.raises(NotFound, match="/api/applications"):
        EventStore(store.engine).get("nope")
