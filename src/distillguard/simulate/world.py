"""The world being built: period, address plan, actors, and the helpers every builder shares.

Builders (benign population, each campaign kind) receive a :class:`WorldBuilder` and append
actors to it. Account records are made here, by one function for everyone, so an account's
fields never reveal which builder made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from distillguard.simulate.actors import Actor, IpMode, Pool
from distillguard.simulate.config import ScenarioConfig
from distillguard.simulate.infrastructure import Infrastructure, NetKind

__all__ = ["HarvestStyle", "WorldBuilder"]

_SECONDS_PER_DAY = 86400.0
# How common each of PARAM_PROFILES is among API users, in its order.
_PROFILE_POPULARITY = (8, 10, 6, 4, 2, 3, 2, 1.5, 4, 2, 2, 1)


@dataclass(frozen=True, slots=True)
class HarvestStyle:
    """How one script phrases its reasoning prompts (shared by all accounts it drives: an
    operator's fleet, or one team's in-house tool). ``frames`` are the script's instruction
    templates (``textgen.house_frames``), wrapped around a share ``frame_share`` of them."""

    domain_weights: tuple[float, float, float, float]  # coding, maths, reasoning, agentic
    seed_share: float  # questions taken from public pools rather than generated
    long_cot_share: float
    paraphrase_rate: float
    frames: tuple[tuple[str, str, str], ...] = ()
    frame_share: float = 0.0


@dataclass(slots=True)
class WorldBuilder:
    config: ScenarioConfig
    rng: np.random.Generator
    infra: Infrastructure
    actors: list[Actor] = field(default_factory=list)
    styles: list[HarvestStyle] = field(default_factory=list)
    # Values a campaign owns and shares between its accounts (cards, devices, egress
    # addresses): genuine coordination evidence, listed for the giveaway test.
    owned: dict[str, set[str]] = field(default_factory=dict)

    @property
    def period_s(self) -> float:
        return self.config.days * _SECONDS_PER_DAY

    @property
    def release_s(self) -> float | None:
        rel = self.config.release
        return None if rel is None else rel.at_fraction * self.period_s

    def new_id(self, prefix: str, nbytes: int = 8) -> str:
        return prefix + self.rng.bytes(nbytes).hex()

    def own(self, field_name: str, value: str) -> str:
        self.owned.setdefault(field_name, set()).add(value)
        return value

    def style(self, style: HarvestStyle) -> int:
        self.styles.append(style)
        return len(self.styles) - 1

    def ip_text(self, index: int) -> str:
        return self.infra.ip_text[index]

    def account(
        self,
        *,
        created_s: float,
        country: str,
        email_domain: str,
        verification: str,
        plan: str,
        org_id: str | None = None,
        payment: str | None = None,
        signup_ip: int | None = None,
        signup_device: str | None = None,
    ) -> dict[str, object]:
        """An account record (``created_s`` is seconds from the period start)."""
        return {
            "account_id": self.new_id("acct_"),
            "created_s": created_s,
            "org_id": org_id or self.new_id("org_", 6),
            "email_domain": email_domain,
            "verification": verification,
            "payment_fingerprint": payment,
            "signup_ip": None if signup_ip is None else self.ip_text(signup_ip),
            "signup_fingerprint": signup_device or self.new_id("dev_"),
            "country": country,
            "plan": plan,
        }

    def aged_created_s(self, median_days: float, sigma: float = 1.0) -> float:
        """A sign-up time before the period, log-normally aged."""
        days = float(self.rng.lognormal(np.log(median_days), sigma))
        return -min(days, 1500.0) * _SECONDS_PER_DAY - float(self.rng.uniform(0, 86400))

    def home_pool(self, country: str, n: int = 2, weight: float = 1.0) -> Pool:
        return Pool(self.infra.new_ips(NetKind.RESIDENTIAL, country, n), weight, skew=3.0)

    def vpn_pool(self, weight: float, n: int = 6, rotation_s: float = 1800.0) -> Pool:
        exits = self.infra.vpn_exits
        pick = self.rng.choice(exits, size=min(n, len(exits)), replace=False)
        return Pool(pick, weight, mode=IpMode.ROTATE, rotation_s=rotation_s)

    def proxy_pool(self, weight: float, n: int, rotation_s: float) -> Pool:
        resi = self.infra.resi_proxy
        pick = self.rng.choice(resi, size=min(n, len(resi)), replace=False)
        return Pool(pick, weight, mode=IpMode.ROTATE, rotation_s=rotation_s)

    def param_habits(self, k: int, weights: dict[int, float] | None = None) -> dict[int, float]:
        """``k`` request-parameter profiles picked by popularity (optionally biased)."""
        base = np.asarray(_PROFILE_POPULARITY, dtype=float)
        if weights:
            for i, w in weights.items():
                base[i] *= w
        cum = np.cumsum(base / base.sum())
        chosen: list[int] = []
        while len(chosen) < min(k, len(base)):
            pick = min(int(np.searchsorted(cum, self.rng.random(), side="right")), len(cum) - 1)
            if pick not in chosen:
                chosen.append(pick)
        share = self.rng.dirichlet(np.ones(len(chosen)) * 2)
        return {c: float(x) for c, x in zip(chosen, share, strict=True)}
