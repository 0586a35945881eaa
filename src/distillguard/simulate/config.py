"""Scenario configuration: every knob of the simulator, typed, with documented defaults.

A scenario is a benign population plus zero or more campaigns. Each campaign kind has its own
frozen pydantic model, so a harder variant is a copy with a few fields changed, e.g.
``LowAndSlowConfig(accounts=200, theft_share=0.3, paraphrase_rate=0.9)``. Sizes in the campaign
models are for the default population of :data:`DEFAULT_ACCOUNTS` accounts; ``--accounts K``
scales them in proportion (see :meth:`ScenarioConfig.scaled`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_START",
    "BenignConfig",
    "CampaignConfig",
    "CampaignKind",
    "CotHarvestConfig",
    "JailbreakExtractionConfig",
    "LowAndSlowConfig",
    "PredictionExtractionConfig",
    "PromptSplit",
    "ProxyNetworkConfig",
    "ReleaseConfig",
    "ScenarioConfig",
    "SignupFarmConfig",
]

DEFAULT_ACCOUNTS = 1500
DEFAULT_START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


class CampaignKind(StrEnum):
    """Campaign kinds; also the ``kind`` written to labels.jsonl for malicious accounts."""

    PROXY_NETWORK = "proxy_network"
    COT_HARVEST = "cot_harvest"
    LOW_AND_SLOW = "low_and_slow"
    SIGNUP_FARM = "signup_farm"
    JAILBREAK_EXTRACTION = "jailbreak_extraction"
    PREDICTION_EXTRACTION = "prediction_extraction"


PromptSplit = Literal["train", "dev", "all"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CampaignConfig(_Model):
    """Knobs every campaign has.

    ``infrastructure_reuse`` is the share of a campaign's requests sent from egress addresses
    the operator owns (a few hosting-provider IPs shared by its accounts); the rest goes
    through commercial residential proxies and VPN exits that benign customers use too.
    ``release_shift`` is the share of its chat traffic a campaign moves to a newly released
    model, ``release_lag_hours`` how long after the release it starts moving (the move
    completes within about three more hours). ``template_share`` is the share of the
    operator's reasoning-harvest prompts its script wraps in one of its own instruction
    templates (one to three per operator, generated, with per-request slots such as item
    numbers); the rest are free-form phrasings. Customers' teams stamp in-house templates too.
    """

    accounts: int = Field(ge=1)
    requests_per_account_day: float = Field(gt=0)
    volume_sigma: float = Field(default=0.5, ge=0, description="log-normal spread per account")
    paraphrase_rate: float = Field(default=0.5, ge=0, le=1)
    infrastructure_reuse: float = Field(default=0.3, ge=0, le=1)
    release_shift: float = Field(default=0.85, ge=0, le=1)
    release_lag_hours: float = Field(default=2.0, ge=0)
    instances: int = Field(default=1, ge=1, description="independent operators of this kind")
    template_share: float = Field(
        default=0.5, ge=0, le=1, description="harvest prompts wrapped in the operator's template"
    )


class ProxyNetworkConfig(CampaignConfig):
    """A reseller selling cheap access through hundreds of accounts: its paying customers'
    ordinary requests and the operator's own harvesting share the same accounts.

    ``theft_share`` is the share of each account's requests that are the operator's
    distillation prompts; ``rotation_s`` how often an account's exit address changes.
    """

    kind: Literal[CampaignKind.PROXY_NETWORK] = CampaignKind.PROXY_NETWORK
    accounts: int = 240
    requests_per_account_day: float = 70.0
    theft_share: float = Field(default=0.45, ge=0, le=1)
    rotation_s: float = Field(default=600.0, gt=0)
    accounts_per_card: int = Field(default=6, ge=1)
    infrastructure_reuse: float = 0.15


class CotHarvestConfig(CampaignConfig):
    """Few accounts, very high volume, asking for full reasoning across coding, maths,
    reasoning and agentic tool use, plus rubric-style grading (reward-model data)."""

    kind: Literal[CampaignKind.COT_HARVEST] = CampaignKind.COT_HARVEST
    accounts: int = 5
    requests_per_account_day: float = 3500.0
    volume_sigma: float = 0.3
    rubric_share: float = Field(default=0.15, ge=0, le=1)
    agentic_share: float = Field(default=0.2, ge=0, le=1)
    accounts_per_card: int = Field(default=5, ge=1)


class LowAndSlowConfig(CampaignConfig):
    """Many verified, aged accounts, each near the benign median volume, paraphrasing
    heavily, with human-looking daily rhythms, for days."""

    kind: Literal[CampaignKind.LOW_AND_SLOW] = CampaignKind.LOW_AND_SLOW
    accounts: int = 60
    requests_per_account_day: float = 45.0
    paraphrase_rate: float = 0.8
    theft_share: float = Field(default=0.8, ge=0, le=1)
    infrastructure_reuse: float = 0.1
    accounts_per_card: int = Field(default=1, ge=1)


class SignupFarmConfig(CampaignConfig):
    """Accounts created together from one network, mostly disposable e-mail, that then act in
    lock-step (the same schedule, seconds apart)."""

    kind: Literal[CampaignKind.SIGNUP_FARM] = CampaignKind.SIGNUP_FARM
    accounts: int = 50
    requests_per_account_day: float = 120.0
    signup_window_minutes: float = Field(default=90.0, gt=0)
    disposable_email_share: float = Field(default=0.8, ge=0, le=1)
    signup_devices: int = Field(default=12, ge=1, description="devices the accounts signed up on")
    sync_jitter_s: float = Field(default=20.0, ge=0)
    sessions_per_day: int = Field(default=6, ge=1)
    infrastructure_reuse: float = 0.5


class JailbreakExtractionConfig(CampaignConfig):
    """Jailbreaks and system-prompt / training-data extraction attempts, from the shared
    public attack prompts (``prompt_split``) with paraphrase/obfuscation transforms."""

    kind: Literal[CampaignKind.JAILBREAK_EXTRACTION] = CampaignKind.JAILBREAK_EXTRACTION
    accounts: int = 25
    requests_per_account_day: float = 60.0
    attack_share: float = Field(default=0.6, ge=0, le=1)
    extraction_share: float = Field(
        default=0.4, ge=0, le=1, description="of the attacks: extraction rather than jailbreak"
    )
    accounts_per_card: int = Field(default=3, ge=1)


class PredictionExtractionConfig(CampaignConfig):
    """Copying a classic prediction API: feature vectors that are random, synthetic
    (perturbations of a few seed points) or probing the decision boundary."""

    kind: Literal[CampaignKind.PREDICTION_EXTRACTION] = CampaignKind.PREDICTION_EXTRACTION
    accounts: int = 8
    requests_per_account_day: float = 1500.0
    strategy_weights: tuple[float, float, float] = Field(
        default=(0.4, 0.3, 0.3), description="random, synthetic, boundary"
    )
    natural_share: float = Field(
        default=0.1, ge=0, le=1, description="natural queries mixed in as cover"
    )
    accounts_per_card: int = Field(default=4, ge=1)


class BenignConfig(_Model):
    """The benign population. ``kind_weights`` overrides the default share of each benign kind
    (see :mod:`distillguard.simulate.population` for the kinds and what each does).

    ``new_model_early_adopters`` is the share of customers (of the kinds without a release
    habit of their own) that try a newly released model within half a day, moving 20-90% of
    their traffic over hours. ``launch_crowd`` is the part of them, as a share of all such
    customers, that flips the model string at launch: within 0.5-3 h of the release 70-100% of
    its traffic is on the new model, as fast and as completely as a harvesting campaign moves.
    Without a crowd essentially none of the ~920 benign accounts of a tuning world moved 70% of
    its traffic within 6 h, against 29-34% of campaign accounts, so moving fast looked like
    proof of theft; on real launch days developers flip the model string within the hour (the
    independent generator ``benchmarks/foreign.py`` moves half of its human-driven accounts).
    The default 0.12 is a conservative middle of 0.1-0.15: enough that a detector cannot treat
    moving fast as proof, without claiming that half of every population does it.
    """

    kind_weights: dict[str, float] | None = None
    disposable_email_share: float = Field(default=0.05, ge=0, le=1)
    vpn_share: float = Field(default=0.3, ge=0, le=1, description="accounts sometimes on a VPN")
    new_model_early_adopters: float = Field(default=0.3, ge=0, le=1)
    launch_crowd: float = Field(
        default=0.12, ge=0, le=1, description="of the early adopters' kinds: move all at launch"
    )

    @model_validator(mode="after")
    def _crowd_within_adopters(self) -> BenignConfig:
        if self.launch_crowd > self.new_model_early_adopters:
            raise ValueError(
                "launch_crowd is part of new_model_early_adopters: it cannot exceed it"
            )
        return self


class ReleaseConfig(_Model):
    """A new model released during the period (``None`` in the scenario disables it)."""

    model: str = "atlas-3"
    replaces: str = "atlas-2"
    at_fraction: float = Field(default=0.3, ge=0, le=1, description="of the simulated period")


Campaign = (
    ProxyNetworkConfig
    | CotHarvestConfig
    | LowAndSlowConfig
    | SignupFarmConfig
    | JailbreakExtractionConfig
    | PredictionExtractionConfig
)


class ScenarioConfig(_Model):
    """One simulated world: who, how long, which campaigns, where the prompt data is.

    ``prompt_split`` chooses which rows of ``prompts/{train,dev}.jsonl`` attack content is
    drawn from. The default ``dev`` keeps attack prompts out of the data the content
    classifier is trained on, so a detector is measured on text it has not seen (add
    ``paraphrase_rate`` for obfuscated variants); ``train`` is for in-distribution sanity
    checks, ``all`` for demos. Benign prompts never come from ``prompts/train.jsonl`` unless
    ``prompt_split`` is ``train``.
    """

    name: str = "mixed"
    seed: int = 7
    accounts: int = Field(default=DEFAULT_ACCOUNTS, ge=20)
    days: float = Field(default=1.0, gt=0, le=366)
    start: datetime = DEFAULT_START
    events_format: Literal["jsonl", "jsonl.gz", "parquet"] = "jsonl.gz"
    data_dir: Path | None = Field(
        default=None, description="shared prompt data; None or missing = built-in generator"
    )
    prompt_split: PromptSplit = "dev"
    volume_scale: float = Field(default=1.0, gt=0, description="multiplies every request rate")
    chunk_minutes: float = Field(default=15.0, gt=0, le=1440)
    benign: BenignConfig = BenignConfig()
    release: ReleaseConfig | None = ReleaseConfig()
    campaigns: tuple[Annotated[Campaign, Field(discriminator="kind")], ...] = ()

    def scaled(self, accounts: int) -> ScenarioConfig:
        """The same scenario with ``accounts`` accounts in all; campaign sizes follow."""
        factor = accounts / self.accounts
        campaigns = tuple(
            c.model_copy(update={"accounts": max(1, round(c.accounts * factor))})
            for c in self.campaigns
        )
        return self.model_copy(update={"accounts": accounts, "campaigns": campaigns})
