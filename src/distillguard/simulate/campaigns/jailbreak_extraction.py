"""Jailbreak and extraction attempts: public jailbreak and injection prompts (the scenario's
prompt split, paraphrased and obfuscated), system-prompt and training-data extraction asks,
hidden among ordinary requests from recently created accounts behind VPNs and proxies."""

from __future__ import annotations

from distillguard.simulate.actors import Rhythm, Source
from distillguard.simulate.campaigns.common import new_operator
from distillguard.simulate.config import JailbreakExtractionConfig
from distillguard.simulate.world import WorldBuilder

__all__ = ["build"]


def build(b: WorldBuilder, cfg: JailbreakExtractionConfig, index: int) -> None:
    rng = b.rng
    op = new_operator(b, cfg.kind, cfg, index)
    attack, extract = cfg.attack_share, cfg.extraction_share
    for _ in range(cfg.accounts):
        country = b.infra.country()
        pools = op.pools(b, int(rng.integers(4, 10)), 1800.0)
        disposable = rng.random() < 0.2
        account = b.account(
            created_s=b.aged_created_s(5.0, 1.0),
            country=country,
            email_domain=b.infra.disposable() if disposable else b.infra.webmail(),
            verification=str(rng.choice(["none", "email", "phone"])),
            plan=str(rng.choice(["free", "pay_as_you_go"])),
            payment=op.card(b, cfg.accounts_per_card) if rng.random() < 0.6 else None,
            signup_ip=int(pools[2].ips[0]),
        )
        op.actor(
            b,
            account,
            {
                Source.JAILBREAK: attack * (1 - extract),
                Source.EXTRACTION: attack * extract,
                Source.CHAT: 0.6 * (1 - attack),
                Source.TASK: 0.4 * (1 - attack),
            },
            pools,
            Rhythm(int(rng.choice([Rhythm.HUMAN, Rhythm.EVENING]))),
            system_rate=float(rng.choice([0.0, 0.5])),
            params=b.param_habits(2),
            user_agents=b.infra.user_agents(2),
            os_index=int(rng.choice(3)),
        )
