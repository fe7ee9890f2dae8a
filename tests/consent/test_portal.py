"""The portal's rules as plain functions, and the portal service over a real SQLite registry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from consent.audit import Actor
from consent.portal import (
    Change,
    Direction,
    PortalPolicy,
    PortalService,
    after_failure,
    code_usable,
    covers,
    is_locked,
    kind_for,
    password_problem,
)
from consent.registry import ConsentRegistry, EnrolmentInput
from consent.release import create_release
from schemas.consent import Category, EventKind, EventRequest, ReleaseProject
from tests.consent.subjects import DATASET, OTHER_DATASET, T0, national_id

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CLIENT = "192.0.2.7"


# --- plain rules ----------------------------------------------------------------------------------


def test_a_code_signs_in_once_and_only_within_its_validity() -> None:
    issued = NOW - timedelta(days=10)
    assert code_usable(issued, None, None, NOW, 90)
    assert not code_usable(issued, NOW, None, NOW, 90)
    assert not code_usable(issued, None, NOW, NOW, 90)
    assert not code_usable(NOW - timedelta(days=91), None, None, NOW, 90)


def test_the_limit_th_failure_locks_and_the_lock_passes() -> None:
    policy = PortalPolicy()
    state = None
    for _ in range(19):
        state = after_failure(state, NOW, 20, policy)
    assert not is_locked(state, NOW)
    state = after_failure(state, NOW, 20, policy)
    assert is_locked(state, NOW)
    assert not is_locked(state, NOW + policy.lock)


def test_a_change_is_recorded_as_the_category_s_own_event() -> None:
    assert kind_for(Direction.OUT, [Category.C], False) is EventKind.OPTED_OUT
    assert kind_for(Direction.OUT, [Category.B], False) is EventKind.WITHDRAWN
    assert kind_for(Direction.OUT, [Category.A], False) is EventKind.CONSENT_DECLINED
    assert kind_for(Direction.OUT, [Category.A], True) is EventKind.WITHDRAWN
    assert kind_for(Direction.OUT, [Category.C, Category.B], False) is EventKind.WITHDRAWN
    assert kind_for(Direction.IN, [Category.A], False) is EventKind.CONSENT_GIVEN
    assert kind_for(Direction.IN, [Category.C], False) is EventKind.RECONSENTED


def test_a_refusal_reaches_releases_of_its_dataset_and_purpose_only() -> None:
    assert covers(DATASET, frozenset(), Change(Direction.OUT))
    assert not covers(OTHER_DATASET, frozenset(), Change(Direction.OUT, dataset=DATASET))
    assert covers(DATASET, frozenset({"DUO:0000046"}), Change(Direction.OUT, purpose="DUO:0000046"))
    assert not covers(DATASET, frozenset({"DUO:0000042"}), Change(Direction.OUT, purpose="DUO:0000046"))


def test_a_password_must_be_long_enough() -> None:
    assert password_problem("short") == "portal_password_short"
    assert password_problem("long enough words") is None


# --- the service --------------------------------------------------------------------------------------


@pytest.fixture
def portal(registry: ConsentRegistry) -> PortalService:
    return PortalService(registry, PortalPolicy())


def _enrol(registry: ConsentRegistry, n: int, categories: dict[str, Category]) -> str:
    subject = registry.pseudonymiser.subject(national_id(n))
    registry.enrol(
        [
            EnrolmentInput(subject, ds, "NTU" if ds == DATASET else "TMU", cat, T0, (f"{ds[-4:]}-case-{n}",))
            for ds, cat in categories.items()
        ]
    )
    registry.append([EventRequest(subject=subject, kind=EventKind.NOTICE_SENT, effective_at=T0 + timedelta(days=1))])
    return subject


def _release(registry: ConsentRegistry, dataset: str, n: int, out: Path, title: str) -> str:
    cases = pa.table({"case_id": [f"{dataset[-4:]}-case-{n}"]})
    project = ReleaseProject(
        title=title,
        institution="NCKU",
        purpose_text="lung nodules",
        starts_on=date(2026, 1, 1),
        ends_on=date(2027, 12, 31),
    )
    manifest = create_release(registry, "app-1", dataset, "GRU", cases, out, date(2099, 1, 1), project=project)
    return manifest.release_id


def test_a_letter_code_signs_in_once_and_a_used_code_answers_like_a_wrong_one(
    registry: ConsentRegistry, portal: PortalService
) -> None:
    subject = _enrol(registry, 1, {DATASET: Category.C})
    [code] = registry.issue_access_codes([subject])
    first = portal.sign_in(national_id(1), code, CLIENT)
    assert (first.outcome, first.subject, first.by_code) == ("ok", subject, True)
    again = portal.sign_in(national_id(1), code, CLIENT)
    wrong = portal.sign_in(national_id(1), "not-the-code", CLIENT)
    unknown = portal.sign_in(national_id(999), code, CLIENT)
    assert again == wrong == unknown
    assert again.outcome == "failed" and again.subject is None


def test_an_expired_code_does_not_sign_in(registry: ConsentRegistry, portal: PortalService) -> None:
    subject = _enrol(registry, 1, {DATASET: Category.C})
    [code] = registry.issue_access_codes([subject], now=NOW - timedelta(days=91))
    assert portal.sign_in(national_id(1), code, CLIENT, now=NOW).outcome == "failed"


def test_twenty_wrong_codes_lock_known_and_unknown_ids_alike(registry: ConsentRegistry, portal: PortalService) -> None:
    subject = _enrol(registry, 1, {DATASET: Category.C})
    [code] = registry.issue_access_codes([subject])
    for who in (national_id(1), national_id(2)):  # 2 is enrolled nowhere
        answers = {portal.sign_in(who, f"wrong-{i}", CLIENT).outcome for i in range(20)}
        assert answers == {"failed"}
        assert portal.sign_in(who, code, CLIENT).outcome == "locked"
    assert portal.sign_in("not an id", "x", CLIENT).outcome == "failed"


def test_a_password_set_after_the_code_signs_in_later(registry: ConsentRegistry, portal: PortalService) -> None:
    subject = _enrol(registry, 1, {DATASET: Category.B})
    [code] = registry.issue_access_codes([subject])
    assert portal.sign_in(national_id(1), code, CLIENT).outcome == "ok"
    portal.set_password(subject, "my own words here", CLIENT)
    later = portal.sign_in(national_id(1), "my own words here", CLIENT)
    assert (later.outcome, later.by_code) == ("ok", False)
    assert portal.sign_in(national_id(1), "other words here", CLIENT).outcome == "failed"


def test_a_reissued_code_replaces_the_lost_one(registry: ConsentRegistry, portal: PortalService) -> None:
    subject = _enrol(registry, 1, {DATASET: Category.C})
    [lost] = registry.issue_access_codes([subject])
    new = portal.reissue_code(national_id(1), Actor("steward@ntu.edu.tw"))
    assert portal.sign_in(national_id(1), lost, CLIENT).outcome == "failed"
    assert portal.sign_in(national_id(1), new, CLIENT).outcome == "ok"
    actions = [e.action for e in registry.audit_log(subject=subject)]
    assert "portal.code_reissue" in actions


def test_a_session_ends_after_inactivity_and_at_sign_out(registry: ConsentRegistry, portal: PortalService) -> None:
    subject = _enrol(registry, 1, {DATASET: Category.C})
    token = portal.open_session(subject, CLIENT, needs_password=True, now=NOW)
    live = portal.session(token, now=NOW + timedelta(minutes=10))
    assert live is not None and live.subject == subject and live.needs_password
    assert portal.session(token, now=NOW + timedelta(minutes=26)) is None
    other = portal.open_session(subject, CLIENT, needs_password=False)
    portal.end_session(other, CLIENT)
    assert portal.session(other) is None


def test_the_consent_story_opt_out_of_one_dataset(
    registry: ConsentRegistry, portal: PortalService, tmp_path: Path
) -> None:
    subject = _enrol(registry, 1, {DATASET: Category.C, OTHER_DATASET: Category.B})
    before = _release(registry, DATASET, 1, tmp_path / "r1", "Lung nodule AI")
    plan = portal.plan(subject, Change(Direction.OUT, dataset=DATASET), CLIENT)
    assert (plan.kind, plan.datasets, plan.releases_to_notify, plan.projects_to_notify) == (
        EventKind.OPTED_OUT,
        [DATASET],
        [before],
        1,
    )
    event = portal.commit(subject, plan, CLIENT, key="confirm-1")
    assert portal.commit(subject, plan, CLIENT, key="confirm-1").event_id == event.event_id  # resubmitted page
    assert event.channel.value == "portal"
    excluded = create_release(
        registry,
        "app-2",
        DATASET,
        "GRU",
        pa.table({"case_id": [f"{DATASET[-4:]}-case-1"]}),
        tmp_path / "r2",
        date(2099, 1, 1),
    )
    included = _release(registry, OTHER_DATASET, 1, tmp_path / "r3", "Other study")
    assert excluded.cases_out == 0
    mine = portal.my_data(subject, CLIENT)
    status = {d.dataset: d for d in mine.datasets}
    assert not status[DATASET].included and status[DATASET].reason == "opted_out"
    assert status[DATASET].since == event.effective_at
    assert status[OTHER_DATASET].included
    uses = {u.release_id: u for u in mine.releases}
    assert set(uses) == {before, included}
    project = uses[before].project
    assert project is not None and project.title == "Lung nodule AI"
    [notice] = uses[before].notices
    assert notice.acknowledged_at is None
    registry.acknowledge(notice.notice_id, "holder@ncku")
    [acked] = {u.release_id: u for u in portal.my_data(subject, CLIENT).releases}[before].notices
    assert acked.acknowledged_at is not None
    assert mine.events[0].event_id == event.event_id  # newest first
    actions = [e for e in registry.audit_log(subject=subject) if e.action.startswith("portal.")]
    assert {"portal.view", "portal.change", "portal.change.preview"} <= {e.action for e in actions}
    assert all(e.client == CLIENT and e.actor == "portal" for e in actions)


def test_a_notice_period_still_running_says_when_it_ends(registry: ConsentRegistry, portal: PortalService) -> None:
    subject = _enrol(registry, 1, {DATASET: Category.C})
    [status] = portal.my_data(subject, CLIENT, now=T0 + timedelta(days=5)).datasets
    assert status.reason == "notice_period_running"
    assert status.notice_period_ends == T0 + timedelta(days=1 + registry.policy.notice_period_days)


def test_refusing_commercial_use_is_a_purpose_choice(registry: ConsentRegistry, portal: PortalService) -> None:
    subject = _enrol(registry, 1, {DATASET: Category.B})
    plan = portal.plan(subject, Change(Direction.OUT, purpose="NCU"), CLIENT)
    assert plan.kind is EventKind.WITHDRAWN and plan.change.purpose == "DUO:0000046"
    portal.commit(subject, plan, CLIENT, key="ncu")
    [choice] = portal.my_data(subject, CLIENT).purpose_choices
    assert (choice.purpose, choice.kind) == ("DUO:0000046", EventKind.WITHDRAWN)
