"""Named scenarios: ``mixed`` (the default: every campaign at once), one per campaign kind,
and ``benign_only``. Each is a plain :class:`ScenarioConfig`; derive harder variants with
``model_copy(update=...)`` or by building the campaign configs yourself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from distillguard.errors import ConfigError
from distillguard.simulate.config import (
    CotHarvestConfig,
    JailbreakExtractionConfig,
    LowAndSlowConfig,
    PredictionExtractionConfig,
    ProxyNetworkConfig,
    ScenarioConfig,
    SignupFarmConfig,
)

__all__ = ["SCENARIOS", "scenario"]

_ALL = (
    ProxyNetworkConfig(),
    CotHarvestConfig(),
    LowAndSlowConfig(),
    SignupFarmConfig(),
    JailbreakExtractionConfig(),
    PredictionExtractionConfig(),
)

SCENARIOS: Mapping[str, ScenarioConfig] = {
    "mixed": ScenarioConfig(name="mixed", campaigns=_ALL),
    **{
        c.kind.value: ScenarioConfig(name=c.kind.value, accounts=1000, campaigns=(c,)) for c in _ALL
    },
    "benign_only": ScenarioConfig(name="benign_only", accounts=1000, campaigns=()),
}


def scenario(name: str, **overrides: Any) -> ScenarioConfig:
    """The scenario ``name`` with fields replaced (``accounts`` rescales the campaigns).

    Raises :class:`ConfigError` naming the known scenarios when ``name`` is unknown.
    """
    if name not in SCENARIOS:
        raise ConfigError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    config = SCENARIOS[name]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    accounts = overrides.pop("accounts", None)
    try:
        if accounts is not None and accounts != config.accounts:
            config = config.scaled(int(accounts))
        if overrides:
            config = ScenarioConfig.model_validate({**config.model_dump(), **overrides})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"scenario {name!r}: {problems}") from exc
    return config
