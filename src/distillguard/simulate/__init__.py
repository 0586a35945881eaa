"""simulate stage: a seeded traffic generator with ground truth (see DESIGN.md).

``simulate(scenario("mixed", seed=7), Path("out"))`` writes events, accounts and labels.
"""

from distillguard.simulate.config import (
    BenignConfig,
    CampaignKind,
    CotHarvestConfig,
    JailbreakExtractionConfig,
    LowAndSlowConfig,
    PredictionExtractionConfig,
    ProxyNetworkConfig,
    ReleaseConfig,
    ScenarioConfig,
    SignupFarmConfig,
)
from distillguard.simulate.engine import SimulationSummary, simulate
from distillguard.simulate.population import BENIGN_KINDS
from distillguard.simulate.scenarios import SCENARIOS, scenario

__all__ = [
    "BENIGN_KINDS",
    "SCENARIOS",
    "BenignConfig",
    "CampaignKind",
    "CotHarvestConfig",
    "JailbreakExtractionConfig",
    "LowAndSlowConfig",
    "PredictionExtractionConfig",
    "ProxyNetworkConfig",
    "ReleaseConfig",
    "ScenarioConfig",
    "SignupFarmConfig",
    "SimulationSummary",
    "scenario",
    "simulate",
]
