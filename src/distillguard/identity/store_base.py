"""The identity store's shared machinery: sessions, the audit-log append, account lookups,
lockout bookkeeping and MFA-session checks. The operations live in the ``store_*`` mixins and
come together in :class:`distillguard.identity.store.IdentityStore`."""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, sessionmaker

from distillguard.errors import AuthenticationError, IdentityError, LockedOutError
from distillguard.events.records import Verification
from distillguard.identity import audit_log, passkeys
from distillguard.identity.lockout import FailureState, LockoutPolicy, after_failure, retry_after_s
from distillguard.identity.models import AccountInfo, MfaMethod, MfaSession
from distillguard.identity.passwords import ScryptCost
from distillguard.identity.secret import ServerSecret
from distillguard.identity.stepup import CodeVerifier, OutboxSender, Sender, Verifier
from distillguard.identity.tables import (
    Account,
    AuditEntry,
    AuditHead,
    AuthFailure,
    MfaSessionRow,
    TotpFactor,
    WebAuthnCredential,
)
from distillguard.identity.tiers import TIER_QUOTAS, TierQuota
from distillguard.settings import IdentitySettings

__all__ = ["StoreBase"]

log = structlog.get_logger(__name__)


_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _check_id(kind: str, value: str) -> str:
    if not _ID_RE.match(value):
        raise IdentityError(
            f"invalid {kind} {value[:40]!r}: use 1-128 letters, digits or _.@:- "
            "(starting with a letter or digit)"
        )
    return value


