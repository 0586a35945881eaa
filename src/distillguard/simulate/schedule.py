"""When requests happen: daily rhythms by local time, weekends, and explicit sessions.

The period is cut into windows; for each window every actor's expected count comes from its
volume, its rhythm at its local hour and its weekend factor, and a Poisson draw decides the
count. Sessions (batch jobs, eval runs, scripted farms) add their own requests: uniformly
inside the session, or at a fixed interval with jitter (lock-step scripts). Memory is bounded
by one window's events.
"""

from __future__ import annotations

import numpy as np

from distillguard.simulate.actors import ActorTable, Rhythm

__all__ = ["RHYTHMS", "window_events"]


def _norm(values: list[float]) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a / a.mean() if a.sum() else a


# Relative request rate by local hour (0-23), mean 1, one row per Rhythm.
RHYTHMS = np.vstack(
    [
        _norm(
            [
                0.15,
                0.1,
                0.08,
                0.07,
                0.07,
                0.1,
                0.25,
                0.5,
                0.9,
                1.3,
                1.5,
                1.6,
                1.5,
                1.6,
                1.7,
                1.6,
                1.5,
                1.3,
                1.1,
                1.0,
                0.9,
                0.7,
                0.5,
                0.3,
            ]
        ),
        _norm(
            [
                0.03,
                0.02,
                0.02,
                0.02,
                0.02,
                0.05,
                0.15,
                0.6,
                1.8,
                2.4,
                2.5,
                2.3,
                1.6,
                2.2,
                2.5,
                2.4,
                2.2,
                1.6,
                0.6,
                0.3,
                0.2,
                0.1,
                0.06,
                0.04,
            ]
        ),
        _norm(
            [
                0.5,
                0.3,
                0.15,
                0.08,
                0.06,
                0.06,
                0.1,
                0.25,
                0.4,
                0.5,
                0.6,
                0.7,
                0.8,
                0.7,
                0.7,
                0.8,
                0.9,
                1.1,
                1.6,
                2.1,
                2.4,
                2.4,
                1.9,
                1.1,
            ]
        ),
        _norm(
            [
                0.75,
                0.7,
                0.68,
                0.68,
                0.7,
                0.75,
                0.85,
                0.95,
                1.05,
                1.15,
                1.2,
                1.25,
                1.25,
                1.25,
                1.25,
                1.2,
                1.15,
                1.1,
                1.05,
                1.0,
                0.95,
                0.9,
                0.85,
                0.8,
            ]
        ),
        np.zeros(24),
    ]
)
assert RHYTHMS.shape == (len(Rhythm), 24)  # noqa: S101 - a table typo, caught at import


def window_events(
    t: ActorTable,
    w_start: float,
    w_end: float,
    start_epoch_s: float,
    volume_scale: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The requests in ``[w_start, w_end)`` (seconds from the period start): actor index and
    time in seconds, sorted by time."""
    length = w_end - w_start
    mid = start_epoch_s + (w_start + w_end) / 2
    local = mid / 3600.0 + t.tz_hours
    hour = np.floor(local % 24).astype(np.int64)
    weekday = (np.floor(local / 24).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    rate = t.daily_volume * volume_scale * RHYTHMS[t.rhythm, hour] * length / 86400.0
    rate = np.where(weekday >= 5, rate * t.weekend_factor, rate)
    lo = np.maximum(w_start, t.active_from_s)
    hi = np.minimum(w_end, t.active_to_s)
    active = hi > lo
    rate = np.where(active, rate * np.clip((hi - lo) / length, 0, 1), 0.0)
    counts = rng.poisson(rate)
    actor = np.repeat(np.arange(t.n, dtype=np.int64), counts)
    ts = lo[actor] + rng.random(len(actor)) * (hi - lo)[actor]
    parts_a, parts_t = [actor], [ts]

    if len(t.sess_actor):
        s_lo = np.maximum(np.maximum(t.sess_start, w_start), t.active_from_s[t.sess_actor])
        s_hi = np.minimum(t.sess_end, w_end)
        live = s_hi > s_lo
        span = np.maximum(t.sess_end - t.sess_start, 1.0)
        regular = t.sess_interval > 0
        rnd = live & ~regular
        if rnd.any():
            idx = np.flatnonzero(rnd)
            lam = t.sess_events[idx] * volume_scale * (s_hi[idx] - s_lo[idx]) / span[idx]
            c = rng.poisson(lam)
            rep = np.repeat(idx, c)
            parts_a.append(t.sess_actor[rep])
            parts_t.append(s_lo[rep] + rng.random(len(rep)) * (s_hi[rep] - s_lo[rep]))
        reg = live & regular
        if reg.any():
            idx = np.flatnonzero(reg)
            step = t.sess_interval[idx] / volume_scale
            base = t.sess_start[idx]
            k_lo = np.ceil((s_lo[idx] - base) / step).astype(np.int64)
            k_hi = np.ceil((s_hi[idx] - base) / step).astype(np.int64)
            k_max = np.ceil(t.sess_events[idx] * volume_scale).astype(np.int64)
            k_hi = np.minimum(k_hi, k_max)
            c = np.maximum(k_hi - k_lo, 0)
            rep = np.repeat(np.arange(len(idx)), c)
            first = np.repeat(np.cumsum(c) - c, c)
            k = k_lo[rep] + (np.arange(len(rep)) - first)
            when = base[rep] + k * step[rep] + rng.normal(0, 1, len(rep)) * t.sess_jitter[idx][rep]
            parts_a.append(t.sess_actor[idx][rep])
            parts_t.append(np.clip(when, w_start, np.nextafter(w_end, w_start)))
    actor = np.concatenate(parts_a)
    ts = np.concatenate(parts_t)
    order = np.lexsort((actor, ts))
    return actor[order], ts[order]
