"""The prediction-extraction detector over the per-account stream statistics of prada.py."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from distillguard.detect.behaviour.frame import AccountFrame, ramp
from distillguard.detect.findings import Evidence

__all__ = ["PredictionExtraction"]


class PredictionExtraction:
    """Catches accounts copying a prediction model query by query: a non-natural stream of
    ``predict`` inputs (PRADA distance test) or inputs that sweep far beyond what real clients
    send (coverage / out-of-distribution). Judged only on accounts with at least 20 predict
    requests. Evades it: replaying natural inputs only (see prada.py)."""

    name: ClassVar[str] = "prediction_extraction"
    needs: ClassVar[frozenset[str]] = frozenset(
        {"pred_n", "pred_prada_w", "pred_ood_share", "pred_spread_ratio"}
    )
    content: ClassVar[bool] = False
    doc_uri: ClassVar[str] = "https://arxiv.org/abs/1805.02628"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        n = frame.col("pred_n")
        w = frame.col("pred_prada_w")
        ood = frame.col("pred_ood_share")
        spread = frame.col("pred_spread_ratio")
        enough = ramp(np.nan_to_num(n, nan=0.0), 20.0, 60.0)
        prada = ramp(0.93 - np.nan_to_num(w, nan=1.0), 0.0, 0.13)
        oodness = ramp(np.nan_to_num(ood, nan=0.0), 0.05, 0.3)
        wide = 0.8 * ramp(np.nan_to_num(spread, nan=1.0), 1.4, 2.5)
        scores = np.maximum(np.maximum(prada, oodness), wide) * enough
        scores = np.where(np.isfinite(n) & (n > 0), scores, np.nan)
        reasons: list[tuple[str, ...]] = []
        for i, s in enumerate(scores):
            if not np.isfinite(s) or s < 0.3:
                reasons.append(())
                continue
            reasons.append(
                (
                    f"{int(n[i])} predict queries: distance-distribution normality "
                    f"W={np.nan_to_num(w[i], nan=1.0):.2f} (natural > 0.93), "
                    f"{100 * np.nan_to_num(ood[i]):.0f}% out of the population's range, "
                    f"spread {np.nan_to_num(spread[i], nan=1.0):.1f}x the population's",
                )
            )
        return Evidence(self.name, scores, tuple(reasons))
