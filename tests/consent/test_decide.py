"""The decision rules, as specifications over plain lists of events (no database)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consent.decide import Use, decide, visible
from consent.ledger import sealed
from consent.state import apply, decide_current, fold
from schemas.consent import Category, ConsentEvent, Enrolment, EventKind, Policy
from tests.consent.subjects import DATASET, OTHER_DATASET, T0

SUBJECT = "a" * 64
GRU, HMB, DS, POA, NCU = "DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011", "DUO:0000046"
POLICY = Policy(notice_period_days=30)
LATER = T0 + timedelta(days=400)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


class History:
    """Builds one subject's chain of events in order."""

    def __init__(self) -> None:
        self.events: list[ConsentEvent] = []

    def add(
        self,
        kind: EventKind,
        at: float,
        dataset: str | None = None,
        purpose: str | None = None,
        recorded: float | None = None,
    ) -> History:
        prev = self.events[-1].hash if self.events else ""
        self.events.append(
            sealed(
                ConsentEvent(
                    event_id=f"e{len(self.events) + 1}",
                    subject=SUBJECT,
                    seq=len(self.events) + 1,
                    kind=kind,
                    scope_dataset=dataset,
                    scope_purpose=purpose,
                    effective_at=day(at),
                    recorded_at=day(recorded if recorded is not None else at),
                    prev_hash=prev,
                )
            )
        )
        return self


def enrolled(category: Category, dataset: str = DATASET) -> Enrolment:
    return Enrolment(subject=SUBJECT, dataset=dataset, institution="NTU", category=category, enrolled_at=T0)


def verdict(
    h: History, category: Category, use: Use | None = None, at: datetime = LATER, policy: Policy = POLICY
) -> str:
    d = decide(h.events, enrolled(category), policy, use or Use(DATASET, GRU), at)
    return ("permit:" if d.permit else "deny:") + d.reason


def test_category_a_is_excluded_until_consent_is_given() -> None:
    assert verdict(History(), Category.A) == "deny:no_consent"
    assert verdict(History().add(EventKind.CONSENT_GIVEN, 5), Category.A) == "permit:consent_given"


def test_category_a_consent_later_withdrawn_or_declined_excludes() -> None:
    h = History().add(EventKind.CONSENT_GIVEN, 5).add(EventKind.WITHDRAWN, 9)
    assert verdict(h, Category.A) == "deny:withdrawn"
    h2 = History().add(EventKind.CONSENT_GIVEN, 5).add(EventKind.CONSENT_DECLINED, 9)
    assert verdict(h2, Category.A) == "deny:consent_declined"


def test_reconsent_reverses_an_earlier_withdrawal_for_its_scope() -> None:
    h = History().add(EventKind.WITHDRAWN, 5).add(EventKind.RECONSENTED, 9, dataset=DATASET)
    assert verdict(h, Category.B) == "permit:reconsented"
    assert verdict(h, Category.B, Use(OTHER_DATASET, GRU)) == "deny:not_enrolled"
    d = decide(h.events, enrolled(Category.B, OTHER_DATASET), POLICY, Use(OTHER_DATASET, GRU), LATER)
    assert (d.permit, d.reason) == (False, "withdrawn")


def test_category_b_is_included_unless_withdrawn() -> None:
    assert verdict(History(), Category.B) == "permit:category_b_default"
    assert verdict(History().add(EventKind.WITHDRAWN, 3), Category.B) == "deny:withdrawn"


def test_category_c_is_excluded_until_notice_period_has_passed() -> None:
    h = History().add(EventKind.NOTICE_SENT, 10)
    assert verdict(History(), Category.C) == "deny:notice_not_sent"
    assert verdict(h, Category.C, at=day(39)) == "deny:notice_period_running"
    assert verdict(h, Category.C, at=day(40)) == "permit:category_c_notice_period_passed"


def test_category_c_opt_out_excludes() -> None:
    h = History().add(EventKind.NOTICE_SENT, 1).add(EventKind.OPTED_OUT, 50, dataset=DATASET)
    assert verdict(h, Category.C) == "deny:opted_out"


def test_undelivered_c_notice_excludes_by_default_and_follows_policy() -> None:
    h = History().add(EventKind.NOTICE_SENT, 1).add(EventKind.NOTICE_UNDELIVERED, 8)
    assert verdict(h, Category.C) == "deny:notice_undelivered"
    lenient = Policy(notice_period_days=30, undelivered_notice_denies=False)
    assert verdict(h, Category.C, policy=lenient) == "permit:category_c_notice_period_passed"
    h.add(EventKind.NOTICE_SENT, 20)  # a new letter that arrived
    assert verdict(h, Category.C) == "permit:category_c_notice_period_passed"


def test_deceased_subjects_are_included_by_default_and_follow_policy() -> None:
    h = History().add(EventKind.DECEASED, 3)
    assert verdict(h, Category.B) == "permit:category_b_default"
    assert verdict(h, Category.B, policy=Policy(deceased_permits=False)) == "deny:deceased"


