"""The consent decision as a pure function of a subject's events, enrolment and policy.

No database, no clock: ``at`` is an argument, so an audit can ask any past moment and get exactly what
a release decided then. :mod:`consent.state` and :mod:`consent.release_filter` must agree with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.consent import (
    CHOICES,
    GRANTS,
    Category,
    ConsentEvent,
    Decision,
    Enrolment,
    EventKind,
    Policy,
    purposes,
    utc,
)


@dataclass(frozen=True)
class Use:
    """What a decision is about: one dataset, for one purpose declaring some DUO modifiers."""

    dataset: str
    purpose: str
    modifiers: frozenset[str] = frozenset()

    def covering_scopes(self) -> frozenset[str]:
        return purposes().covering_scopes(self.purpose, self.modifiers)


def specificity(scope_dataset: str | None, scope_purpose: str | None) -> int:
    """0 for an all-datasets, all-purposes event; one more for each narrowed dimension."""
    return (scope_dataset is not None) + (scope_purpose is not None)


def applies(event: ConsentEvent, use: Use, covering: frozenset[str]) -> bool:
    """Whether ``event``'s scope includes ``use``."""
    if event.scope_dataset is not None and event.scope_dataset != use.dataset:
        return False
    return event.scope_purpose is None or event.scope_purpose in covering


def choice_order(event: ConsentEvent) -> tuple[datetime, int, int]:
    """Latest effective wins; at the same moment the broader event wins (a narrow one never overrides it)."""
    return (event.effective_at, -specificity(event.scope_dataset, event.scope_purpose), event.seq)


def visible(events: Iterable[ConsentEvent], at: datetime) -> list[ConsentEvent]:
    """Events known at ``at``: in effect and already recorded, so a later backdated entry cannot
    change what an earlier release decided."""
    moment = utc(at)
    return [e for e in events if e.effective_at <= moment and e.recorded_at <= moment]


def category_default(
    category: Category,
    policy: Policy,
    at: datetime,
    last_sent: datetime | None,
    last_undelivered: datetime | None,
) -> Decision:
    """The decision when no choice of the subject applies: shared by every implementation."""
    if category is Category.A:
        return Decision.deny("no_consent")
    if category is Category.B:
        return Decision.allow("category_b_default")
    if last_sent is None:
        return Decision.deny("notice_not_sent")
    if last_undelivered is not None and last_undelivered >= last_sent and policy.undelivered_notice_denies:
        return Decision.deny("notice_undelivered")
    if last_sent + timedelta(days=policy.notice_period_days) > utc(at):
        return Decision.deny("notice_period_running")
    return Decision.allow("category_c_notice_period_passed")


def decide(
    events: Sequence[ConsentEvent],
    enrolment: Enrolment | None,
    policy: Policy,
    use: Use,
    at: datetime,
) -> Decision:
    """Permit or deny (with the reason) ``use`` of one subject's data at ``at``.

    ``events`` are that subject's ledger entries in any order; ``enrolment`` is their enrolment in
    ``use.dataset`` (None when not enrolled there).
    """
    moment = utc(at)
    if enrolment is None or enrolment.dataset != use.dataset or enrolment.enrolled_at > moment:
        return Decision.deny("not_enrolled")
    known = visible(events, moment)
    if not policy.deceased_permits and any(e.kind is EventKind.DECEASED for e in known):
        return Decision.deny("deceased")
    covering = use.covering_scopes()
    matching = [e for e in known if e.kind in CHOICES and applies(e, use, covering)]
    if matching:
        winner = max(matching, key=choice_order)
        if winner.kind in GRANTS:
            return Decision.allow(winner.kind.value)
        return Decision.deny(winner.kind.value)
    notices = [e for e in known if e.scope_dataset in (None, use.dataset)]
    sent = [e.effective_at for e in notices if e.kind is EventKind.NOTICE_SENT]
    undelivered = [e.effective_at for e in notices if e.kind is EventKind.NOTICE_UNDELIVERED]
    return category_default(enrolment.category, policy, moment, max(sent, default=None), max(undelivered, default=None))
