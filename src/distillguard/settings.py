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

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from distillguard.errors import ConfigError

__all__ = [
    "DetectSettings",
    "GatewaySettings",
    "IdentitySettings",
    "PolicySettings",
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


class PolicySettings(_Section):
    """How the gateway turns signals into one action per request (``respond.policy``).

    Content signals are per prompt and noisy (red-team vendors and eval harnesses send jailbreak
    look-alikes), so on their own they degrade a request, never block it. Blocking comes from the
    audit's enforcement list (``suspend``) or from the online score when ``online_block_at`` is set.
    """

    content_degrade_at: float = Field(
        default=0.95,
        ge=0.0,
        le=1.0,
        description="a prompt's attack signal at which its request is degraded: where the "
        "content model is sure (the audit and the online test count attacks from the same "
        "0.95); from 0.85 agent builders' tool prompts were degraded (80% of them had a "
        "request degraded on tuning seed 1, 14% from 0.95)",
    )
    content_degrade_signals: tuple[str, ...] = Field(
        default=("jailbreak", "injection", "extraction"),
        description="the per-prompt content signals that degrade (or block) a request by "
        "themselves; asking for step-by-step reasoning or rubric grading is what customers do "
        "too (on the simulator's traffic it would degrade a third of researchers' requests), "
        "so those count at the account level, in the online score",
    )
    content_block_at: float | None = Field(default=None, ge=0.0, le=1.0)
    content_identity_at: float | None = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description="content on its own (this prompt, or a recent one held) acts only on "
        "accounts whose identity risk (the audit's identity_risk: account age, verification "
        "tier, plan) is at least this, as the online content test does: an established, "
        "verified customer's prompts are left to the online score and the audit. None: every "
        "account; an account without a creation time is always judged",
    )
    online_degrade_at: float = Field(default=0.6, ge=0.0, le=1.0)
    online_challenge_at: float = Field(default=0.85, ge=0.0, le=1.0)
    online_block_at: float | None = Field(default=None, ge=0.0, le=1.0)
    signup_challenge_at: float | None = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="identity's sign-up risk (scored with the sign-ups up to the account's first "
        "request) at which the account is challenged (asked to verify) from its first request; "
        "None turns the sign-up path off",
    )
    challenge_up_to_tier: Literal["none", "email", "phone", "document", "organization"] = Field(
        default="phone",
        description="accounts verified above this tier are degraded instead of challenged",
    )
    throttle_quota_factor: float = Field(
        default=0.1,
        gt=0.0,
        le=1.0,
        description="share of the tier quota left to throttled accounts",
    )
    cluster_quota_factor: float = Field(
        default=3.0, gt=0.0, description="a cluster together gets this many accounts' quota"
    )
    content_hold_s: float = Field(
        default=600.0,
        ge=0.0,
        description="with content scored off the request path: how long a hot prompt keeps its "
        "account degraded",
    )
    max_tokens_cap: int = Field(default=256, ge=1)
    prob_decimals: int = Field(default=1, ge=0, le=6)
    prob_noise: float = Field(default=0.02, ge=0.0, le=0.5)


class GatewaySettings(_Section):
    """The inline gateway (``distillguard serve``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    upstream_url: str = "http://127.0.0.1:8000"
    upstream_api_key: str | None = Field(
        default=None, description="sent upstream as 'Authorization: Bearer'; never logged"
    )
    upstream_timeout_s: float = Field(default=60.0, gt=0)
    upstream_connect_timeout_s: float = Field(default=5.0, gt=0)
    upstream_max_connections: int = Field(default=256, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    redis_url: str | None = None
    redis_timeout_s: float = Field(default=0.05, gt=0)
    redis_prefix: str = Field(default="dg:", description="key prefix, to share one Redis")
    fail_mode: Literal["open", "closed"] = "open"
    window_s: int = Field(
        default=60,
        ge=1,
        description="rate-limit window; the per-minute tier quotas are scaled to its length",
    )
    enforcement_path: Path | None = Field(
        default=None, description="the audit's enforcement.json; reloaded by POST /admin/reload"
    )
    event_log: Path = Field(
        default=Path("gateway-events.jsonl.gz"),
        description="where events go (.jsonl or .jsonl.gz); '{pid}' is replaced by the process id",
    )
    event_batch_size: int = Field(default=512, ge=1)
    event_flush_s: float = Field(default=0.5, gt=0)
    log_content: bool = Field(
        default=True, description="keep prompts and responses in the event log"
    )
    action_header: str | None = Field(
        default="x-distillguard-action", description="response header with action; None hides it"
    )
    admin_token: str | None = Field(
        default=None, description="bearer token for /admin/*; admin is off without one"
    )
    auth_cache_s: float = Field(
        default=0.25,
        ge=0.0,
        description="reuse a key check this long; a revocation applies after at most this; 0 = off",
    )
    trust_forwarded_for: bool = Field(
        default=False, description="take client_ip from X-Forwarded-For (behind a trusted LB)"
    )
    detection: bool = True
    content_inline: bool = Field(
        default=False,
        description="score each prompt before forwarding it (acts on that very request, costs "
        "the content model's time per request); off: scored in the scorer process and acted on "
        "from the account's next request",
    )
    policy: PolicySettings = PolicySettings()


class IdentitySettings(_Section):
    """The account store, keys and MFA.

    ``secret_key`` keys the API-key pepper, encrypts TOTP seeds and seals the audit log. It is
    required outside ``env="local"``; locally, when unset, one is generated into ``secret_file``
    (default: next to the SQLite database, ``<db>.secret``, mode 0600) and reused.
    """

    database_url: str = "sqlite:///distillguard-identity.sqlite"
    secret_key: SecretStr | None = None
    secret_file: Path | None = None
    mfa_session_ttl_s: int = Field(default=600, ge=30, description="how long a passed MFA lasts")
    max_failures: int = Field(default=5, ge=1, description="failed attempts before lockout")
    free_failures: int = Field(default=2, ge=0, description="failures before throttling starts")
    lockout_s: float = Field(default=900.0, gt=0)
    step_up_code_ttl_s: int = Field(default=600, ge=30)
    step_up_max_attempts: int = Field(default=5, ge=1)
    scrypt_log2_n: int = Field(default=15, ge=10, le=20, description="recovery/password hashes")
    totp_issuer: str = "distillguard"
    webauthn_rp_id: str = "localhost"
    webauthn_rp_name: str = "distillguard"
    webauthn_origin: str = "http://localhost:8080"


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
