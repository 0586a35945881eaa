"""Diurnal profile against the account's country, and inter-arrival regularity."""

from __future__ import annotations

import numpy as np

from distillguard.detect.behaviour.timing import (
    gap_cv,
    hour_entropy,
    local_night_share,
    offsets_for,
)


def test_local_night_share_uses_the_country_offset() -> None:
    hist = np.zeros((2, 24))
    hist[:, 16:24] = 10  # active 16:00-23:59 UTC
    offsets = offsets_for(np.array(["GB", "JP"], dtype=object))
    night = local_night_share(hist, offsets)
    assert night[0] == 0.0  # the evening in London
    assert night[1] > 0.5  # 01:00-08:59 in Tokyo


def test_flat_profile_has_full_entropy() -> None:
    hist = np.ones((1, 24))
    assert np.isclose(hour_entropy(hist)[0], 1.0)


def test_unknown_country_takes_the_quietest_five_hours_whatever_the_time_zone() -> None:
    hist = np.zeros((3, 24))
    hist[0] = 1.0  # round the clock
    hist[1, 14:23] = 10  # a daytime human somewhere
    hist[2, [22, 23, 0, 1, 2, 3]] = 10  # active across midnight UTC: sleeps in the UTC day
    night = local_night_share(hist, offsets_for(np.array([None, None, None], dtype=object)))
    assert np.isclose(night[0], 5 / 24)
    assert night[1] == 0.0
    assert night[2] == 0.0
    assert np.isnan(local_night_share(np.zeros((1, 24)), np.array([np.nan]))[0])


def test_gap_cv_is_low_for_a_fixed_rate() -> None:
    cv = gap_cv(np.array([60.0, 60.0, 0.0]), np.array([1.0, 90.0, 0.0]))
    assert cv[0] < 0.1 and cv[1] > 1.0 and np.isnan(cv[2])
