from datetime import date

from access import rules
from access.fold import fold
from access.refusals import Refusal
from schemas.access import (
    ChangeKind,
    ChangeRequested,
    Criterion,
    Decided,
    Decision,
    Person,
    PublicationRegistered,
    ReportFiled,
    Returned,
    Status,
    WithdrawalAcknowledged,
)
from tests.access.history import APP, at, good_form, released, submitted

TEAM = [Person(name="Lin", institution="NTU Hospital")]


def test_imaging_periods_are_3_6_or_12_months_and_at_most_6_in_the_pilot() -> None:
    assert rules.check_period(6, imaging=True) is None
    assert rules.check_period(3, imaging=True) is None
    assert "3, 6 or 12 months, not 4" in str(rules.check_period(4, imaging=True))
    assert "at most 6 months, not 12" in str(rules.check_period(12, imaging=True, pilot=True))
    assert rules.check_period(12, imaging=True, pilot=False) is None
    assert rules.check_period(9, imaging=False) is None
    assert "1 to 12 months, not 13" in str(rules.check_period(13, imaging=False))


def test_a_complete_form_has_no_problems() -> None:
    assert rules.form_problems(good_form(), date(2026, 3, 1)) == {}


def test_each_missing_part_of_the_form_is_named_next_to_its_field() -> None:
    problems = rules.form_problems(good_form(purpose="DUO:0000042", fields=[], irb=None), date(2026, 3, 1))
    assert set(problems) == {"purpose", "fields", "irb"}
    assert "public health or medical" in problems["purpose"].message


def test_irb_exempt_studies_need_no_approval_but_an_expired_approval_is_refused() -> None:
    assert rules.form_problems(good_form(irb=None, irb_exempt=True), date(2026, 3, 1)) == {}
    assert "expired on 2027-01-04" in rules.form_problems(good_form(), date(2027, 2, 1))["irb"].message


def test_people_of_another_institution_need_proof_of_their_role() -> None:
    outsider = Person(name="Wu", institution="Academia Sinica")
    assert "upload proof of their role" in str(rules.check_personnel([outsider], "NTU Hospital"))
    assert rules.check_personnel([outsider.model_copy(update={"role_proof": "doc-9"})], "NTU Hospital") is None


def test_a_fourth_concurrent_application_waits_with_the_reason() -> None:
    running = [fold(submitted(f"app-{i}")) for i in range(3)]
    refusal = rules.check_concurrency(running, date(2026, 3, 3))
    assert refusal == Refusal("too_many_running", {"max": 3, "running": ("app-0", "app-1", "app-2")})
    assert "at most 3 applications running at once; yours are app-0, app-1, app-2" in refusal.message
    assert rules.check_concurrency(running[:2], date(2026, 3, 3)) is None


def test_ended_applications_do_not_count_against_the_limit() -> None:
    ended = fold(released("app-0", start="2026-04-01", ends="2026-10-01"))
    others = [fold(submitted("app-1")), fold(submitted("app-2")), ended]
    assert rules.check_concurrency(others, date(2026, 9, 1)) is not None
    assert rules.check_concurrency(others, date(2026, 10, 1)) is None


def test_a_return_lapses_after_seven_working_days() -> None:
    # Returned Wed 2026-09-23: 25 Sep (Mid-Autumn) and 28 Sep (Teachers' Day) are holidays.
    app = fold([*submitted(), Returned(application_id=APP, at=at("2026-09-23"), actor="user:2", reason="fix")])
    assert rules.correction_deadline(app) == date(2026, 10, 6)  # weekdays alone would say 2 October
    assert rules.status_as_of(app, date(2026, 10, 6)) is Status.RETURNED
    assert rules.status_as_of(app, date(2026, 10, 7)) is Status.LAPSED


def test_access_expires_on_its_end_date() -> None:
    app = fold(released(ends="2026-10-01"))
    assert rules.status_as_of(app, date(2026, 9, 30)) is Status.ACTIVE
    assert rules.status_as_of(app, date(2026, 10, 1)) is Status.EXPIRED


def test_scores_cover_all_five_criteria_from_1_to_5() -> None:
    assert rules.check_scores({c: 3 for c in Criterion}) is None
    assert "missing: reciprocity" in str(
        rules.check_scores({c: 3 for c in Criterion if c is not Criterion.RECIPROCITY})
    )
    assert "was given 9" in str(rules.check_scores({**{c: 3 for c in Criterion}, Criterion.SOCIAL_IMPACT: 9}))


