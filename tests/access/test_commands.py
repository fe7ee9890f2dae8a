"""The command layer over folded state: the whole route as events, and each command's refusals."""

from datetime import date

import pytest

from access import commands
from access.fold import fold
from access.refusals import Refusal
from schemas.access import ChangeKind, Criterion, Decision, Event, Person, Status
from tests.access.history import APP, RESEARCHER, at, good_form

SCORES = {c: 4 for c in Criterion}


def _run(events: list[Event], new: list[Event]) -> list[Event]:
    events.extend(new)
    return events


def test_the_whole_route_from_draft_to_destruction() -> None:
    ev = commands.create(APP, RESEARCHER, "NTU Hospital", ["ds-1"], at("2026-03-02"))
    _run(ev, commands.save_draft(fold(ev), RESEARCHER, good_form(irb=None), at("2026-03-02")))
    with pytest.raises(commands.Refused) as incomplete:
        commands.submit(fold(ev), RESEARCHER, at("2026-03-02"))
    assert set(incomplete.value.problems) == {"irb"}
    _run(ev, commands.save_draft(fold(ev), RESEARCHER, good_form(), at("2026-03-02")))
    _run(ev, commands.submit(fold(ev), RESEARCHER, at("2026-03-02")))
    _run(ev, commands.return_for_correction(fold(ev), "user:2", "the IRB PDF is unreadable", at("2026-03-03")))
    _run(ev, commands.resubmit(fold(ev), RESEARCHER, good_form(), at("2026-03-05")))
    _run(ev, commands.review(fold(ev), "user:2", SCORES, at("2026-03-09"), "sound", reviewer_institution="NCKU"))
    _run(ev, commands.review(fold(ev), "user:3", SCORES, at("2026-03-09"), reviewer_institution="NTU Hospital"))
    assert [r.conflict_of_interest for r in fold(ev).reviews] == [False, True]
    _run(ev, commands.decide(fold(ev), "user:2", Decision.APPROVE, at("2026-03-10"), ["on-site analysis only"]))
    _run(ev, commands.record_agreement(fold(ev), "user:4", date(2026, 3, 11), ["Lin", "Chen"], True, at("2026-03-11")))
    _run(ev, commands.released(fold(ev), "user:4", "dg.TW01/r1", "ds-1", 10, at("2026-03-12")))
    app = fold(ev)
    assert (app.status, app.starts_on, app.ends_on) == (Status.ACTIVE, date(2026, 3, 12), date(2026, 9, 12))
    _run(ev, commands.acknowledge_withdrawal(fold(ev), RESEARCHER, "n-1", ["n-1"], at("2026-04-01")))
    _run(ev, commands.expire(fold(ev), at("2026-09-12")))
    _run(ev, commands.confirm_destruction(fold(ev), RESEARCHER, at("2026-09-14"), "deleted all copies"))
    assert fold(ev).status is Status.CLOSED


def _active() -> list[Event]:
    ev = commands.create(APP, RESEARCHER, "NTU Hospital", ["ds-1"], at("2026-03-02"))
    _run(ev, commands.save_draft(fold(ev), RESEARCHER, good_form(), at("2026-03-02")))
    _run(ev, commands.submit(fold(ev), RESEARCHER, at("2026-03-02")))
    _run(ev, commands.review(fold(ev), "user:2", SCORES, at("2026-03-03")))
    _run(ev, commands.decide(fold(ev), "user:2", Decision.APPROVE, at("2026-03-03")))
    _run(ev, commands.record_agreement(fold(ev), "user:4", date(2026, 3, 4), ["Lin", "Chen"], True, at("2026-03-04")))
    return _run(ev, commands.released(fold(ev), "user:4", "dg.TW01/r1", "ds-1", 10, at("2026-04-01")))


def test_only_the_applicant_acts_on_their_application() -> None:
    with pytest.raises(commands.Refused, match="only the applicant"):
        commands.file_report(fold(_active()), "user:99", "used", at("2026-05-01"))


def test_a_resubmission_after_seven_working_days_is_refused_as_lapsed() -> None:
    ev = commands.create(APP, RESEARCHER, "NTU Hospital", ["ds-1"], at("2026-03-02"))
    _run(ev, commands.save_draft(fold(ev), RESEARCHER, good_form(), at("2026-03-02")))
    _run(ev, commands.submit(fold(ev), RESEARCHER, at("2026-03-02")))
    _run(ev, commands.decide(fold(ev), "user:2", Decision.RETURN, at("2026-03-02"), reason="sign the form"))
    with pytest.raises(commands.Refused, match=r"due by 2026-03-11 \(7 working days\); the application has lapsed"):
        commands.resubmit(fold(ev), RESEARCHER, good_form(), at("2026-03-12"))


