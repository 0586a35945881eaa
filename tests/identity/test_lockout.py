from __future__ import annotations

from datetime import UTC, datetime, timedelta

from distillguard.identity.lockout import LockoutPolicy, after_failure, retry_after_s

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = LockoutPolicy(free_failures=2, max_failures=5, lockout_s=900, reset_after_s=3600)


def test_free_then_doubling_then_lock() -> None:
    state = None
    waits = []
    now = T0
    for _ in range(5):
        state = after_failure(state, now, POLICY)
        waits.append(retry_after_s(state, now, POLICY))
        now += timedelta(seconds=waits[-1])
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] == 1.0 and waits[3] == 2.0
    assert waits[4] == 900.0


def test_lock_expires_and_count_restarts() -> None:
    state = None
    for i in range(5):
        state = after_failure(state, T0 + timedelta(seconds=i * 10), POLICY)
    assert state is not None and state.locked_until is not None
    later = state.locked_until + timedelta(seconds=1)
    assert retry_after_s(state, later, POLICY) == 0.0
    assert after_failure(state, later, POLICY).failures == 1


def test_old_failures_forgotten() -> None:
    state = after_failure(after_failure(after_failure(None, T0, POLICY), T0, POLICY), T0, POLICY)
    much_later = T0 + timedelta(hours=2)
    assert retry_after_s(state, much_later, POLICY) == 0.0
    assert after_failure(state, much_later, POLICY).failures == 1
