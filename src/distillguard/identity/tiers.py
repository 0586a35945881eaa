"""Verification tiers and the quotas each one allows.

A tier is earned by passing that tier's check (see :mod:`distillguard.identity.stepup`); the
gateway reads the quota of the tier it finds on the API key's account. Higher tiers cost an
attacker more per account (a phone number, a document, a registered company), so they buy more
throughput: the point is to make a farm of fake accounts expensive, not to block newcomers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from distillguard.events.records import Verification

__all__ = ["TIER_ORDER", "TIER_QUOTAS", "TierQuota", "next_tier", "tier_rank"]


@dataclass(frozen=True, slots=True)
class TierQuota:
    """What one account may consume.

    ``requests_per_minute`` and ``tokens_per_minute`` are sliding-window limits the gateway
    enforces; ``tokens_per_day`` caps sustained harvesting; ``max_keys`` caps live API keys;
    ``reasoning_visible`` says whether full reasoning traces and log-probabilities may be
    returned (the outputs most worth stealing for distillation).
    """

    requests_per_minute: int
    tokens_per_minute: int
    tokens_per_day: int
    max_keys: int
    reasoning_visible: bool


TIER_ORDER: tuple[Verification, ...] = (
    Verification.NONE,
    Verification.EMAIL,
    Verification.PHONE,
    Verification.DOCUMENT,
    Verification.ORGANIZATION,
)

TIER_QUOTAS: Mapping[Verification, TierQuota] = MappingProxyType(
    {
        Verification.NONE: TierQuota(10, 10_000, 100_000, 1, False),
        Verification.EMAIL: TierQuota(60, 60_000, 1_000_000, 2, False),
        Verification.PHONE: TierQuota(300, 300_000, 10_000_000, 5, True),
        Verification.DOCUMENT: TierQuota(1_000, 2_000_000, 100_000_000, 20, True),
        Verification.ORGANIZATION: TierQuota(5_000, 10_000_000, 1_000_000_000, 100, True),
    }
)


def tier_rank(tier: Verification) -> int:
    """Position of ``tier`` in :data:`TIER_ORDER` (0 = unverified)."""
    return TIER_ORDER.index(tier)


def next_tier(tier: Verification) -> Verification | None:
    """The tier a step-up from ``tier`` leads to, or ``None`` at the top."""
    rank = tier_rank(tier)
    return TIER_ORDER[rank + 1] if rank + 1 < len(TIER_ORDER) else None
