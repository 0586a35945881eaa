"""Timing maths: inter-arrival regularity and the diurnal profile against the account's country.

People sleep; scripts do not. An account whose requests keep arriving through the local night of
its own country, or arrive at clockwork intervals, is more likely automated. Automation alone is
not theft (batch jobs, eval harnesses are automated too), so these only add evidence.
Evades it: an operator who jitters requests and follows a day/night schedule per account.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "UTC_OFFSET_H",
    "gap_cv",
    "hour_entropy",
    "local_night_share",
    "offsets_for",
    "quietest_window_share",
]

# Standard-time UTC offsets (hours) of the most common countries; others count as 0 (UTC),
# which only weakens the night test for them.
UTC_OFFSET_H: dict[str, float] = {
    "US": -6, "CA": -5, "MX": -6, "BR": -3, "AR": -3, "CL": -4, "CO": -5, "PE": -5,
    "GB": 0, "IE": 0, "PT": 0, "ES": 1, "FR": 1, "DE": 1, "IT": 1, "NL": 1, "BE": 1,
    "CH": 1, "AT": 1, "SE": 1, "NO": 1, "DK": 1, "PL": 1, "CZ": 1, "FI": 2, "GR": 2,
    "RO": 2, "UA": 2, "IL": 2, "TR": 3, "RU": 3, "SA": 3, "AE": 4, "IR": 3.5, "PK": 5,
    "IN": 5.5, "BD": 6, "TH": 7, "VN": 7, "ID": 7, "MY": 8, "SG": 8, "CN": 8, "HK": 8,
    "TW": 8, "PH": 8, "KR": 9, "JP": 9, "AU": 10, "NZ": 12, "ZA": 2, "NG": 1, "EG": 2,
    "KE": 3,
}  # fmt: skip


def offsets_for(countries: np.ndarray) -> np.ndarray:
    """UTC offset in hours per account country (NaN when the country is unknown)."""
    return np.array(
        [UTC_OFFSET_H.get(str(c).upper(), 0.0) if c else np.nan for c in countries],
        dtype=np.float64,
    )


def local_night_share(hist_utc: np.ndarray, offsets_h: np.ndarray) -> np.ndarray:
    """Share of each account's requests sent between 01:00 and 05:59 local time.

    ``hist_utc`` has shape (accounts, 24): request counts per UTC hour of day. A uniform,
    round-the-clock account scores 5/24 ≈ 0.21; a daytime human, a few percent. Where the
    offset is unknown (a log without countries and no account records), the share in the
    account's *quietest* five consecutive hours: a lower bound on its night share whatever its
    time zone, so a person who sleeps somewhere scores about 0 and only a round-the-clock
    sender scores. NaN without requests.
    """
    n = hist_utc.shape[0]
    out = np.full(n, np.nan)
    totals = hist_utc.sum(axis=1)
    for i in range(n):
        if totals[i] <= 0:
            continue
        if not np.isfinite(offsets_h[i]):
            out[i] = quietest_window_share(hist_utc[i])
            continue
        local = np.roll(hist_utc[i], int(round(offsets_h[i])))
        out[i] = local[1:6].sum() / totals[i]
    return out


def quietest_window_share(hist: np.ndarray, hours: int = 5) -> float:
    """Share of a 24-bin hour-of-day histogram in its quietest ``hours`` consecutive hours
    (wrapping around midnight); 0 for an empty histogram."""
    h = np.asarray(hist, dtype=np.float64)
    total = float(h.sum())
    if total <= 0:
        return 0.0
    windows = np.convolve(np.concatenate([h, h[: hours - 1]]), np.ones(hours), mode="valid")
    return float(windows.min() / total)


def hour_entropy(hist_utc: np.ndarray) -> np.ndarray:
    """Normalised entropy of the hour-of-day histogram, in [0, 1] (1 = flat over 24 h)."""
    totals = hist_utc.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(totals > 0, hist_utc / np.maximum(totals, 1), 0.0)
        logs = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), 0.0)
    return np.asarray(-(p * logs).sum(axis=1) / np.log(24.0))


def gap_cv(gap_mean: np.ndarray, gap_std: np.ndarray) -> np.ndarray:
    """Coefficient of variation of inter-arrival gaps (std / mean). About 1 for Poisson
    arrivals, above 1 for bursty humans, well below 1 for a fixed-rate script. NaN without gaps."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gap_mean > 0, gap_std / gap_mean, np.nan)
