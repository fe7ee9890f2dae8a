"""The sign-in throttle rule: after repeated failures a key (an account or a client address) is locked
for a while. Plain functions over plain data; the accounts service stores the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5  # per account within the window, then locked
    max_failures_per_client: int = 50  # a shared address (an institution's proxy) gets more
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    first_failure_at: datetime
    locked_until: datetime | None = None


def is_locked(state: ThrottleState | None, now: datetime) -> bool:
    return state is not None and state.locked_until is not None and now < state.locked_until


def after_failure(state: ThrottleState | None, now: datetime, limit: int, policy: ThrottlePolicy) -> ThrottleState:
    """The state after one more failure: counting restarts once the window (or a lock) has passed."""
    if (
        state is None
        or now - state.first_failure_at > policy.window
        or (state.locked_until is not None and now >= state.locked_until)
    ):
        state = ThrottleState(0, now)
    failures = state.failures + 1
    locked_until = now + policy.lock if failures >= limit else state.locked_until
    return ThrottleState(failures, state.first_failure_at, locked_until)
