"""One typed settings object for the whole package.

Precedence, lowest first: field defaults < settings file (TOML) < environment variables
(``DISTILLGUARD_`` prefix, ``__`` between section and field, e.g.
``DISTILLGUARD_STORE__DB_PATH``) < CLI flags, which callers pass to :func:`load_settings` as
``overrides``. Nothing here is read at import: build it with :func:`load_settings` and pass it on.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from distillguard.errors import ConfigError

__all__ = [
    "DetectSettings",
    "GatewaySettings",
    "IdentitySettings",
    "Settings",
    "SimulateSettings",
    "StoreSettings",
    "default_data_dir",
    "load_settings",
]


def default_data_dir() -> Path:
    """Where the shared public prompt data lives in a development checkout (``../shared/data``
    next to the repository). Users point ``DISTILLGUARD_SIMULATE__DATA_DIR`` elsewhere."""
    return Path(__file__).resolve().parents[3] / "shared" / "data"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoreSettings(_Section):
    """The embedded DuckDB store."""

    db_path: Path = Path("distillguard.duckdb")
    memory_limit: str = Field(default="4GB", description="DuckDB memory_limit pragma")
    threads: int | None = Field(default=None, ge=1, description="DuckDB threads; None = all cores")


class SimulateSettings(_Section):
    """The traffic simulator."""

    data_dir: Path = Field(default_factory=default_data_dir)


class DetectSettings(_Section):
    """Detector parameters shared by the audit and the gateway."""

    flag_threshold: float = Field(default=0.5, ge=0.0, le=1.0)


class GatewaySettings(_Section):
    """The inline gateway."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    upstream_url: str = "http://127.0.0.1:8000"
    upstream_timeout_s: float = Field(default=60.0, gt=0)
    redis_url: str | None = None
    fail_mode: Literal["open", "closed"] = "open"


class IdentitySettings(_Section):
    """The account store, keys and MFA."""

    database_url: str = "sqlite:///distillguard-identity.sqlite"


class Settings(BaseSettings):
    """Everything configurable, by section."""

    model_config = SettingsConfigDict(
        env_prefix="DISTILLGUARD_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    env: Literal["local", "production"] = "local"
    store: StoreSettings = StoreSettings()
    simulate: SimulateSettings = SimulateSettings()
    detect: DetectSettings = DetectSettings()
    gateway: GatewaySettings = GatewaySettings()
    identity: IdentitySettings = IdentitySettings()


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Build the settings: defaults < ``config_file`` (TOML) < environment < ``overrides``.

    ``overrides`` is nested like the file, e.g. ``{"store": {"db_path": Path("x.duckdb")}}``;
    ``None`` values in it are ignored so that CLI flags left unset do not mask the environment.
    """
    from_file: dict[str, Any] = {}
    if config_file is not None:
        try:
            from_file = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{config_file}: settings file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: not valid TOML ({exc})") from exc
    flags = _drop_none(overrides or {})
    try:
        # Environment beats the file: pydantic-settings gives init kwargs the highest priority,
        # so read the environment first and merge it over the file ourselves.
        env_only = Settings().model_dump(exclude_unset=True)
        merged = _deep_merge(_deep_merge(from_file, env_only), flags)
        return Settings(**merged)
    except ValidationError as exc:
        where = f" in {config_file}" if config_file else ""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings{where}: {problems}") from exc


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out[key] = _drop_none(value)
        elif value is not None:
            out[key] = value
    return out
