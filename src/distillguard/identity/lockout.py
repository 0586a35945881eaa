"""Brute-force throttling and lockout for passwords, one-time codes and recovery codes.

After ``free_failures`` misses each further miss makes the subject wait twice as long as the
one before (1 s, 2 s, 4 s, …); at ``max_failures`` it is locked for ``lockout_s``. A success
clears the count. Six-digit TOTP codes give an attacker a 3-in-a-million chance per guess (with
±1 step of drift); five guesses per 15 minutes make that about one success per 14 years.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["FailureState", "LockoutPolicy", "after_failure", "retry_after_s"]


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    free_failures: int = 2
    max_failures: int = 5
    lockout_s: float = 900.0
    reset_after_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class FailureState:
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None


def retry_after_s(state: FailureState | None, now: datetime, policy: LockoutPolicy) -> float:
    """Seconds the subject must still wait before its next attempt; 0 when it may try now."""
    if state is None:
        return 0.0
    if state.locked_until is not None and state.locked_until > now:
        return (state.locked_until - now).total_seconds()
    if (now - state.last_failure_at).total_seconds() > policy.reset_after_s:
        return 0.0
    if state.failures > policy.free_failures and state.locked_until is None:
        delay = 2.0 ** (state.failures - policy.free_failures - 1)
        ready = state.last_failure_at + timedelta(seconds=delay)
        if ready > now:
            return (ready - now).total_seconds()
    return 0.0


def after_failure(state: FailureState | None, now: datetime, policy: LockoutPolicy) -> FailureState:
    """The state after one more failure; locks the subject once ``max_failures`` is reached."""
    failures = 1
    if state is not None and (now - state.last_failure_at).total_seconds() <= policy.reset_after_s:
        lock_over = state.locked_until is not None and state.locked_until <= now
        failures = 1 if lock_over else state.failures + 1
    locked_until = None
    if failures >= policy.max_failures:
        locked_until = now + timedelta(seconds=policy.lockout_s)
    return FailureState(failures=failures, last_failure_at=now, locked_until=locked_until)