class StoreBase:
    """State and helpers every store operation shares."""

    def __init__(
        self,
        engine: Engine,
        secret: ServerSecret,
        settings: IdentitySettings,
        *,
        clock: Callable[[], datetime] = _utcnow,
        sender: Sender | None = None,
        verifiers: Mapping[Verification, Verifier] | None = None,
        read_engine: Engine | None = None,
    ) -> None:
        self._engine = engine
        # The API-key lookup's engine: on PostgreSQL an autocommit pool (no BEGIN/ROLLBACK
        # round trips around one SELECT); on SQLite the same engine.
        self._read_engine = read_engine or engine
        self._secret = secret
        self._settings = settings
        self._clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._policy = LockoutPolicy(
            free_failures=settings.free_failures,
            max_failures=settings.max_failures,
            lockout_s=settings.lockout_s,
        )
        self._scrypt = ScryptCost(log2_n=settings.scrypt_log2_n)
        self._rp = passkeys.RelyingParty(
            rp_id=settings.webauthn_rp_id,
            name=settings.webauthn_rp_name,
            origin=settings.webauthn_origin,
        )
        self.sender: Sender = sender or OutboxSender(self._sessions, clock)
        default_verifiers: dict[Verification, Verifier] = {
            Verification.EMAIL: CodeVerifier(channel="email", sender=self.sender, secret=secret),
            Verification.PHONE: CodeVerifier(channel="sms", sender=self.sender, secret=secret),
        }
        default_verifiers.update(verifiers or {})
        self._verifiers = default_verifiers
        self._last_used: dict[str, datetime] = {}
        self._last_used_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flush_threads: list[threading.Thread] = []
        self._decoy: str | None = None
        self._last_flush = time.monotonic()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    def _now(self) -> datetime:
        return self._clock()

    def _audit(
        self,
        s: Session,
        actor: str,
        action: str,
        target: str,
        details: dict[str, object] | None = None,
    ) -> None:
        head = s.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar()
        if head is None:
            head = AuditHead(id=1, seq=0, entry_hash=audit_log.GENESIS_HASH)
            s.add(head)
            s.flush()
        ts = self._now()
        seq = head.seq + 1
        body = audit_log.canonical_details(details or {})
        h = audit_log.entry_hash(
            self._secret,
            prev_hash=head.entry_hash,
            seq=seq,
            ts=ts,
            actor=actor,
            action=action,
            target=target,
            details=body,
        )
        s.add(
            AuditEntry(
                seq=seq,
                ts=ts,
                actor=actor,
                action=action,
                target=target,
                details=body,
                prev_hash=head.entry_hash,
                entry_hash=h,
            )
        )
        head.seq = seq
        head.entry_hash = h

    def _account(self, s: Session, account_id: str) -> Account:
        row = s.get(Account, account_id)
        if row is None:
            raise IdentityError(
                f"unknown account {account_id[:128]!r}; list accounts with "
                "`distillguard accounts list`"
            )
        return row

    def _info(self, s: Session, row: Account) -> AccountInfo:
        methods: list[MfaMethod] = []
        factor = s.get(TotpFactor, row.account_id)
        if factor is not None and factor.confirmed_at is not None:
            methods.append(MfaMethod.TOTP)
        if s.scalar(
            select(WebAuthnCredential.credential_id)
            .where(WebAuthnCredential.account_id == row.account_id)
            .limit(1)
        ):
            methods.append(MfaMethod.WEBAUTHN)
        return AccountInfo(
            account_id=row.account_id,
            org_id=row.org_id,
            email=row.email,
            email_domain=row.email_domain,
            tier=Verification(row.verification),
            is_admin=row.is_admin,
            created_at=row.created_at,
            country=row.country,
            plan=row.plan,
            quota=_quota(row),
            mfa_methods=tuple(methods),
            suspended_at=row.suspended_at,
        )

    def _require_admin(self, s: Session, account_id: str, purpose: str) -> None:
        row = self._account(s, account_id)
        if not row.is_admin:
            raise IdentityError(f"account {account_id} is not an admin; only admins may {purpose}")

    def _guard(self, s: Session, subject: str) -> None:
        row = s.get(AuthFailure, subject)
        state = FailureState(row.failures, row.last_failure_at, row.locked_until) if row else None
        wait = retry_after_s(state, self._now(), self._policy)
        if wait > 0:
            raise LockedOutError(subject, wait)

    def _record_failure(self, subject: str) -> None:
        # Own transaction: the caller's is about to roll back with the error it raises.
        with self._tx() as s:
            row = s.get(AuthFailure, subject, with_for_update=True)
            state = (
                FailureState(row.failures, row.last_failure_at, row.locked_until) if row else None
            )
            new = after_failure(state, self._now(), self._policy)
            if row is None:
                s.add(
                    AuthFailure(
                        subject=subject,
                        failures=new.failures,
                        last_failure_at=new.last_failure_at,
                        locked_until=new.locked_until,
                    )
                )
            else:
                row.failures = new.failures
                row.last_failure_at = new.last_failure_at
                row.locked_until = new.locked_until
            if new.locked_until is not None:
                self._audit(s, "system", "auth.lockout", subject, {"failures": new.failures})
        log.warning("identity.auth_failed", subject=subject, failures=new.failures)

    def _clear_failures(self, s: Session, subject: str) -> None:
        row = s.get(AuthFailure, subject)
        if row is not None:
            s.delete(row)

    def _issue_mfa(self, s: Session, account_id: str, method: MfaMethod) -> MfaSession:
        token = secrets.token_urlsafe(32)
        expires = self._now() + timedelta(seconds=self._settings.mfa_session_ttl_s)
        s.add(
            MfaSessionRow(
                token_hash=self._secret.keyed_hash("mfa-session", token),
                account_id=account_id,
                method=method.value,
                created_at=self._now(),
                expires_at=expires,
            )
        )
        return MfaSession(token=token, account_id=account_id, method=method, expires_at=expires)

    def _require_mfa(self, s: Session, mfa: MfaSession | str | None, *, purpose: str) -> MfaSession:
        if mfa is None:
            raise AuthenticationError(
                f"a verified second factor is required to {purpose}: pass an MFA session from "
                "verify_totp / verify_webauthn / use_recovery_code (CLI: --otp CODE)"
            )
        token = mfa.token if isinstance(mfa, MfaSession) else mfa
        row = s.get(MfaSessionRow, self._secret.keyed_hash("mfa-session", token))
        if row is None:
            raise AuthenticationError(f"unknown MFA session; pass a second factor to {purpose}")
        if row.expires_at <= self._now():
            raise AuthenticationError(
                f"MFA session expired at {row.expires_at:%Y-%m-%d %H:%M:%S} UTC; "
                f"verify a second factor again to {purpose}"
            )
        return MfaSession(
            token=token,
            account_id=row.account_id,
            method=MfaMethod(row.method),
            expires_at=row.expires_at,
        )

    def _has_factor(self, s: Session, account_id: str) -> bool:
        factor = s.get(TotpFactor, account_id)
        if factor is not None and factor.confirmed_at is not None:
            return True
        return (
            s.scalar(
                select(WebAuthnCredential.credential_id)
                .where(WebAuthnCredential.account_id == account_id)
                .limit(1)
            )
            is not None
        )

    def _require_owner_mfa(
        self, s: Session, account_id: str, mfa: MfaSession | str | None, purpose: str
    ) -> MfaSession:
        session = self._require_mfa(s, mfa, purpose=purpose)
        if session.account_id != account_id:
            self._require_admin(s, session.account_id, f"{purpose} for another account")
        return session


def _execute(s: Session, statement: Any) -> CursorResult[Any]:
    """Run a DML statement and keep its row count (the typed Session.execute hides it)."""
    return cast(CursorResult[Any], s.execute(statement))


def _quota_values(tier: Verification, rpm: int | None, tpm: int | None) -> TierQuota:
    base = TIER_QUOTAS[tier]
    if rpm is None and tpm is None:
        return base
    return TierQuota(
        requests_per_minute=base.requests_per_minute if rpm is None else rpm,
        tokens_per_minute=base.tokens_per_minute if tpm is None else tpm,
        tokens_per_day=base.tokens_per_day,
        max_keys=base.max_keys,
        reasoning_visible=base.reasoning_visible,
    )


def _quota(row: Account) -> TierQuota:
    return _quota_values(
        Verification(row.verification),
        row.requests_per_minute_override,
        row.tokens_per_minute_override,
    )
