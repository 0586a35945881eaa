"""Campaign builders, one module per kind, registered by kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distillguard.simulate.campaigns import (
    cot_harvest,
    jailbreak_extraction,
    low_and_slow,
    prediction_extraction,
    proxy_network,
    signup_farm,
)
from distillguard.simulate.config import CampaignKind
from distillguard.simulate.world import WorldBuilder

__all__ = ["BUILDERS"]

BUILDERS: dict[CampaignKind, Callable[[WorldBuilder, Any, int], None]] = {
    CampaignKind.PROXY_NETWORK: proxy_network.build,
    CampaignKind.COT_HARVEST: cot_harvest.build,
    CampaignKind.LOW_AND_SLOW: low_and_slow.build,
    CampaignKind.SIGNUP_FARM: signup_farm.build,
    CampaignKind.JAILBREAK_EXTRACTION: jailbreak_extraction.build,
    CampaignKind.PREDICTION_EXTRACTION: prediction_extraction.build,
}
