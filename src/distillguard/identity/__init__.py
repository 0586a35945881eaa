"""identity stage: accounts, verification tiers and their quotas, API keys, MFA (TOTP,
WebAuthn, recovery codes), step-up verification, sign-up risk and the tamper-evident admin
audit log. See DESIGN.md and the README's identity section.

The gateway needs only :class:`IdentityStore` (``open`` and ``authenticate_key``),
:class:`KeyPrincipal` and :data:`TIER_QUOTAS`.
"""

from distillguard.identity.audit_log import AuditBreak, AuditLogEntry, ChainReport
from distillguard.identity.models import (
    AccountInfo,
    FactorConfirmation,
    KeyInfo,
    KeyPrincipal,
    MfaMethod,
    MfaSession,
    NewKey,
    Scope,
    TotpEnrollment,
)
from distillguard.identity.secret import ServerSecret
from distillguard.identity.stepup import (
    Challenge,
    CodeVerifier,
    KycProvider,
    KycSession,
    KycVerifier,
    OutgoingMessage,
    Sender,
    Verifier,
)
from distillguard.identity.store import IdentityStore
from distillguard.identity.tiers import TIER_QUOTAS, TierQuota, next_tier

__all__ = [
    "TIER_QUOTAS",
    "AccountInfo",
    "AuditBreak",
    "AuditLogEntry",
    "ChainReport",
    "Challenge",
    "CodeVerifier",
    "FactorConfirmation",
    "IdentityStore",
    "KeyInfo",
    "KeyPrincipal",
    "KycProvider",
    "KycSession",
    "KycVerifier",
    "MfaMethod",
    "MfaSession",
    "NewKey",
    "OutgoingMessage",
    "Scope",
    "Sender",
    "ServerSecret",
    "TierQuota",
    "TotpEnrollment",
    "Verifier",
    "next_tier",
]
