"""Low and slow: many verified, aged accounts, each near the benign median, paraphrasing,
keeping human hours, for days. Each account has its own client habits; what ties them is the
operator's prompt style, the proxies, the release chasing and the sheer coverage."""

from __future__ import annotations

from distillguard.simulate.actors import Rhythm, Source
from distillguard.simulate.campaigns.common import new_operator, operator_frames
from distillguard.simulate.config import LowAndSlowConfig
from distillguard.simulate.world import HarvestStyle, WorldBuilder

__all__ = ["build"]


def build(b: WorldBuilder, cfg: LowAndSlowConfig, index: int) -> None:
    rng = b.rng
    op = new_operator(b, cfg.kind, cfg, index)
    style = b.style(
        HarvestStyle(
            domain_weights=(0.3, 0.3, 0.25, 0.15),
            seed_share=0.7,
            long_cot_share=0.3,
            paraphrase_rate=cfg.paraphrase_rate,
            frames=operator_frames(b),
            frame_share=cfg.template_share,
        )
    )
    theft = cfg.theft_share
    for _ in range(cfg.accounts):
        country = b.infra.country()
        pools = op.pools(b, int(rng.integers(2, 6)), 6 * 3600.0)
        account = b.account(
            created_s=b.aged_created_s(120.0, 0.8),
            country=country,
            email_domain=b.infra.webmail() if rng.random() < 0.7 else b.infra.company_domain(),
            verification=str(rng.choice(["phone", "document", "phone"])),
            plan=str(rng.choice(["pay_as_you_go", "team"])),
            payment=op.card(b, cfg.accounts_per_card),
            signup_ip=int(pools[1].ips[0]),
        )
        op.actor(
            b,
            account,
            {
                Source.DISTILL: 0.6 * theft,
                Source.RUBRIC: 0.2 * theft,
                Source.AGENTIC: 0.2 * theft,
                Source.CHAT: 0.6 * (1 - theft),
                Source.TASK: 0.4 * (1 - theft),
            },
            pools,
            Rhythm(int(rng.choice([Rhythm.HUMAN, Rhythm.EVENING, Rhythm.OFFICE]))),
            style=style,
            params=b.param_habits(int(rng.integers(1, 4))),
            user_agents=b.infra.user_agents(2),
            os_index=int(rng.choice(3)),
            weekend_factor=float(rng.uniform(0.3, 0.9)),
            adopt_lag_h=cfg.release_lag_hours + float(rng.uniform(0, 10)),
        )
