"""The ledger on a real database: append-only, hash chains, checkpoints, state kept equal to the fold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from consent.errors import ConsentError
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.state import fold
from schemas.consent import Category, EventKind, EventRequest
from tests.consent.subjects import DATASET, OTHER_DATASET, T0, national_id


def enrol(registry: ConsentRegistry, n: int, category: Category = Category.C) -> str:
    subject = registry.pseudonymiser.subject(national_id(n))
    registry.enrol([EnrolmentInput(subject, DATASET, "NTU", category, T0, (f"case-{n}",))])
    return subject


def req(subject: str, kind: EventKind, days: float = 1, **kw: object) -> EventRequest:
    return EventRequest(subject=subject, kind=kind, effective_at=T0 + timedelta(days=days), **kw)


def test_events_chain_by_subject_and_verify_passes(registry: ConsentRegistry) -> None:
    a, b = enrol(registry, 1), enrol(registry, 2)
    registry.append([req(a, EventKind.NOTICE_SENT), req(b, EventKind.NOTICE_SENT), req(a, EventKind.OPTED_OUT, 2)])
    events = registry.events_of(a)
    assert [e.seq for e in events] == [1, 2] and events[1].prev_hash == events[0].hash
    registry.checkpoint()
    result = registry.verify()
    assert result.ok and result.events_checked == 3 and result.chains == 2


def test_the_database_refuses_updates_and_deletes_of_events(registry: ConsentRegistry) -> None:
    a = enrol(registry, 1)
    registry.append([req(a, EventKind.NOTICE_SENT)])
    with registry.engine.begin() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("UPDATE consent_events SET kind = 'consent_given'"))
    with registry.engine.begin() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("DELETE FROM consent_events"))


def _drop_sqlite_guards(registry: ConsentRegistry) -> None:
    """What an attacker with file access would do first."""
    with registry.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER consent_events_no_update"))
        conn.execute(text("DROP TRIGGER consent_events_no_delete"))


def test_verify_names_the_first_altered_event(registry: ConsentRegistry) -> None:
    a = enrol(registry, 1)
    events = registry.append([req(a, EventKind.NOTICE_SENT), req(a, EventKind.OPTED_OUT, 2)])
    _drop_sqlite_guards(registry)
    with registry.engine.begin() as conn:
        conn.execute(
            text("UPDATE consent_events SET kind = 'reconsented' WHERE event_id = :e"), {"e": events[1].event_id}
        )
    result = registry.verify()
    assert not result.ok and result.first_break is not None
    assert result.first_break.event_id == events[1].event_id and "altered" in result.first_break.problem


def test_verify_detects_a_removed_event_inside_a_chain(registry: ConsentRegistry) -> None:
    a = enrol(registry, 1)
    events = registry.append(
        [req(a, EventKind.NOTICE_SENT), req(a, EventKind.OPTED_OUT, 2), req(a, EventKind.RECONSENTED, 3)]
    )
    _drop_sqlite_guards(registry)
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM consent_events WHERE event_id = :e"), {"e": events[1].event_id})
    result = registry.verify()
    assert result.first_break is not None and result.first_break.event_id == events[2].event_id


def test_a_checkpoint_detects_that_a_whole_chain_was_deleted(registry: ConsentRegistry) -> None:
    a, b = enrol(registry, 1), enrol(registry, 2)
    registry.append([req(a, EventKind.NOTICE_SENT), req(b, EventKind.NOTICE_SENT), req(b, EventKind.OPTED_OUT, 2)])
    registry.checkpoint()
    _drop_sqlite_guards(registry)
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM consent_events WHERE subject = :s"), {"s": b})
    result = registry.verify()
    assert result.first_break is None  # every remaining chain is intact on its own
    assert not result.ok and "removed or altered" in result.checkpoint_problems[0]


def test_materialised_state_equals_the_fold_of_the_stored_ledger(registry: ConsentRegistry) -> None:
    a = enrol(registry, 1)
    registry.enrol([EnrolmentInput(a, OTHER_DATASET, "NTU", Category.B, T0)])
    kinds = [EventKind.NOTICE_SENT, EventKind.OPTED_OUT, EventKind.RECONSENTED, EventKind.WITHDRAWN]
    for i, kind in enumerate(kinds * 3):
        registry.append([req(a, kind, days=10 - i % 5, scope_dataset=[None, DATASET, OTHER_DATASET][i % 3])])
    assert registry.state_of(a) == fold(registry.events_of(a))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scope_dataset": OTHER_DATASET}, "not enrolled in dataset"),
        ({"scope_purpose": "NOT-A-CODE"}, "unknown purpose code"),
        ({"days": -5}, "before the subject's enrolment"),
        ({"days": 100000}, "in the future"),
    ],
)
def test_bad_events_are_refused_with_a_clear_reason(registry: ConsentRegistry, change: dict, message: str) -> None:
    a = enrol(registry, 1)
    days = change.pop("days", 1)
    with pytest.raises(ConsentError, match=message):
        registry.append([req(a, EventKind.OPTED_OUT, days, **change)])
    assert registry.events_of(a) == []


def test_events_of_unenrolled_subjects_are_refused(registry: ConsentRegistry) -> None:
    stranger = registry.pseudonymiser.subject(national_id(99))
    with pytest.raises(ConsentError, match="not enrolled in any dataset"):
        registry.append([req(stranger, EventKind.OPTED_OUT)])


def test_a_retried_idempotency_key_returns_the_original_event(registry: ConsentRegistry) -> None:
    a = enrol(registry, 1)
    first = registry.append([req(a, EventKind.OPTED_OUT)], ["key-1"])
    again = registry.append([req(a, EventKind.OPTED_OUT)], ["key-1"])
    assert first == again and len(registry.events_of(a)) == 1
    with pytest.raises(ConsentError, match="already used for a different event"):
        registry.append([req(a, EventKind.WITHDRAWN)], ["key-1"])
