"""Prediction-API extraction: is an account's stream of ``predict`` inputs natural, or probing?

Two tests per account, on its input vectors in arrival order:

- **PRADA** (Juuti et al., 2019, https://arxiv.org/abs/1805.02628): for each query, the
  minimum L2 distance to the account's earlier queries. For natural inputs these distances are
  roughly normally distributed; synthetic probing (small perturbations around seeds, Jacobian
  augmentation, boundary walks) gives a skewed, heavy-tailed or multimodal distribution. The
  Shapiro-Wilk W statistic measures it; PRADA flags W below about 0.9.
- **Coverage / out-of-distribution**: compared with the whole population's inputs (robust
  median/MAD per dimension, so a minority of attackers cannot shift it), how many of the account's
  inputs fall far outside what real clients send, and how much wider its spread is. Uniform or
  grid sweeps of the input space pass PRADA's test but fail this one.

The gateway runs the coverage test sequentially, one query at a time (``detect.online``): each
predict input is judged against a :func:`range_reference` of the population's inputs
(:func:`outside_range`), and a Wald test on the share of inputs outside it flags an account
after a few dozen queries instead of waiting for an audit to see 20 to 60 of them.

Evades it: an attacker who only replays natural inputs (public data from the same
distribution); that needs a great many queries, which the volume evidence sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "RUNNING_MIN_ACCOUNTS",
    "PopulationStats",
    "QueryStreamStats",
    "RunningReference",
    "min_distances",
    "outside_range",
    "population_stats",
    "prada_w",
    "range_reference",
    "stream_stats",
]

_MIN_QUERIES = 20


@dataclass(frozen=True, slots=True)
class PopulationStats:
    """Robust location and scale of every predict input in the log, per dimension."""

    median: np.ndarray
    scale: np.ndarray  # 1.4826 · MAD, floored so constant dimensions do not divide by zero


@dataclass(frozen=True, slots=True)
class QueryStreamStats:
    """One account's predict-stream statistics.

    ``prada_w`` Shapiro-Wilk W of the min-distance distribution (1 = perfectly normal; NaN with
    fewer than 20 queries); ``ood_share`` share of inputs more than 4 robust standard deviations
    from the population median in some dimension; ``spread_ratio`` median over dimensions of the
    account's robust spread over the population's (about 1 for a typical client).
    """

    n_queries: int
    prada_w: float
    ood_share: float
    spread_ratio: float


def population_stats(x: np.ndarray) -> PopulationStats:
    med = np.median(x, axis=0)
    mad = np.median(np.abs(x - med), axis=0) * 1.4826
    floor = max(float(np.median(mad)) * 1e-3, 1e-9)
    return PopulationStats(median=med, scale=np.maximum(mad, floor))


def min_distances(x: np.ndarray) -> np.ndarray:
    """For each row i >= 1, the L2 distance to the nearest of rows 0..i-1 (PRADA's d_min)."""
    n = x.shape[0]
    if n < 2:
        return np.zeros(0)
    sq = (x * x).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    d2 = np.maximum(d2, 0.0)
    # Keep only earlier rows: mask the diagonal and everything after it.
    d2[np.triu_indices(n)] = np.inf
    return np.asarray(np.sqrt(d2[1:].min(axis=1)))


def prada_w(x: np.ndarray) -> float:
    """Shapiro-Wilk W of the min-distance distribution, NaN with too few queries or none
    varying."""
    if x.shape[0] < _MIN_QUERIES:
        return float("nan")
    d = min_distances(x)
    if d.size < 3 or float(np.ptp(d)) <= 1e-12:
        # All distances equal (an exact grid) is as far from natural as it gets.
        return 0.0 if d.size >= 3 else float("nan")
    return float(stats.shapiro(d[:5000]).statistic)


def stream_stats(x: np.ndarray, pop: PopulationStats) -> QueryStreamStats:
    """All statistics of one account's input stream ``x`` (rows in arrival order)."""
    n = int(x.shape[0])
    if n == 0:
        return QueryStreamStats(0, float("nan"), float("nan"), float("nan"))
    z = np.abs((x - pop.median) / pop.scale)
    ood = float((z.max(axis=1) > 4.0).mean())
    if n >= 5:
        own = np.median(np.abs(x - np.median(x, axis=0)), axis=0) * 1.4826
        spread = float(np.median(own / pop.scale))
    else:
        spread = float("nan")
    return QueryStreamStats(n, prada_w(x), ood, spread)


# Six robust standard deviations, not the batch's four: one query at a time, a customer's
# heavy-tailed inputs (amounts, counts) pass four far more often (median 5%, up to 17% of a
# customer's inputs on tuning seeds 1-3) than six (1-3%, up to 13%), while an extraction sweep
# lands beyond six about as often as beyond four (30-45%).
_OUTSIDE_Z = 6.0


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> np.ndarray:
    """Per column, the ``q`` quantile of ``x`` with row weights ``w``."""
    order = np.argsort(x, axis=0, kind="stable")
    xs = np.take_along_axis(x, order, axis=0)
    cw = np.cumsum(w[order], axis=0)
    idx = (cw < q * cw[-1]).sum(axis=0)
    return np.asarray(xs[np.minimum(idx, x.shape[0] - 1), np.arange(x.shape[1])])


def range_reference(x: np.ndarray, accounts: np.ndarray) -> PopulationStats:
    """The population's location and scale per dimension for judging one query at a time.

    Every account weighs the same (rows weighted by 1/its row count): a few heavy callers,
    which an extraction campaign is, would otherwise be the population (in the first hour of
    a tuning world they send most predict inputs). Location is the weighted median; scale the
    weighted MAD, floored at the weighted 10-90% range / 2.563 (the standard deviation for
    normal data): the MAD alone collapses on a discrete dimension (a flag, a count with one
    common value), which would put every customer's uncommon-but-valid value "out of range".
    ``accounts`` holds each row's account; needs at least one row."""
    _, inverse, counts = np.unique(accounts, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse].astype(np.float64)
    med = _weighted_quantile(x, w, 0.5)
    mad = _weighted_quantile(np.abs(x - med), w, 0.5) * 1.4826
    deciles = (_weighted_quantile(x, w, 0.9) - _weighted_quantile(x, w, 0.1)) / 2.563
    floor = max(float(np.median(mad)) * 1e-3, 1e-9)
    return PopulationStats(median=med, scale=np.maximum(np.maximum(mad, deciles), floor))


def outside_range(x: np.ndarray, ref: PopulationStats) -> bool | None:
    """Whether one input lies more than 6 robust standard deviations from the population's
    median in some dimension (``ref`` from :func:`range_reference`); None when its length
    is not the reference's."""
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1 or v.shape[0] != ref.median.shape[0]:
        return None
    return bool((np.abs((v - ref.median) / ref.scale) > _OUTSIDE_Z).any())


# A running reference needs this many accounts before it judges anything: with fewer, one
# client's habits would be "the population" and a second client's valid inputs out of range.
RUNNING_MIN_ACCOUNTS = 20
_RUNNING_PER_ACCOUNT = 32
_RUNNING_MAX_ACCOUNTS = 2048


class RunningReference:
    """A :func:`range_reference` of the predict inputs seen so far, for the time before an
    audit's reference exists (a replay's first hour, a gateway deployed before its first
    audit). Every account weighs the same, as in the audit's: a fleet counts once per account,
    however much it sends; each account's first ``per_account`` inputs are kept, and the first
    ``max_accounts`` accounts. Inputs of the most common length count, others are ignored.

    :meth:`current` is None until ``min_accounts`` accounts sent inputs of that length; it is
    recomputed as inputs arrive (after an eighth more rows, at least 16), so its cost is a
    sort of the kept rows a few dozen times over a cold start, not per request.
    """

    def __init__(
        self,
        min_accounts: int = RUNNING_MIN_ACCOUNTS,
        per_account: int = _RUNNING_PER_ACCOUNT,
        max_accounts: int = _RUNNING_MAX_ACCOUNTS,
    ) -> None:
        self.min_accounts = max(int(min_accounts), 1)
        self.per_account = max(int(per_account), 1)
        self.max_accounts = max(int(max_accounts), self.min_accounts)
        self._rows: dict[int, dict[str, list[np.ndarray]]] = {}  # length -> account -> inputs
        self._n: dict[int, int] = {}
        self._ref: PopulationStats | None = None
        self._ref_rows = 0
        self._ref_dim: int | None = None
        self._dirty = False

    def add(self, account: str, x: np.ndarray) -> None:
        """Keep one predict input of ``account`` (a finite vector; others are ignored)."""
        v = np.asarray(x, dtype=np.float64)
        if v.ndim != 1 or v.shape[0] == 0 or not bool(np.isfinite(v).all()):
            return
        by_account = self._rows.setdefault(int(v.shape[0]), {})
        kept = by_account.get(account)
        if kept is None:
            if len(by_account) >= self.max_accounts:
                return
            kept = by_account[account] = []
        if len(kept) >= self.per_account:
            return
        kept.append(v)
        self._n[int(v.shape[0])] = self._n.get(int(v.shape[0]), 0) + 1
        self._dirty = True

    def current(self) -> PopulationStats | None:
        """The range of the inputs kept so far (most common length), or None while fewer than
        ``min_accounts`` accounts sent them."""
        if not self._dirty or not self._n:
            return self._ref
        dim = max(self._n.items(), key=lambda kv: (kv[1], kv[0]))[0]
        by_account = self._rows[dim]
        rows = self._n[dim]
        if len(by_account) < self.min_accounts:
            return self._ref if self._ref_dim == dim else None
        if (
            self._ref is not None
            and self._ref_dim == dim
            and rows < self._ref_rows + max(16, self._ref_rows // 8)
        ):
            return self._ref
        x = np.stack([v for kept in by_account.values() for v in kept])
        acc = np.asarray([a for a, kept in by_account.items() for _ in kept], dtype=object)
        self._ref, self._ref_rows, self._ref_dim = range_reference(x, acc), rows, dim
        self._dirty = False
        return self._ref
