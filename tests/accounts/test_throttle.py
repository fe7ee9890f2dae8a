"""The sign-in throttle rule, over plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from catalog.accounts.throttle import ThrottlePolicy, ThrottleState, after_failure, is_locked

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(max_failures=5, window=timedelta(minutes=15), lock=timedelta(minutes=15))


def _fail(n: int, start: datetime = T0, step: timedelta = timedelta(seconds=10)) -> ThrottleState | None:
    state = None
    for i in range(n):
        state = after_failure(state, start + i * step, POLICY.max_failures, POLICY)
    return state


def test_four_failures_do_not_lock_and_the_fifth_does() -> None:
    assert not is_locked(_fail(4), T0 + timedelta(minutes=1))
    assert is_locked(_fail(5), T0 + timedelta(minutes=1))


def test_a_lock_ends_after_its_time() -> None:
    state = _fail(5)
    assert state is not None and state.locked_until is not None
    assert is_locked(state, state.locked_until - timedelta(seconds=1))
    assert not is_locked(state, state.locked_until)


def test_failures_spread_beyond_the_window_start_counting_again() -> None:
    state = _fail(4, step=timedelta(minutes=5))  # 0, 5, 10, 15 minutes: the window restarts at the 4th
    state = after_failure(state, T0 + timedelta(minutes=16), POLICY.max_failures, POLICY)
    assert not is_locked(state, T0 + timedelta(minutes=16))


def test_after_a_lock_has_passed_one_failure_does_not_lock_again() -> None:
    state = _fail(5)
    assert state is not None and state.locked_until is not None
    later = after_failure(state, state.locked_until + timedelta(seconds=1), POLICY.max_failures, POLICY)
    assert later.failures == 1 and not is_locked(later, state.locked_until + timedelta(seconds=2))
