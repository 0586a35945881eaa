"""The simulated prediction API: a natural input distribution, the model, and the query
strategies of extraction attacks.

Inputs have 16 features with the structure of tabular customer data: 4 roughly normal scores,
4 positive skewed amounts, 4 binary flags, 4 small counts, drawn from a mixture of four customer
segments. The model is a fixed 3-class softmax. Every vector is rounded to 4 decimals whoever
sends it; what differs is where the points lie (random points ignore the binary/count
structure, synthetic points cluster around a few seeds, boundary probes sit between classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DIM", "PredictModel"]

DIM = 16
_SEGMENTS = 4
_CLASSES = 3


@dataclass(frozen=True, slots=True)
class PredictModel:
    means: np.ndarray  # (segments, 4) for the normal scores
    amount_mu: np.ndarray  # (segments, 4) log-means of the amounts
    flag_p: np.ndarray  # (segments, 4)
    count_lam: np.ndarray  # (segments, 4)
    weights: np.ndarray  # (DIM, classes)
    bias: np.ndarray
    centre: np.ndarray
    scale: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def build(cls, rng: np.random.Generator) -> PredictModel:
        means = rng.normal(0, 1.5, size=(_SEGMENTS, 4))
        amount_mu = rng.normal(4, 1, size=(_SEGMENTS, 4))
        flag_p = rng.uniform(0.05, 0.9, size=(_SEGMENTS, 4))
        count_lam = rng.uniform(0.5, 8, size=(_SEGMENTS, 4))
        weights = rng.normal(0, 1, size=(DIM, _CLASSES))
        tmp = cls(
            means,
            amount_mu,
            flag_p,
            count_lam,
            weights,
            np.zeros(_CLASSES),
            np.zeros(DIM),
            np.ones(DIM),
            np.zeros(DIM),
            np.ones(DIM),
        )
        sample = tmp._raw_natural(rng, 4000)
        return cls(
            means,
            amount_mu,
            flag_p,
            count_lam,
            weights,
            rng.normal(0, 0.5, size=_CLASSES),
            sample.mean(axis=0),
            sample.std(axis=0) + 1e-9,
            sample.min(axis=0),
            sample.max(axis=0),
        )

    def _raw_natural(self, rng: np.random.Generator, n: int) -> np.ndarray:
        seg = rng.integers(0, _SEGMENTS, size=n)
        x = np.empty((n, DIM))
        x[:, 0:4] = rng.normal(self.means[seg], 1.0)
        x[:, 4:8] = rng.lognormal(self.amount_mu[seg], 0.8)
        x[:, 8:12] = rng.random((n, 4)) < self.flag_p[seg]
        x[:, 12:16] = rng.poisson(self.count_lam[seg])
        return x

    def natural(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._raw_natural(rng, n)

    def whatif(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Natural points with one continuous feature swept over a grid (scenario analysis)."""
        x = self._raw_natural(rng, n)
        j = rng.integers(0, 8, size=n)
        frac = rng.integers(0, 11, size=n) / 10.0
        x[np.arange(n), j] = self.lo[j] + (self.hi[j] - self.lo[j]) * frac
        return x

    def random(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out: np.ndarray = self.lo + (self.hi - self.lo) * rng.random((n, DIM))
        return out

    def synthetic(self, rng: np.random.Generator, n: int, seed: int) -> np.ndarray:
        """Jacobian-style augmentation: a few seed points (per attacker) pushed along the
        sign of the class weights by growing steps, as in substitute-model training."""
        base_rng = np.random.default_rng(seed)
        seeds = self._raw_natural(base_rng, 8)
        x = seeds[rng.integers(0, 8, size=n)]
        cls = rng.integers(0, _CLASSES, size=n)
        step = rng.integers(1, 6, size=n)[:, None] * 0.1 * self.scale
        out: np.ndarray = x + step * np.sign(self.weights[:, cls].T)
        return out

    def boundary(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Points found by bisection between two inputs of different predicted class."""
        a, c = self._raw_natural(rng, n), self._raw_natural(rng, n)
        ca, cc = self.predict_class(a), self.predict_class(c)
        same = ca == cc
        c[same] = self.random(rng, int(same.sum()))
        lo_t, hi_t = np.zeros(n), np.ones(n)
        for _ in range(int(rng.integers(4, 12))):
            mid = (lo_t + hi_t) / 2
            point = a + mid[:, None] * (c - a)
            moved = self.predict_class(point) != ca
            hi_t = np.where(moved, mid, hi_t)
            lo_t = np.where(moved, lo_t, mid)
        t = (lo_t + hi_t) / 2
        out: np.ndarray = a + t[:, None] * (c - a)
        return out

    def probs(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.centre) / self.scale) @ self.weights + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: np.ndarray = np.round(e / e.sum(axis=1, keepdims=True), 4)
        return out

    def predict_class(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.centre) / self.scale) @ self.weights + self.bias
        return np.asarray(z.argmax(axis=1))
