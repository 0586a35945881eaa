"""Chain-of-thought harvesting: a few accounts at very high volume asking for full reasoning
over coding, maths, reasoning and agentic tasks, plus rubric grading for reward-model data."""

from __future__ import annotations

from distillguard.simulate.actors import Rhythm, Source
from distillguard.simulate.campaigns.common import new_operator, operator_frames
from distillguard.simulate.config import CotHarvestConfig
from distillguard.simulate.world import HarvestStyle, WorldBuilder

__all__ = ["build"]


def build(b: WorldBuilder, cfg: CotHarvestConfig, index: int) -> None:
    rng = b.rng
    op = new_operator(b, cfg.kind, cfg, index)
    style = b.style(
        HarvestStyle(
            domain_weights=(0.35, 0.3, 0.2, 0.15),
            seed_share=0.5,
            long_cot_share=0.8,
            paraphrase_rate=cfg.paraphrase_rate,
            frames=operator_frames(b),
            frame_share=cfg.template_share,
        )
    )
    distill = max(0.0, 1.0 - cfg.rubric_share - cfg.agentic_share)
    for _ in range(cfg.accounts):
        country = b.infra.country()
        pools = op.pools(b, int(rng.integers(15, 40)), 900.0)
        account = b.account(
            created_s=b.aged_created_s(30.0, 0.7),
            country=country,
            email_domain=b.infra.webmail() if rng.random() < 0.5 else b.infra.company_domain(),
            verification=str(rng.choice(["phone", "document", "email"])),
            plan="pay_as_you_go",
            payment=op.card(b, cfg.accounts_per_card),
            signup_ip=int(pools[1].ips[0]),
        )
        op.actor(
            b,
            account,
            {
                Source.DISTILL: distill,
                Source.RUBRIC: cfg.rubric_share,
                Source.AGENTIC: cfg.agentic_share,
            },
            pools,
            Rhythm.FLAT,
            style=style,
            completion_median=float(rng.uniform(1200, 2500)),
            keys=int(rng.integers(2, 5)),
            rate_limit_p=0.05,
        )