def test_a_refusal_must_state_its_reason_and_approval_needs_a_review() -> None:
    app = fold(submitted())
    on = date(2026, 3, 5)
    assert rules.check_decision(app, Decision.REJECT, " ", on) == Refusal("reject_needs_reason")
    assert str(rules.check_decision(app, Decision.REJECT, " ", on)) == "a refusal must state its reasons"
    assert "at least one review" in str(rules.check_decision(app, Decision.APPROVE, "", on))
    assert rules.check_decision(app, Decision.REJECT, "no IRB", on) is None


def test_only_a_submitted_application_is_decided() -> None:
    done = fold([*submitted(), Decided(application_id=APP, at=at("2026-03-04"), actor="u", decision=Decision.REJECT)])
    assert "this one is rejected" in str(rules.check_decision(done, Decision.APPROVE, "", date(2026, 3, 5)))


def test_release_needs_agreement_pledges_of_every_person_and_the_fee() -> None:
    events = released()[:-2]  # approved, no agreement yet
    assert "data-use agreement" in str(rules.check_release(fold(events), date(2026, 3, 15)))
    agreement = released()[-2].model_copy(update={"pledges": ["Lin"]})
    assert "missing: Chen" in str(rules.check_release(fold([*events, agreement]), date(2026, 3, 21)))
    unpaid = released()[-2].model_copy(update={"fee_paid": False})
    assert "fee" in str(rules.check_release(fold([*events, unpaid]), date(2026, 3, 21)))
    assert rules.check_release(fold(released()[:-1]), date(2026, 3, 21)) is None


def _change(day: str, kind: ChangeKind, **fields: object) -> ChangeRequested:
    return ChangeRequested(application_id=APP, at=at(day), actor="user:7", kind=kind, **fields)


def test_personnel_may_change_once_every_six_months() -> None:
    app = fold([*released(ends="2027-04-01"), _change("2026-05-01", ChangeKind.PERSONNEL, personnel=TEAM)])
    refusal = rules.check_change(app, ChangeKind.PERSONNEL, date(2026, 8, 1), TEAM)
    assert refusal == Refusal(
        "personnel_change_too_soon", {"months": 6, "last": date(2026, 5, 1), "next": date(2026, 11, 1)}
    )
    assert "once every 6 months; the last change was on 2026-05-01" in refusal.message
    assert rules.check_change(app, ChangeKind.PERSONNEL, date(2026, 11, 1), TEAM) is None


def test_a_personnel_change_names_at_most_six_people() -> None:
    app = fold(released())
    seven = [Person(name=f"P{i}", institution="NTU Hospital") for i in range(7)]
    assert "at most 6 people, not 7" in str(rules.check_change(app, ChangeKind.PERSONNEL, date(2026, 5, 1), seven))
    assert rules.check_change(app, ChangeKind.PERSONNEL, date(2026, 5, 1), seven[:6]) is None


def test_fields_are_added_at_most_four_times() -> None:
    events = [*released(), *(_change(f"2026-05-0{i}", ChangeKind.FIELDS, fields=[f"f{i}"]) for i in range(1, 5))]
    refusal = rules.check_change(fold(events), ChangeKind.FIELDS, date(2026, 6, 1), count=1)
    assert refusal == Refusal("fields_added_too_often", {"max": 4, "count": 4})
    assert "at most 4 times" in refusal.message
    assert rules.check_change(fold(events[:-1]), ChangeKind.FIELDS, date(2026, 6, 1), count=1) is None
    assert fold(events).form.fields[-4:] == ["f1", "f2", "f3", "f4"]


def test_files_are_added_once() -> None:
    events = [*released(), _change("2026-05-01", ChangeKind.FILES, files=["extra.csv"])]
    assert "added once; they were added on 2026-05-01" in str(
        rules.check_change(fold(events), ChangeKind.FILES, date(2026, 6, 1), count=1)
    )
    assert rules.check_change(fold(released()), ChangeKind.FILES, date(2026, 6, 1), count=1) is None


def test_changes_are_refused_before_release() -> None:
    assert "while the project runs" in str(
        rules.check_change(fold(submitted()), ChangeKind.FILES, date(2026, 3, 3), count=1)
    )


def test_an_extension_is_asked_only_before_the_end_date() -> None:
    app = fold(released(ends="2026-10-01"))
    assert rules.check_extension(app, date(2026, 9, 30)) is None
    assert "it ended on 2026-10-01" in str(rules.check_extension(app, date(2026, 10, 1)))


def test_usage_reports_are_due_every_six_months_and_listed_when_overdue() -> None:
    app = fold(released(start="2026-04-01", ends="2027-04-01"))
    assert rules.reports_due(app, date(2026, 12, 1)) == [date(2026, 10, 1)]
    assert rules.reports_overdue(app, date(2026, 10, 1)) == []  # due today: not overdue yet
    assert rules.reports_overdue(app, date(2026, 10, 2)) == [date(2026, 10, 1)]
    filed = fold(
        [
            *released(start="2026-04-01", ends="2027-04-01"),
            ReportFiled(application_id=APP, at=at("2026-09-28"), actor="user:7", text="used for model training"),
        ]
    )
    assert rules.reports_overdue(filed, date(2026, 12, 1)) == []


