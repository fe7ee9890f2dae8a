"""The programme's figures over every application as of a day: how many in each state, the median
review time (first submission to decision, in days) and the approval rate of decided applications."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from statistics import median

from access.rules import status_as_of
from schemas.access import Application, Status


@dataclass(frozen=True)
class Figures:
    per_state: dict[str, int]
    median_review_days: float | None  # None: nothing decided yet
    approval_rate: float | None  # approved / (approved + rejected); None: nothing decided yet
    decided: int


def figures(applications: Iterable[Application], on: date) -> Figures:
    apps = list(applications)
    per_state = Counter(status_as_of(a, on).value for a in apps)
    review_days = [
        (a.decided_at - a.submitted_at).total_seconds() / 86400
        for a in apps
        if a.decided_at is not None and a.submitted_at is not None
    ]
    approved = sum(
        1 for a in apps if a.decided_at is not None and not a.reject_reason and a.status is not Status.REJECTED
    )
    rejected = sum(1 for a in apps if a.status is Status.REJECTED)
    decided = approved + rejected
    return Figures(
        per_state={s.value: per_state.get(s.value, 0) for s in Status},
        median_review_days=round(median(review_days), 1) if review_days else None,
        approval_rate=round(approved / decided, 3) if decided else None,
        decided=decided,
    )
