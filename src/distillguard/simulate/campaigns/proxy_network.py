"""Proxy / reseller network: hundreds of accounts selling cheap access, whose real customers'
requests hide the operator's own harvesting in the same accounts and addresses."""

from __future__ import annotations

from distillguard.simulate.actors import Rhythm, Source
from distillguard.simulate.campaigns.common import new_operator, operator_frames
from distillguard.simulate.config import ProxyNetworkConfig
from distillguard.simulate.world import HarvestStyle, WorldBuilder

__all__ = ["build"]


def build(b: WorldBuilder, cfg: ProxyNetworkConfig, index: int) -> None:
    rng = b.rng
    op = new_operator(b, cfg.kind, cfg, index)
    style = b.style(
        HarvestStyle(
            domain_weights=(0.4, 0.25, 0.2, 0.15),
            seed_share=0.6,
            long_cot_share=0.5,
            paraphrase_rate=cfg.paraphrase_rate,
            frames=operator_frames(b),
            frame_share=cfg.template_share,
        )
    )
    theft = cfg.theft_share
    for _ in range(cfg.accounts):
        country = b.infra.country()
        pools = op.pools(b, int(rng.integers(4, 10)), cfg.rotation_s)
        aged = rng.random() < 0.5
        account = b.account(
            created_s=b.aged_created_s(60.0 if aged else 4.0, 0.8),
            country=country,
            email_domain=b.infra.webmail(),
            verification=str(rng.choice(["email", "phone", "none", "email"])),
            plan=str(rng.choice(["pay_as_you_go", "pay_as_you_go", "free"])),
            payment=op.card(b, cfg.accounts_per_card),
            signup_ip=int(pools[1].ips[0]),
        )
        params = {**b.param_habits(2), **{k: v * theft for k, v in op.params.items()}}
        op.actor(
            b,
            account,
            {
                Source.DISTILL: 0.7 * theft,
                Source.RUBRIC: 0.15 * theft,
                Source.AGENTIC: 0.15 * theft,
                Source.CHAT: 0.6 * (1 - theft),
                Source.TASK: 0.25 * (1 - theft),
                Source.SEARCH: 0.15 * (1 - theft),
            },
            pools,
            Rhythm.FLAT,
            style=style,
            params=params,
            user_agents=(op.user_agents[0], b.infra.user_agents(1)[0]),
        )
