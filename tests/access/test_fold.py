from datetime import date

import pytest

from access import commands
from access.fold import FoldError, fold
from schemas.access import (
    EVENT_ADAPTER,
    Criterion,
    Decided,
    Decision,
    DestructionConfirmed,
    Expired,
    Extended,
    OutputCheckRef,
    Resubmitted,
    Returned,
    Reviewed,
    Status,
    Submitted,
)
from tests.access.history import APP, at, good_form, released, submitted


def test_a_submitted_application_folds_to_submitted_with_its_form() -> None:
    app = fold(submitted())
    assert app.status is Status.SUBMITTED
    assert app.form.title == "Lung nodules in low-dose CT"
    assert app.submitted_at == at("2026-03-02")
    assert app.events == 3


def test_return_and_resubmission_replace_the_form_and_clear_the_return() -> None:
    events = [
        *submitted(),
        Returned(application_id=APP, at=at("2026-03-03"), actor="user:2", reason="IRB document unreadable"),
    ]
    assert fold(events).status is Status.RETURNED
    assert fold(events).return_reason == "IRB document unreadable"
    events.append(Resubmitted(application_id=APP, at=at("2026-03-05"), actor="user:7", form=good_form(title="New")))
    app = fold(events)
    assert (app.status, app.form.title, app.returned_at) == (Status.SUBMITTED, "New", None)


def test_decisions_set_the_status_conditions_and_reason() -> None:
    approve = Decided(
        application_id=APP, at=at("2026-03-09"), actor="user:2", decision=Decision.APPROVE, conditions=["on-site only"]
    )
    assert fold([*submitted(), approve]).conditions == ["on-site only"]
    reject = Decided(application_id=APP, at=at("2026-03-09"), actor="user:2", decision=Decision.REJECT, reason="r")
    assert fold([*submitted(), reject]).status is Status.REJECTED
    back = Decided(application_id=APP, at=at("2026-03-09"), actor="user:2", decision=Decision.RETURN, reason="fix")
    assert fold([*submitted(), back]).status is Status.RETURNED


def test_release_starts_the_period_and_an_extension_moves_its_end() -> None:
    events = released()
    app = fold(events)
    assert (app.status, app.starts_on, app.ends_on) == (Status.ACTIVE, date(2026, 4, 1), date(2026, 10, 1))
    events.append(Extended(application_id=APP, at=at("2026-09-01"), actor="user:7", months=3, ends_on=date(2027, 1, 1)))
    assert fold(events).ends_on == date(2027, 1, 1)


def test_expiry_then_destruction_closes_the_application() -> None:
    events = [*released(), Expired(application_id=APP, at=at("2026-10-01"), actor="system")]
    assert fold(events).status is Status.EXPIRED
    events.append(DestructionConfirmed(application_id=APP, at=at("2026-10-02"), actor="user:7"))
    assert fold(events).status is Status.CLOSED


def test_a_history_must_start_with_created_and_belong_to_one_application() -> None:
    with pytest.raises(FoldError, match="starts with 'created'"):
        fold([Submitted(application_id=APP, at=at("2026-03-02"), actor="user:7")])
    with pytest.raises(FoldError, match="cannot be empty"):
        fold([])
    with pytest.raises(FoldError, match="in the history of"):
        fold([*submitted(), Submitted(application_id="other", at=at("2026-03-02"), actor="user:7")])


def test_events_round_trip_through_json_by_their_type() -> None:
    for event in released():
        assert EVENT_ADAPTER.validate_json(EVENT_ADAPTER.dump_json(event)) == event


def test_a_decision_records_the_output_check_reports_it_rests_on() -> None:
    ref = OutputCheckRef(id="sha256:" + "a" * 64, table="t.csv", threshold=5, ok=False, findings=2, flagged_cells=1)
    events = [
        *submitted(),
        Reviewed(application_id=APP, at=at("2026-03-05"), actor="user:2", scores={c: 4 for c in Criterion}),
    ]
    decided = commands.decide(fold(events), "user:3", Decision.APPROVE, at("2026-03-06"), output_checks=[ref, ref])
    app = fold([*events, *decided])
    assert app.status is Status.APPROVED and app.output_checks == [ref]  # attached once