def _publication(published: str, deposited: str | None) -> PublicationRegistered:
    return PublicationRegistered(
        application_id=APP,
        at=at(published),
        actor="user:7",
        title="Nodules",
        published_on=date.fromisoformat(published),
        deposited_on=date.fromisoformat(deposited) if deposited else None,
        acknowledges_source=True,
    )


def test_publications_are_deposited_within_one_month() -> None:
    on_time = fold([*released(), _publication("2026-06-10", "2026-07-10")])
    late = fold([*released(), _publication("2026-06-10", "2026-07-11")])
    missing = fold([*released(), _publication("2026-06-10", None)])
    assert rules.publications_late(on_time, date(2026, 8, 1)) == []
    assert len(rules.publications_late(late, date(2026, 8, 1))) == 1
    assert rules.publications_late(missing, date(2026, 7, 10)) == []
    assert len(rules.publications_late(missing, date(2026, 7, 11))) == 1


def test_a_publication_must_acknowledge_the_data_source() -> None:
    assert "acknowledge the data source" in str(rules.check_publication(False))
    assert rules.check_publication(True) is None


def test_destruction_is_confirmed_only_after_access_ends() -> None:
    app = fold(released(ends="2026-10-01"))
    assert "after access ends (2026-10-01)" in str(rules.check_destruction(app, date(2026, 9, 1)))
    assert rules.check_destruction(app, date(2026, 10, 1)) is None


def test_blocking_reasons_list_every_unmet_obligation_as_of_a_day() -> None:
    app = fold(released(start="2026-04-01", ends="2026-10-01"))
    assert rules.blocking_reasons([app], date(2026, 9, 1), {APP: ["n-1"]}) == [
        Refusal("obligation_withdrawal_unacknowledged", {"application": "app-1", "notice": "n-1"})
    ]
    later = [r.message for r in rules.blocking_reasons([app], date(2026, 10, 2), {APP: ["n-1"]})]
    assert later == [
        "app-1: the usage report due on 2026-10-01 has not been filed",
        "app-1: withdrawal notice n-1 is not acknowledged",
        "app-1: access ended on 2026-10-01 and destruction of the data is not confirmed",
    ]
    acked = fold(
        [*released(), WithdrawalAcknowledged(application_id=APP, at=at("2026-09-02"), actor="u", notice_id="n-1")]
    )
    assert rules.blocking_reasons([acked], date(2026, 9, 3), {APP: ["n-1"]}) == []


def test_each_check_names_its_rule_by_code_with_the_facts() -> None:
    app = fold(released(ends="2026-10-01"))
    assert rules.check_period(4, imaging=True) == Refusal("period_imaging", {"months": 4})
    assert rules.check_period(12, imaging=True) == Refusal("period_pilot", {"max": 6, "months": 12})
    assert rules.check_extension(app, date(2026, 10, 1)) == Refusal(
        "extension_too_late", {"ended_on": date(2026, 10, 1)}
    )
    assert rules.check_destruction(app, date(2026, 9, 1)) == Refusal(
        "destruction_too_early", {"ends_on": date(2026, 10, 1), "status": "active"}
    )
    assert rules.check_scores({c: 3 for c in Criterion if c is not Criterion.RECIPROCITY}) == Refusal(
        "scores_missing", {"criteria": ("reciprocity",)}
    )
    outsider = Person(name="Wu", institution="Academia Sinica")
    assert rules.check_personnel([outsider], "NTU Hospital") == Refusal(
        "person_needs_proof", {"name": "Wu", "institution": "Academia Sinica", "applicant_institution": "NTU Hospital"}
    )
    problems = rules.form_problems(good_form(), date(2027, 2, 1))
    assert problems == {"irb": Refusal("irb_expired", {"expired_on": date(2027, 1, 4)})}


def test_a_refusal_code_without_english_wording_is_refused_at_once() -> None:
    import pytest

    with pytest.raises(KeyError, match="no English wording"):
        Refusal("no_such_rule")


def test_the_api_shape_of_a_refusal_is_its_code_and_plain_facts() -> None:
    refusal = rules.check_concurrency([fold(submitted(f"app-{i}")) for i in range(3)], date(2026, 3, 3))
    assert refusal is not None
    assert refusal.as_json() == {
        "code": "too_many_running",
        "params": {"max": 3, "running": ["app-0", "app-1", "app-2"]},
    }
