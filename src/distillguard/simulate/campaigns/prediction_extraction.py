"""Prediction-API extraction: feature vectors chosen to copy the model (random points in the
input box, synthetic perturbations of a few seed points, boundary probing), with a little
natural traffic as cover."""

from __future__ import annotations

from distillguard.simulate.actors import Rhythm, Source
from distillguard.simulate.campaigns.common import new_operator
from distillguard.simulate.config import PredictionExtractionConfig
from distillguard.simulate.world import WorldBuilder

__all__ = ["build"]


def build(b: WorldBuilder, cfg: PredictionExtractionConfig, index: int) -> None:
    rng = b.rng
    op = new_operator(b, cfg.kind, cfg, index)
    w_random, w_synth, w_boundary = cfg.strategy_weights
    total = (w_random + w_synth + w_boundary) or 1.0
    attack = 1.0 - cfg.natural_share
    for _ in range(cfg.accounts):
        country = b.infra.country()
        pools = op.pools(b, int(rng.integers(4, 10)), 1800.0)
        account = b.account(
            created_s=b.aged_created_s(20.0, 0.8),
            country=country,
            email_domain=b.infra.company_domain() if rng.random() < 0.6 else b.infra.webmail(),
            verification=str(rng.choice(["email", "phone", "document"])),
            plan="pay_as_you_go",
            payment=op.card(b, cfg.accounts_per_card),
            signup_ip=int(pools[1].ips[0]),
        )
        op.actor(
            b,
            account,
            {
                Source.PREDICT_RANDOM: attack * w_random / total,
                Source.PREDICT_SYNTHETIC: attack * w_synth / total,
                Source.PREDICT_BOUNDARY: attack * w_boundary / total,
                Source.PREDICT_NATURAL: cfg.natural_share,
            },
            pools,
            Rhythm.FLAT,
            predict_seed=int(rng.integers(1 << 30)),
        )
