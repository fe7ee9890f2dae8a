"""Materialised current consent state: per subject, the latest event of each facet and exact scope.

A pure fold of the ledger (``fold``), updated one event at a time (``apply``) by the registry and kept
in the ``consent_state`` table; ``decide_current`` answers from it and must equal ``decide.decide``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from consent.decide import Use, category_default, specificity
from schemas.consent import CHOICES, GRANTS, ConsentEvent, Decision, Enrolment, EventKind, Policy, utc

ALL = "*"  # the scope "all datasets" / "all purposes" in state keys and the state table


@dataclass(frozen=True)
class StateKey:
    facet: str  # "choice" or the event kind for notices and deaths
    scope_dataset: str
    scope_purpose: str


@dataclass(frozen=True)
class StateEntry:
    kind: EventKind
    effective_at: datetime
    seq: int


def facet_of(kind: EventKind) -> str:
    return "choice" if kind in CHOICES else kind.value


def key_of(event: ConsentEvent) -> StateKey:
    return StateKey(facet_of(event.kind), event.scope_dataset or ALL, event.scope_purpose or ALL)


def _newer(candidate: StateEntry, current: StateEntry | None) -> bool:
    return current is None or (candidate.effective_at, candidate.seq) > (current.effective_at, current.seq)


def apply(state: Mapping[StateKey, StateEntry], event: ConsentEvent) -> dict[StateKey, StateEntry]:
    """The state after ``event`` (a new mapping; ``state`` is left alone)."""
    key = key_of(event)
    entry = StateEntry(event.kind, event.effective_at, event.seq)
    updated = dict(state)
    if _newer(entry, updated.get(key)):
        updated[key] = entry
    return updated


def fold(events: Iterable[ConsentEvent]) -> dict[StateKey, StateEntry]:
    state: dict[StateKey, StateEntry] = {}
    for event in events:
        state = apply(state, event)
    return state


def decide_current(
    state: Mapping[StateKey, StateEntry],
    enrolment: Enrolment | None,
    policy: Policy,
    use: Use,
    at: datetime,
) -> Decision:
    """The decision from materialised state; valid for ``at`` no earlier than the last recorded event."""
    moment = utc(at)
    if enrolment is None or enrolment.dataset != use.dataset or enrolment.enrolled_at > moment:
        return Decision.deny("not_enrolled")
    if not policy.deceased_permits and any(k.facet == EventKind.DECEASED.value for k in state):
        return Decision.deny("deceased")
    covering = use.covering_scopes()
    best: tuple[tuple[datetime, int, int], StateEntry] | None = None
    for key, entry in state.items():
        if key.facet != "choice" or key.scope_dataset not in (ALL, use.dataset):
            continue
        if key.scope_purpose != ALL and key.scope_purpose not in covering:
            continue
        spec = specificity(
            None if key.scope_dataset == ALL else key.scope_dataset,
            None if key.scope_purpose == ALL else key.scope_purpose,
        )
        order = (entry.effective_at, -spec, entry.seq)
        if best is None or order > best[0]:
            best = (order, entry)
    if best is not None:
        kind = best[1].kind
        return Decision.allow(kind.value) if kind in GRANTS else Decision.deny(kind.value)

    def latest(facet: EventKind) -> datetime | None:
        times = [
            e.effective_at for k, e in state.items() if k.facet == facet.value and k.scope_dataset in (ALL, use.dataset)
        ]
        return max(times, default=None)

    return category_default(
        enrolment.category,
        policy,
        moment,
        latest(EventKind.NOTICE_SENT),
        latest(EventKind.NOTICE_UNDELIVERED),
    )