def test_a_personnel_change_in_the_same_six_months_is_refused_with_the_date_of_the_last() -> None:
    team = [Person(name="Lin", institution="NTU Hospital")]
    ev = _active()
    _run(ev, commands.request_change(fold(ev), RESEARCHER, ChangeKind.PERSONNEL, at("2026-05-01"), personnel=team))
    with pytest.raises(commands.Refused, match="the last change was on 2026-05-01"):
        commands.request_change(fold(ev), RESEARCHER, ChangeKind.PERSONNEL, at("2026-06-01"), personnel=team)


def test_an_extension_moves_the_end_date_and_must_come_before_it() -> None:
    ev = _active()
    _run(ev, commands.extend(fold(ev), RESEARCHER, 3, at("2026-09-01")))
    assert fold(ev).ends_on == date(2027, 1, 1)
    with pytest.raises(commands.Refused, match="before the period ends"):
        commands.extend(fold(ev), RESEARCHER, 3, at("2027-01-01"))


def test_a_second_review_by_the_same_member_and_self_review_are_refused() -> None:
    ev = _active()[:3]
    _run(ev, commands.review(fold(ev), "user:2", SCORES, at("2026-03-03")))
    with pytest.raises(commands.Refused, match="already"):
        commands.review(fold(ev), "user:2", SCORES, at("2026-03-03"))
    with pytest.raises(commands.Refused, match="own application"):
        commands.review(fold(ev), RESEARCHER, SCORES, at("2026-03-03"))


def test_a_release_before_the_agreement_is_refused() -> None:
    ev = _active()[:5]
    with pytest.raises(commands.Refused, match="data-use agreement"):
        commands.released(fold(ev), "user:4", "r", "ds-1", 1, at("2026-03-05"))


def test_obligations_block_a_new_application() -> None:
    owed = Refusal("obligation_report_overdue", {"application": "app-1", "due": date(2026, 10, 1)})
    with pytest.raises(commands.Refused, match="refused until these are settled: app-1: the usage report") as e:
        commands.create("app-2", RESEARCHER, "NTU", ["ds-1"], at("2026-11-01"), [owed])
    assert (e.value.refusal.code, e.value.refusal.parts) == ("blocked", (owed,))


def test_a_refusal_carries_its_code_and_facts() -> None:
    ev = _active()
    _run(ev, commands.request_change(fold(ev), RESEARCHER, ChangeKind.FILES, at("2026-05-01"), files=["a.csv"]))
    with pytest.raises(commands.Refused) as e:
        commands.request_change(fold(ev), RESEARCHER, ChangeKind.FILES, at("2026-06-01"), files=["b.csv"])
    assert e.value.refusal == Refusal("files_added_already", {"added_on": date(2026, 5, 1)})
    with pytest.raises(commands.Refused) as wrong:
        commands.file_report(fold(ev), "user:99", "used", at("2026-05-01"))
    assert wrong.value.refusal == Refusal("not_applicant", {"applicant": RESEARCHER, "application": APP})


def test_an_incomplete_form_names_each_field_with_its_code() -> None:
    ev = commands.create(APP, RESEARCHER, "NTU Hospital", ["ds-1"], at("2026-03-02"))
    _run(ev, commands.save_draft(fold(ev), RESEARCHER, good_form(irb=None, period_months=12), at("2026-03-02")))
    with pytest.raises(commands.Refused) as e:
        commands.submit(fold(ev), RESEARCHER, at("2026-03-02"))
    assert {k: r.code for k, r in e.value.problems.items()} == {"irb": "irb_required", "period_months": "period_pilot"}
    assert e.value.refusal.code == "form_incomplete"
    assert e.value.problems["period_months"].params == {"max": 6, "months": 12}
    assert e.value.message.startswith("the application is not complete: an IRB approval is needed")


def test_expire_emits_nothing_before_the_end_date() -> None:
    assert commands.expire(fold(_active()), at("2026-09-30")) == []
    assert len(commands.expire(fold(_active()), at("2026-10-01"))) == 1
