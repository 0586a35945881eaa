"""What every campaign operator has: a toolkit, owned infrastructure, cards, a release policy.

An operator runs one scripted toolkit (one popular SDK user agent, one set of request
parameters) from a handful of owned hosting addresses plus commercial proxies and VPN exits
that customers use too. Its script wraps a share of its prompts (``template_share``) in one to
three instruction templates of its own (:func:`operator_frames`), as harvesting scripts do;
teams of customers stamp in-house templates across their accounts the same way. These shared,
owned things are genuine coordination evidence; each value is recorded with
:meth:`WorldBuilder.own` so the giveaway test can tell them apart from simulator artefacts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillguard.simulate.actors import Actor, Pool, Rhythm, Source
from distillguard.simulate.config import CampaignConfig
from distillguard.simulate.infrastructure import NetKind, utc_offset
from distillguard.simulate.textgen import house_frames
from distillguard.simulate.world import WorldBuilder

__all__ = ["Operator", "new_operator", "operator_frames"]


@dataclass(slots=True)
class Operator:
    """One campaign's shared resources."""

    campaign_id: str
    kind: str
    config: CampaignConfig
    user_agents: tuple[int, ...]
    os_index: int
    params: dict[int, float]
    owned_ips: np.ndarray
    cards: list[str]
    home_country: str
    card_counter: int = 0

    def card(self, b: WorldBuilder, accounts_per_card: int) -> str:
        """Cards are reused by ``accounts_per_card`` accounts each."""
        if self.card_counter % max(1, accounts_per_card) == 0:
            self.cards.append(b.own("payment_fingerprint", b.new_id("pm_")))
        self.card_counter += 1
        return self.cards[-1]

    def pools(self, b: WorldBuilder, proxy_ips: int, rotation_s: float) -> list[Pool]:
        reuse = self.config.infrastructure_reuse
        return [
            Pool(self.owned_ips, reuse, skew=1.0),
            b.proxy_pool((1 - reuse) * 0.85, proxy_ips, rotation_s),
            b.vpn_pool((1 - reuse) * 0.15, 1, rotation_s * 2),
        ]

    def actor(
        self,
        b: WorldBuilder,
        account: dict[str, object],
        sources: dict[Source, float],
        pools: list[Pool],
        rhythm: Rhythm = Rhythm.FLAT,
        **kw: object,
    ) -> Actor:
        rng = b.rng
        cfg = self.config
        country = str(account["country"])
        actor = Actor(
            kind=str(self.kind),
            label="malicious",
            campaign_id=self.campaign_id,
            account=account,
            daily_volume=float(
                rng.lognormal(np.log(cfg.requests_per_account_day), cfg.volume_sigma)
            ),
            tz_hours=utc_offset(country, rng),
            rhythm=rhythm,
            sources=sources,
            pools=pools,
            user_agents=self.user_agents,
            os_index=self.os_index,
            weekend_factor=float(rng.uniform(0.8, 1.0)),
            models=(0.8, 0.1, 0.1),
            adopt_max=cfg.release_shift,
            adopt_lag_h=max(0.0, cfg.release_lag_hours + float(rng.normal(0, 0.5))),
            adopt_tau_h=0.75,
            params=dict(self.params),
            system_rate=float(rng.choice([0.0, 0.3])),
            system_prompt=int(rng.choice([0, 1, 4, 7])),
            cot_rate=0.05,
            paraphrase_rate=cfg.paraphrase_rate,
            keys=int(rng.choice([1, 1, 2])),
            completion_median=float(rng.lognormal(np.log(350), 0.3)),
            rate_limit_p=0.01,
        )
        for key, value in kw.items():
            setattr(actor, key, value)
        b.actors.append(actor)
        return actor


def new_operator(b: WorldBuilder, kind: str, config: CampaignConfig, index: int) -> Operator:
    """A fresh operator: its toolkit is drawn from the same popular clients customers use."""
    egress = b.infra.new_ips(NetKind.HOSTING, None, 6)
    for ip in egress:
        b.own("client_ip", b.ip_text(int(ip)))
    params = b.param_habits(2, weights={6: 3.0, 2: 2.0, 11: 2.0, 3: 2.0})
    return Operator(
        campaign_id=f"{kind}-{index + 1}",
        kind=str(kind),
        config=config,
        user_agents=b.infra.user_agents(1, ("OpenAI/Python", "python-httpx", "openai-node")),
        os_index=0,
        params=params,
        owned_ips=egress,
        cards=[],
        home_country=b.infra.country(),
    )


def operator_frames(b: WorldBuilder) -> tuple[tuple[str, str, str], ...]:
    """One to three instruction templates of the operator's own script (recorded as owned)."""
    frames = house_frames(b.rng, int(b.rng.integers(1, 4)))
    for frame in frames:
        b.own("template", "{task}".join(frame))
    return frames
