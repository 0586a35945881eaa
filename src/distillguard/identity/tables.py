"""The identity database schema (SQLAlchemy 2 declarative). Migrations in ``migrations/`` create
exactly these tables; a test compares the two so they cannot drift.

No secret is stored in the clear: API keys, session tokens and step-up codes as keyed HMACs,
passwords and recovery codes with scrypt, TOTP seeds encrypted with the server secret.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Account",
    "ApiKey",
    "AuditEntry",
    "AuditHead",
    "AuthFailure",
    "Base",
    "MfaSessionRow",
    "Organization",
    "OutboxMessage",
    "PasswordHistory",
    "RecoveryCode",
    "StepUpChallenge",
    "StoreMeta",
    "TotpFactor",
    "UtcDateTime",
    "WebAuthnChallenge",
    "WebAuthnCredential",
]


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class StoreMeta(Base):
    """Key/value facts about the store, e.g. the server-secret fingerprint."""

    __tablename__ = "identity_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class Organization(Base):
    __tablename__ = "organizations"
    org_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Account(Base):
    """One billing account; sign-up evidence columns mirror the spec's account record.

    ``signup_risk`` is the sign-up risk scored when the account was created, from the sign-ups
    made up to then (NULL: created before scoring existed); ``signup_risk_reasons`` its reasons,
    one per line.
    """

    __tablename__ = "accounts"
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    org_id: Mapped[str | None] = mapped_column(
        String(128), ForeignKey("organizations.org_id"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(320))
    email_domain: Mapped[str | None] = mapped_column(String(255))
    verification: Mapped[str] = mapped_column(String(16))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Indexed: each sign-up is scored against the recent sign-ups (a time-window scan).
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    plan: Mapped[str | None] = mapped_column(String(64))
    payment_fingerprint: Mapped[str | None] = mapped_column(String(128))
    signup_ip: Mapped[str | None] = mapped_column(String(64))
    signup_fingerprint: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    requests_per_minute_override: Mapped[int | None] = mapped_column(Integer)
    tokens_per_minute_override: Mapped[int | None] = mapped_column(BigInteger)
    suspended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    signup_risk: Mapped[float | None] = mapped_column(Float)
    signup_risk_reasons: Mapped[str | None] = mapped_column(Text)


class PasswordHistory(Base):
    __tablename__ = "password_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKey(Base):
    """An API key: ``key_hash`` is HMAC-SHA256(pepper, secret part); the key itself is gone."""

    __tablename__ = "api_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[str] = mapped_column(String(512))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rotated_from: Mapped[str | None] = mapped_column(String(32))


class TotpFactor(Base):
    __tablename__ = "totp_factors"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    seed_encrypted: Mapped[str] = mapped_column(Text)
    pending_seed_encrypted: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(256))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class WebAuthnCredential(Base):
    __tablename__ = "webauthn_credentials"
    credential_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class WebAuthnChallenge(Base):
    __tablename__ = "webauthn_challenges"
    challenge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MfaSessionRow(Base):
    """A verified second factor, valid until ``expires_at``; ``token_hash`` is keyed."""

    __tablename__ = "mfa_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuthFailure(Base):
    """Failed attempts per subject (e.g. ``totp:acct_1``), for throttling and lockout."""

    __tablename__ = "auth_failures"
    subject: Mapped[str] = mapped_column(String(256), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class StepUpChallenge(Base):
    __tablename__ = "step_up_challenges"
    challenge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    verifier: Mapped[str] = mapped_column(String(64))
    target_tier: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(512))
    destination: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """Messages the default sender queued instead of delivering (local development)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    subject: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    """One admin action; ``entry_hash`` = HMAC(audit key, prev_hash + canonical entry)."""

    __tablename__ = "admin_audit_log"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last sequence number and hash: one row, locked while appending so that
    concurrent writers cannot fork the chain, and compared at verify to catch truncation."""

    __tablename__ = "admin_audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))


Index("ix_outbox_created", OutboxMessage.created_at)
