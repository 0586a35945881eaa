"""The identity stage's result records (what the store hands back; no secret in any ``repr``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from distillguard.events.records import Verification
from distillguard.identity.tiers import TierQuota

__all__ = [
    "AccountInfo",
    "FactorConfirmation",
    "KeyInfo",
    "KeyPrincipal",
    "MfaMethod",
    "MfaSession",
    "NewKey",
    "Scope",
    "TotpEnrollment",
]


class Scope(StrEnum):
    """What an API key may call. ``inference`` covers every model endpoint."""

    INFERENCE = "inference"
    CHAT = "chat.completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    PREDICT = "predict"
    READ = "read"


class MfaMethod(StrEnum):
    TOTP = "totp"
    WEBAUTHN = "webauthn"
    RECOVERY_CODE = "recovery_code"


@dataclass(frozen=True, slots=True)
class KeyPrincipal:
    """Who an authenticated API key speaks for, as the gateway needs it per request.

    ``quota`` is the account's effective quota: its tier's :data:`TIER_QUOTAS` entry with any
    per-account override an admin granted. The account record's sign-up facts (creation time,
    plan, country, payment instrument and sign-up address/device) come with the same lookup:
    the gateway's online scorer and the enforcement list's cluster links read them.
    ``signup_risk`` is identity's sign-up risk, scored by ``create_account`` over the sign-ups
    of the 7 days up to and including the account's own (causal, like
    ``identity.signup_risk.score_signups_as_of``); the policy challenges an account at or above
    ``signup_challenge_at`` (None: created before scoring existed, no sign-up rule).
    """

    key_id: str
    account_id: str
    org_id: str | None
    tier: Verification
    scopes: frozenset[str]
    quota: TierQuota
    expires_at: datetime | None = None
    account_created_at: datetime | None = None
    plan: str | None = None
    country: str | None = None
    payment_fingerprint: str | None = field(default=None, repr=False)
    signup_ip: str | None = field(default=None, repr=False)
    signup_fingerprint: str | None = field(default=None, repr=False)
    signup_risk: float | None = None

    def allows(self, endpoint: str) -> bool:
        """Whether this key may call ``endpoint`` (spec endpoint names)."""
        if endpoint in self.scopes:
            return True
        return Scope.INFERENCE in self.scopes and endpoint != Scope.READ


@dataclass(frozen=True, slots=True)
class AccountInfo:
    account_id: str
    org_id: str | None
    email: str | None
    email_domain: str | None
    tier: Verification
    is_admin: bool
    created_at: datetime
    country: str | None
    plan: str | None
    quota: TierQuota
    mfa_methods: tuple[MfaMethod, ...]
    suspended_at: datetime | None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as listed: never the key itself."""

    key_id: str
    account_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rotated_from: str | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key. ``raw_key`` exists only here: show it once, then drop it."""

    raw_key: str = field(repr=False)
    info: KeyInfo


@dataclass(frozen=True, slots=True)
class MfaSession:
    """Proof that ``account_id`` passed a second factor, good until ``expires_at``.

    Operations that need MFA take the ``token``; the store keeps only its keyed hash.
    """

    token: str = field(repr=False)
    account_id: str
    method: MfaMethod
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class FactorConfirmation:
    """A second factor just confirmed: an MFA session, and the recovery codes when this was the
    account's first factor (shown once; empty otherwise)."""

    session: MfaSession
    recovery_codes: tuple[str, ...] = field(repr=False, default=())


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    """A started TOTP enrolment: ``uri`` (and the base32 ``secret`` inside it) is shown once so
    the user can scan it; it is confirmed with a first code."""

    account_id: str
    uri: str = field(repr=False)
    secret_base32: str = field(repr=False)