def test_latest_matching_event_wins_and_a_broader_later_event_beats_a_narrow_earlier_one() -> None:
    h = History().add(EventKind.RECONSENTED, 5, dataset=DATASET).add(EventKind.WITHDRAWN, 6)
    assert verdict(h, Category.B) == "deny:withdrawn"
    h2 = History().add(EventKind.WITHDRAWN, 5).add(EventKind.RECONSENTED, 6, dataset=DATASET)
    assert verdict(h2, Category.B) == "permit:reconsented"


def test_a_narrow_event_never_overrides_a_broader_one_at_the_same_moment() -> None:
    h = History().add(EventKind.WITHDRAWN, 5).add(EventKind.RECONSENTED, 5, dataset=DATASET, purpose=GRU)
    assert verdict(h, Category.B) == "deny:withdrawn"


def test_a_narrower_purpose_is_covered_by_a_broader_refusal() -> None:
    h = History().add(EventKind.WITHDRAWN, 5, purpose=HMB)
    assert verdict(h, Category.B, Use(DATASET, DS)) == "deny:withdrawn"
    assert verdict(h, Category.B, Use(DATASET, HMB)) == "deny:withdrawn"
    assert verdict(h, Category.B, Use(DATASET, POA)) == "permit:category_b_default"
    assert verdict(h, Category.B, Use(DATASET, GRU)) == "permit:category_b_default"


def test_refusing_commercial_use_excludes_releases_that_are_not_declared_non_commercial() -> None:
    h = History().add(EventKind.OPTED_OUT, 5, purpose=NCU)
    assert verdict(h, Category.B, Use(DATASET, HMB)) == "deny:opted_out"
    assert verdict(h, Category.B, Use(DATASET, HMB, frozenset({NCU}))) == "permit:category_b_default"


def test_decisions_as_of_a_past_time_ignore_events_recorded_later() -> None:
    h = History().add(EventKind.WITHDRAWN, 5, recorded=50)  # a backdated paper form
    assert verdict(h, Category.B, at=day(20)) == "permit:category_b_default"
    assert verdict(h, Category.B, at=day(60)) == "deny:withdrawn"


def test_nobody_is_released_before_their_enrolment() -> None:
    assert verdict(History(), Category.B, at=T0 - timedelta(days=1)) == "deny:not_enrolled"


# --- properties: materialised state == fold of the ledger == decision ---------------------------------

KINDS = list(EventKind)
DATASETS = [None, DATASET, OTHER_DATASET]
PURPOSES = [None, GRU, HMB, DS, NCU]


@st.composite
def histories(draw: st.DrawFn) -> History:
    h = History()
    recorded = 0.0
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(KINDS))
        recorded += draw(st.sampled_from([0.0, 0.5, 3.0, 20.0]))
        effective = recorded - draw(st.sampled_from([0.0, 0.0, 1.0, 15.0]))
        dataset = None if kind is EventKind.DECEASED else draw(st.sampled_from(DATASETS))
        purpose = (
            draw(st.sampled_from(PURPOSES))
            if kind not in (EventKind.NOTICE_SENT, EventKind.NOTICE_UNDELIVERED, EventKind.DECEASED)
            else None
        )
        h.add(kind, max(effective, 0.0), dataset, purpose, recorded)
    return h


uses = st.builds(
    Use,
    dataset=st.just(DATASET),
    purpose=st.sampled_from([GRU, HMB, DS, POA]),
    modifiers=st.sampled_from([frozenset(), frozenset({NCU})]),
)
policies = st.builds(
    Policy,
    notice_period_days=st.sampled_from([0, 10, 30]),
    undelivered_notice_denies=st.booleans(),
    deceased_permits=st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(histories(), st.sampled_from(list(Category)), uses, policies, st.randoms(use_true_random=False))
def test_materialised_state_equals_the_fold_and_gives_the_same_decision(
    h: History, category: Category, use: Use, policy: Policy, rnd: random.Random
) -> None:
    state: dict = {}
    for event in h.events:
        state = apply(state, event)
    shuffled = list(h.events)
    rnd.shuffle(shuffled)
    assert state == fold(h.events) == fold(shuffled)
    enrolment = enrolled(category)
    now = day(1000)
    assert decide_current(state, enrolment, policy, use, now) == decide(h.events, enrolment, policy, use, now)


@settings(max_examples=300, deadline=None)
@given(histories(), st.sampled_from(list(Category)), uses, policies, st.floats(0, 200))
def test_a_past_decision_equals_the_fold_of_what_was_known_then(
    h: History, category: Category, use: Use, policy: Policy, when: float
) -> None:
    at = day(when)
    enrolment = enrolled(category)
    expected = decide(h.events, enrolment, policy, use, at)
    assert decide_current(fold(visible(h.events, at)), enrolment, policy, use, at) == expected
