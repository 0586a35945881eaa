"""The identity store: accounts, organisations, tiers, API keys, MFA, step-up and the admin
audit log, on SQLAlchemy 2 (SQLite file by default, PostgreSQL in production).

Open it with :meth:`IdentityStore.open`; migrations run on open. Every privileged operation
(creating keys, raising limits, re-enrolling factors) takes an :class:`MfaSession` token proving
a second factor was just passed, so the rule holds for the CLI, the console and any other
caller alike. Every admin action is appended to the hash-chained audit log.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self, cast

import structlog
from sqlalchemy import Engine, bindparam, create_engine, event, select, update
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from distillguard.errors import (
    AuthenticationError,
    ConfigError,
    IdentityError,
    LockedOutError,
    StoreError,
)
from distillguard.events.records import Verification
from distillguard.identity import audit_log, passkeys, totp
from distillguard.identity.keys import generate_key, parse_key
from distillguard.identity.lockout import FailureState, LockoutPolicy, after_failure, retry_after_s
from distillguard.identity.migrate import upgrade
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
from distillguard.identity.passwords import (
    ScryptCost,
    check_password_strength,
    hash_secret,
    new_recovery_codes,
    normalise_recovery_code,
    verify_secret,
)
from distillguard.identity.secret import ServerSecret, load_or_create_secret_file
from distillguard.identity.stepup import (
    Challenge,
    CodeVerifier,
    OutboxSender,
    Sender,
    StepUpRequest,
    Verifier,
)
from distillguard.identity.tables import (
    Account,
    ApiKey,
    AuditEntry,
    AuditHead,
    AuthFailure,
    MfaSessionRow,
    Organization,
    OutboxMessage,
    PasswordHistory,
    RecoveryCode,
    StepUpChallenge,
    StoreMeta,
    TotpFactor,
    WebAuthnChallenge,
    WebAuthnCredential,
)
from distillguard.identity.tiers import TIER_QUOTAS, TierQuota, next_tier, tier_rank
from distillguard.settings import IdentitySettings, Settings, load_settings

__all__ = ["IdentityStore", "OutboxEntry", "resolve_secret"]

log = structlog.get_logger(__name__)

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$")
_PASSWORD_HISTORY = 5
_LAST_USED_FLUSH_S = 30.0
_WEBAUTHN_CHALLENGE_TTL_S = 300


def _utcnow() -> datetime:
    return datetime.now(UTC)


def resolve_secret(settings: Settings, database_url: str) -> ServerSecret:
    """The server secret from settings; locally, a generated file next to the SQLite database.

    Outside ``env="local"`` a missing secret is refused: generating one silently on a server
    would tie every key to a file nobody backs up.
    """
    ident = settings.identity
    if ident.secret_key is not None:
        return ServerSecret.from_text(ident.secret_key.get_secret_value())
    if settings.env != "local":
        raise ConfigError(
            "DISTILLGUARD_IDENTITY__SECRET_KEY is not set; outside env=local the identity store "
            "needs an explicit random secret of at least 32 bytes (keep it in your secret manager "
            "and back it up: losing it invalidates every API key and TOTP enrolment)"
        )
    path = ident.secret_file
    if path is None:
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = Path(f"{url.database}.secret")
        else:
            path = Path("distillguard-identity.secret")
    return load_or_create_secret_file(path)


class OutboxEntry:
    """A message in the local outbox (the default step-up sender's mailbox)."""

    __slots__ = ("account_id", "body", "channel", "created_at", "recipient", "subject")

    def __init__(self, row: OutboxMessage) -> None:
        self.created_at = row.created_at
        self.channel = row.channel
        self.recipient = row.recipient
        self.account_id = row.account_id
        self.subject = row.subject
        self.body = row.body

    def __repr__(self) -> str:
        return f"OutboxEntry(account_id={self.account_id!r}, channel={self.channel!r})"


def _check_id(kind: str, value: str) -> str:
    if not _ID_RE.match(value):
        raise IdentityError(
            f"invalid {kind} {value[:40]!r}: use 1-128 letters, digits or _.@:- "
            "(starting with a letter or digit)"
        )
    return value


class IdentityStore:
    """Accounts, keys, MFA, step-up and the audit log over one SQLAlchemy engine.

    Thread-safe for the gateway's use (``authenticate_key``); other operations open a short
    transaction each. ``clock`` is injectable so tests can move time.
    """

    def __init__(
        self,
        engine: Engine,
        secret: ServerSecret,
        settings: IdentitySettings,
        *,
        clock: Callable[[], datetime] = _utcnow,
        sender: Sender | None = None,
        verifiers: Mapping[Verification, Verifier] | None = None,
    ) -> None:
        self._engine = engine
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
        self._last_flush = time.monotonic()

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        *,
        settings: Settings | None = None,
        secret: ServerSecret | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sender: Sender | None = None,
        verifiers: Mapping[Verification, Verifier] | None = None,
    ) -> IdentityStore:
        """Connect, migrate to the newest schema, and check the server secret fits the data.

        ``database_url`` defaults to ``settings.identity.database_url``; ``secret`` to
        :func:`resolve_secret`.
        """
        settings = settings or load_settings()
        url = database_url or settings.identity.database_url
        if secret is None:
            secret = resolve_secret(settings, url)
        engine = _make_engine(url)
        try:
            upgrade(engine)
        except OperationalError as exc:
            engine.dispose()
            raise StoreError(
                f"identity database {make_url(url).render_as_string(hide_password=True)}: "
                f"cannot open or migrate ({exc.orig}); check the URL and that the server runs"
            ) from exc
        store = cls(
            engine, secret, settings.identity, clock=clock, sender=sender, verifiers=verifiers
        )
        store._check_secret()
        return store

    def close(self) -> None:
        self.flush_last_used()
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        return self._engine

    def _check_secret(self) -> None:
        fingerprint = self._secret.fingerprint()
        with self._sessions.begin() as s:
            row = s.get(StoreMeta, "secret_fingerprint")
            if row is None:
                s.add(StoreMeta(key="secret_fingerprint", value=fingerprint))
            elif not secrets.compare_digest(row.value, fingerprint):
                raise ConfigError(
                    "the identity server secret does not match the one this database was "
                    "created with; set DISTILLGUARD_IDENTITY__SECRET_KEY (or secret_file) to the "
                    "original secret"
                )

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    def _now(self) -> datetime:
        return self._clock()

    # ---------------------------------------------------------------- audit log

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

    def audit_entries(self, limit: int | None = None) -> list[audit_log.AuditLogEntry]:
        """The newest ``limit`` entries (all when ``None``), oldest first."""
        with self._tx() as s:
            q = select(AuditEntry).order_by(AuditEntry.seq.desc())
            if limit is not None:
                q = q.limit(limit)
            rows = list(s.scalars(q))
        return [_entry(r) for r in reversed(rows)]

    def verify_audit_log(self) -> audit_log.ChainReport:
        """Check the whole chain; the report names the first broken entry."""
        with self._tx() as s:
            rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
            head = s.get(AuditHead, 1)
            entries = [_entry(r) for r in rows]
            head_pair = (head.seq, head.entry_hash) if head is not None else None
        return audit_log.verify_chain(self._secret, entries, head_pair)

    # ---------------------------------------------------------------- accounts

    def create_org(self, org_id: str, name: str | None = None, *, actor: str = "cli") -> None:
        _check_id("organisation id", org_id)
        with self._tx() as s:
            if s.get(Organization, org_id) is not None:
                raise IdentityError(f"organisation {org_id!r} already exists")
            s.add(Organization(org_id=org_id, name=name or org_id, created_at=self._now()))
            self._audit(s, actor, "org.create", org_id)

    def create_account(
        self,
        account_id: str,
        *,
        email: str | None = None,
        org_id: str | None = None,
        password: str | None = None,
        admin: bool = False,
        country: str | None = None,
        plan: str | None = None,
        payment_fingerprint: str | None = None,
        signup_ip: str | None = None,
        signup_fingerprint: str | None = None,
        mfa: MfaSession | str | None = None,
        actor: str = "cli",
    ) -> AccountInfo:
        """Create an unverified account (tier ``none``).

        The first admin account may be created without MFA (bootstrap); every later admin needs
        an existing admin's MFA session.
        """
        _check_id("account id", account_id)
        email_domain = None
        if email is not None:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise IdentityError(f"account {account_id}: {email!r} is not an email address")
            email_domain = email.rsplit("@", 1)[1].lower()
        if country is not None and not re.fullmatch(r"[A-Za-z]{2}", country):
            raise IdentityError(
                f"account {account_id}: country must be an ISO 3166-1 alpha-2 code like 'DE'"
            )
        if password is not None:
            check_password_strength(password, account_id=account_id, email=email)
        with self._tx() as s:
            if s.get(Account, account_id) is not None:
                raise IdentityError(f"account {account_id!r} already exists")
            if org_id is not None and s.get(Organization, org_id) is None:
                s.add(Organization(org_id=org_id, name=org_id, created_at=self._now()))
                self._audit(s, actor, "org.create", org_id)
            if admin:
                has_admin = s.scalar(select(Account.account_id).where(Account.is_admin).limit(1))
                if has_admin is not None:
                    admin_session = self._require_mfa(s, mfa, purpose="create an admin")
                    self._require_admin(s, admin_session.account_id, "create an admin")
                    actor = admin_session.account_id
            pw_hash = hash_secret(password, self._scrypt) if password is not None else None
            row = Account(
                account_id=account_id,
                org_id=org_id,
                email=email,
                email_domain=email_domain,
                verification=Verification.NONE.value,
                is_admin=admin,
                created_at=self._now(),
                country=country.upper() if country else None,
                plan=plan,
                payment_fingerprint=payment_fingerprint,
                signup_ip=signup_ip,
                signup_fingerprint=signup_fingerprint,
                password_hash=pw_hash,
            )
            s.add(row)
            if pw_hash is not None:
                s.add(
                    PasswordHistory(
                        account_id=account_id, password_hash=pw_hash, created_at=self._now()
                    )
                )
            self._audit(s, actor, "account.create", account_id, {"admin": admin, "org_id": org_id})
            s.flush()
            return self._info(s, row)

    def get_account(self, account_id: str) -> AccountInfo:
        with self._tx() as s:
            return self._info(s, self._account(s, account_id))

    def list_accounts(
        self, *, org_id: str | None = None, tier: Verification | None = None
    ) -> list[AccountInfo]:
        with self._tx() as s:
            q = select(Account).order_by(Account.account_id)
            if org_id is not None:
                q = q.where(Account.org_id == org_id)
            if tier is not None:
                q = q.where(Account.verification == tier.value)
            return [self._info(s, row) for row in s.scalars(q)]

    def quota_for(self, account_id: str) -> TierQuota:
        with self._tx() as s:
            return _quota(self._account(s, account_id))

    def set_tier(
        self,
        account_id: str,
        tier: Verification,
        *,
        mfa: MfaSession | str | None = None,
        actor: str = "cli",
        reason: str = "",
    ) -> AccountInfo:
        """Set an account's tier by hand. Raising it (more quota) needs an admin's MFA session;
        lowering it is a safety action any operator may take (audited)."""
        with self._tx() as s:
            row = self._account(s, account_id)
            old = Verification(row.verification)
            if tier_rank(tier) > tier_rank(old):
                session = self._require_mfa(s, mfa, purpose="raise a tier")
                self._require_admin(s, session.account_id, "raise a tier")
                actor = session.account_id
            row.verification = tier.value
            self._audit(
                s,
                actor,
                "account.set_tier",
                account_id,
                {"from": old, "to": tier, "reason": reason},
            )
            return self._info(s, row)

    def set_limits(
        self,
        account_id: str,
        *,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        mfa: MfaSession | str | None,
    ) -> AccountInfo:
        """Override the tier's per-minute limits for one account (``None`` = back to the tier).
        Needs an admin's MFA session."""
        for name, value in (
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
        ):
            if value is not None and value < 0:
                raise IdentityError(f"{name} must be >= 0, got {value}")
        with self._tx() as s:
            session = self._require_mfa(s, mfa, purpose="change limits")
            self._require_admin(s, session.account_id, "change limits")
            row = self._account(s, account_id)
            row.requests_per_minute_override = requests_per_minute
            row.tokens_per_minute_override = tokens_per_minute
            self._audit(
                s,
                session.account_id,
                "account.set_limits",
                account_id,
                {
                    "requests_per_minute": requests_per_minute,
                    "tokens_per_minute": tokens_per_minute,
                },
            )
            return self._info(s, row)

    def suspend_account(self, account_id: str, *, actor: str = "cli", reason: str = "") -> None:
        """Suspend an account: its keys stop authenticating at once. A safety action: no MFA."""
        with self._tx() as s:
            row = self._account(s, account_id)
            row.suspended_at = self._now()
            self._audit(s, actor, "account.suspend", account_id, {"reason": reason})

    def reinstate_account(self, account_id: str, *, mfa: MfaSession | str | None) -> None:
        with self._tx() as s:
            session = self._require_mfa(s, mfa, purpose="reinstate an account")
            self._require_admin(s, session.account_id, "reinstate an account")
            row = self._account(s, account_id)
            row.suspended_at = None
            self._audit(s, session.account_id, "account.reinstate", account_id)

    def set_password(
        self, account_id: str, new_password: str, *, mfa: MfaSession | str | None
    ) -> None:
        """Change a password (needs the owner's MFA session). Weak passwords and any of the
        last five are refused."""
        with self._tx() as s:
            session = self._require_mfa(s, mfa, purpose="change a password")
            row = self._account(s, account_id)
            if session.account_id != account_id:
                self._require_admin(s, session.account_id, "change another account's password")
            check_password_strength(new_password, account_id=account_id, email=row.email)
            history = s.scalars(
                select(PasswordHistory.password_hash)
                .where(PasswordHistory.account_id == account_id)
                .order_by(PasswordHistory.id.desc())
                .limit(_PASSWORD_HISTORY)
            ).all()
            if any(verify_secret(new_password, h) for h in history):
                raise IdentityError(
                    f"account {account_id}: that password was used recently; choose a new one"
                )
            row.password_hash = hash_secret(new_password, self._scrypt)
            s.add(
                PasswordHistory(
                    account_id=account_id, password_hash=row.password_hash, created_at=self._now()
                )
            )
            self._audit(s, session.account_id, "account.set_password", account_id)

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

    # ---------------------------------------------------------------- failures / lockout

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

    # ---------------------------------------------------------------- MFA sessions

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

    def check_mfa(self, mfa: MfaSession | str, *, account_id: str | None = None) -> MfaSession:
        """Validate an MFA session token (e.g. a console request); ``account_id`` pins its owner."""
        with self._tx() as s:
            session = self._require_mfa(s, mfa, purpose="use the console")
        if account_id is not None and session.account_id != account_id:
            raise AuthenticationError("the MFA session belongs to another account")
        return session

    def end_mfa_session(self, mfa: MfaSession | str) -> None:
        token = mfa.token if isinstance(mfa, MfaSession) else mfa
        with self._tx() as s:
            row = s.get(MfaSessionRow, self._secret.keyed_hash("mfa-session", token))
            if row is not None:
                s.delete(row)

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

    # ---------------------------------------------------------------- password login

    def login(self, account_id: str, password: str, code: str) -> MfaSession:
        """Console sign-in: password and a TOTP code, both throttled; returns an MFA session."""
        subject = f"password:{account_id}"
        with self._tx() as s:
            self._guard(s, subject)
            row = s.get(Account, account_id)
            ok = row is not None and row.password_hash is not None
            ok = (
                verify_secret(password, row.password_hash)
                if ok and row and row.password_hash
                else False
            )
        if not ok:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: wrong account or password")
        with self._tx() as s:
            self._clear_failures(s, subject)
        return self.verify_totp(account_id, code)

    # ---------------------------------------------------------------- TOTP

    def enroll_totp(
        self, account_id: str, *, mfa: MfaSession | str | None = None
    ) -> TotpEnrollment:
        """Start (or restart) TOTP enrolment; confirm it with :meth:`confirm_totp`.

        An account that already has a confirmed factor must present an MFA session, so a stolen
        password alone cannot swap the authenticator.
        """
        seed = totp.new_seed()
        with self._tx() as s:
            row = self._account(s, account_id)
            if self._has_factor(s, account_id):
                self._require_owner_mfa(s, account_id, mfa, "re-enrol TOTP")
            factor = s.get(TotpFactor, account_id)
            encrypted = self._secret.encrypt("totp-seed", seed)
            if factor is None:
                s.add(
                    TotpFactor(
                        account_id=account_id,
                        seed_encrypted=encrypted,
                        pending_seed_encrypted=encrypted,
                        confirmed_at=None,
                        last_used_step=None,
                        created_at=self._now(),
                    )
                )
            else:
                # The confirmed seed keeps working until the new one is confirmed.
                factor.pending_seed_encrypted = encrypted
            self._audit(s, account_id, "mfa.totp_enroll_started", account_id)
        uri = totp.provisioning_uri(seed, row.email or account_id, self._settings.totp_issuer)
        return TotpEnrollment(
            account_id=account_id, uri=uri, secret_base32=totp.seed_to_base32(seed)
        )

    def _totp_seed(self, encrypted: str) -> bytes:
        return self._secret.decrypt("totp-seed", encrypted)

    def confirm_totp(self, account_id: str, code: str) -> FactorConfirmation:
        """Finish enrolment with the first code from the app. On an account's first factor this
        also issues recovery codes (shown once)."""
        subject = f"mfa:{account_id}"
        codes: list[str] = []
        with self._tx() as s:
            self._guard(s, subject)
            factor = s.get(TotpFactor, account_id)
            self._account(s, account_id)
            if factor is None or factor.pending_seed_encrypted is None:
                raise IdentityError(
                    f"account {account_id}: no TOTP enrolment in progress; start one with "
                    "`distillguard mfa enroll`"
                )
            seed = self._totp_seed(factor.pending_seed_encrypted)
            step = totp.match_totp(seed, _digits(code), self._now().timestamp())
            if step is not None:
                first = not self._has_factor(s, account_id)
                factor.seed_encrypted = factor.pending_seed_encrypted
                factor.pending_seed_encrypted = None
                factor.confirmed_at = self._now()
                factor.last_used_step = step
                if first or not self._has_recovery_codes(s, account_id):
                    codes = self._replace_recovery_codes(s, account_id)
                self._clear_failures(s, subject)
                self._audit(s, account_id, "mfa.totp_confirmed", account_id)
                session = self._issue_mfa(s, account_id, MfaMethod.TOTP)
        if step is None:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: wrong TOTP code")
        return FactorConfirmation(session=session, recovery_codes=tuple(codes))

    def verify_totp(self, account_id: str, code: str) -> MfaSession:
        """Check a TOTP code and open an MFA session.

        Refused: a wrong code, and a code whose time step was already used (a replayed or
        shoulder-surfed code). Both count as failures toward lockout.
        """
        subject = f"mfa:{account_id}"
        problem = ""
        with self._tx() as s:
            self._guard(s, subject)
            self._account(s, account_id)
            factor = s.get(TotpFactor, account_id)
            if factor is None or factor.confirmed_at is None:
                raise IdentityError(
                    f"account {account_id} has no confirmed TOTP factor; enrol with "
                    "`distillguard mfa enroll`"
                )
            seed = self._totp_seed(factor.seed_encrypted)
            step = totp.match_totp(seed, _digits(code), self._now().timestamp())
            if step is None:
                problem = "wrong TOTP code"
            else:
                # Conditional update: two racing requests with the same code cannot both win.
                claimed = _execute(
                    s,
                    update(TotpFactor)
                    .where(TotpFactor.account_id == account_id)
                    .where(
                        (TotpFactor.last_used_step.is_(None)) | (TotpFactor.last_used_step < step)
                    )
                    .values(last_used_step=step)
                    .execution_options(synchronize_session=False),
                )
                if claimed.rowcount != 1:
                    problem = "TOTP code already used; wait for the next code"
                else:
                    self._clear_failures(s, subject)
                    session = self._issue_mfa(s, account_id, MfaMethod.TOTP)
        if problem:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: {problem}")
        return session

    # ---------------------------------------------------------------- recovery codes

    def _has_recovery_codes(self, s: Session, account_id: str) -> bool:
        return (
            s.scalar(
                select(RecoveryCode.id)
                .where(RecoveryCode.account_id == account_id)
                .where(RecoveryCode.used_at.is_(None))
                .limit(1)
            )
            is not None
        )

    def _replace_recovery_codes(self, s: Session, account_id: str) -> list[str]:
        for old in s.scalars(select(RecoveryCode).where(RecoveryCode.account_id == account_id)):
            s.delete(old)
        codes = new_recovery_codes()
        for code in codes:
            s.add(RecoveryCode(account_id=account_id, code_hash=hash_secret(code, self._scrypt)))
        self._audit(s, account_id, "mfa.recovery_codes_issued", account_id, {"count": len(codes)})
        return codes

    def regenerate_recovery_codes(
        self, account_id: str, *, mfa: MfaSession | str | None
    ) -> list[str]:
        """Replace every recovery code (old ones stop working); shown once."""
        with self._tx() as s:
            self._account(s, account_id)
            self._require_owner_mfa(s, account_id, mfa, "regenerate recovery codes")
            return self._replace_recovery_codes(s, account_id)

    def remaining_recovery_codes(self, account_id: str) -> int:
        with self._tx() as s:
            self._account(s, account_id)
            rows = s.scalars(
                select(RecoveryCode.id)
                .where(RecoveryCode.account_id == account_id)
                .where(RecoveryCode.used_at.is_(None))
            ).all()
            return len(rows)

    def use_recovery_code(self, account_id: str, code: str) -> MfaSession:
        """Spend one recovery code (each works once) for an MFA session."""
        subject = f"mfa:{account_id}"
        wanted = normalise_recovery_code(code)
        ok = False
        with self._tx() as s:
            self._guard(s, subject)
            self._account(s, account_id)
            unused = s.scalars(
                select(RecoveryCode)
                .where(RecoveryCode.account_id == account_id)
                .where(RecoveryCode.used_at.is_(None))
            ).all()
            match = next((r for r in unused if verify_secret(wanted, r.code_hash)), None)
            if match is not None:
                spent = _execute(
                    s,
                    update(RecoveryCode)
                    .where(RecoveryCode.id == match.id)
                    .where(RecoveryCode.used_at.is_(None))
                    .values(used_at=self._now())
                    .execution_options(synchronize_session=False),
                )
                ok = spent.rowcount == 1
            if ok:
                self._clear_failures(s, subject)
                self._audit(s, account_id, "mfa.recovery_code_used", account_id)
                session = self._issue_mfa(s, account_id, MfaMethod.RECOVERY_CODE)
        if not ok:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: wrong or already used recovery code")
        return session

    # ---------------------------------------------------------------- WebAuthn

    def _new_webauthn_challenge(self, s: Session, account_id: str, kind: str) -> tuple[str, bytes]:
        challenge_id = secrets.token_urlsafe(16)
        challenge = secrets.token_bytes(32)
        s.add(
            WebAuthnChallenge(
                challenge_id=challenge_id,
                account_id=account_id,
                kind=kind,
                challenge=challenge,
                expires_at=self._now() + timedelta(seconds=_WEBAUTHN_CHALLENGE_TTL_S),
            )
        )
        return challenge_id, challenge

    def _take_webauthn_challenge(
        self, s: Session, account_id: str, challenge_id: str, kind: str
    ) -> bytes:
        row = s.get(WebAuthnChallenge, challenge_id)
        if row is None or row.account_id != account_id or row.kind != kind:
            raise AuthenticationError(
                f"account {account_id}: unknown or already used WebAuthn challenge; start again"
            )
        s.delete(row)  # single use, whatever the outcome
        if row.expires_at <= self._now():
            raise AuthenticationError(
                f"account {account_id}: WebAuthn challenge expired; start again"
            )
        return row.challenge

    def begin_webauthn_registration(
        self, account_id: str, *, mfa: MfaSession | str | None = None
    ) -> tuple[str, str]:
        """Registration options (JSON for ``navigator.credentials.create``) and the challenge
        id to finish with. Adding a factor to an account that has one needs an MFA session."""
        with self._tx() as s:
            row = self._account(s, account_id)
            if self._has_factor(s, account_id):
                self._require_owner_mfa(s, account_id, mfa, "add a security key")
            existing = s.scalars(
                select(WebAuthnCredential.credential_id).where(
                    WebAuthnCredential.account_id == account_id
                )
            ).all()
            challenge_id, challenge = self._new_webauthn_challenge(s, account_id, "register")
            options = passkeys.registration_options(
                self._rp,
                account_id=account_id,
                display_name=row.email or account_id,
                challenge=challenge,
                existing=existing,
            )
        return challenge_id, options

    def finish_webauthn_registration(
        self, account_id: str, challenge_id: str, response_json: str, *, name: str = "security key"
    ) -> FactorConfirmation:
        with self._tx() as s:
            self._account(s, account_id)
            challenge = self._take_webauthn_challenge(s, account_id, challenge_id, "register")
        # The challenge is consumed in its own transaction so a failed attempt cannot reuse it.
        verified = passkeys.verify_registration(
            self._rp, response_json=response_json, challenge=challenge
        )
        codes: list[str] = []
        with self._tx() as s:
            if s.get(WebAuthnCredential, verified.credential_id) is not None:
                raise IdentityError("this security key is already registered")
            first = not self._has_factor(s, account_id)
            s.add(
                WebAuthnCredential(
                    credential_id=verified.credential_id,
                    account_id=account_id,
                    public_key=verified.public_key,
                    sign_count=verified.sign_count,
                    name=name[:128],
                    created_at=self._now(),
                    last_used_at=None,
                )
            )
            if first or not self._has_recovery_codes(s, account_id):
                codes = self._replace_recovery_codes(s, account_id)
            self._audit(s, account_id, "mfa.webauthn_registered", account_id, {"name": name[:128]})
            session = self._issue_mfa(s, account_id, MfaMethod.WEBAUTHN)
        return FactorConfirmation(session=session, recovery_codes=tuple(codes))

    def begin_webauthn_authentication(self, account_id: str) -> tuple[str, str]:
        with self._tx() as s:
            self._account(s, account_id)
            creds = s.scalars(
                select(WebAuthnCredential.credential_id).where(
                    WebAuthnCredential.account_id == account_id
                )
            ).all()
            if not creds:
                raise IdentityError(f"account {account_id} has no registered security key")
            challenge_id, challenge = self._new_webauthn_challenge(s, account_id, "authenticate")
            options = passkeys.authentication_options(self._rp, challenge=challenge, allowed=creds)
        return challenge_id, options

    def verify_webauthn(self, account_id: str, challenge_id: str, response_json: str) -> MfaSession:
        """Check an assertion against the stored key; counts toward lockout on failure."""
        subject = f"mfa:{account_id}"
        with self._tx() as s:
            self._guard(s, subject)
            self._account(s, account_id)
            challenge = self._take_webauthn_challenge(s, account_id, challenge_id, "authenticate")
        try:
            with self._tx() as s:
                cred = s.get(WebAuthnCredential, passkeys.credential_id_of(response_json))
                if cred is None or cred.account_id != account_id:
                    raise AuthenticationError(
                        f"account {account_id}: the security key is not registered to it"
                    )
                new_count = passkeys.verify_authentication(
                    self._rp,
                    response_json=response_json,
                    challenge=challenge,
                    public_key=cred.public_key,
                    sign_count=cred.sign_count,
                )
                cred.sign_count = new_count
                cred.last_used_at = self._now()
                self._clear_failures(s, subject)
                return self._issue_mfa(s, account_id, MfaMethod.WEBAUTHN)
        except AuthenticationError:
            self._record_failure(subject)
            raise

    # ---------------------------------------------------------------- API keys

    def create_key(
        self,
        account_id: str,
        *,
        mfa: MfaSession | str | None,
        name: str = "default",
        scopes: Sequence[str] = (Scope.INFERENCE,),
        expires_in_s: float | None = None,
    ) -> NewKey:
        """Create a key (owner's or an admin's MFA session required). ``raw_key`` on the result
        is the only copy: show it once."""
        scope_set = _check_scopes(scopes)
        if expires_in_s is not None and expires_in_s <= 0:
            raise IdentityError(f"key expiry must be in the future, got {expires_in_s} s")
        with self._tx() as s:
            row = self._account(s, account_id)
            session = self._require_owner_mfa(s, account_id, mfa, "create an API key")
            if row.suspended_at is not None:
                raise IdentityError(f"account {account_id} is suspended; it cannot get new keys")
            self._check_key_quota(s, row)
            raw, parsed = generate_key()
            now = self._now()
            key = ApiKey(
                key_id=parsed.key_id,
                account_id=account_id,
                name=name[:128],
                scopes=" ".join(sorted(scope_set)),
                key_hash=self._secret.keyed_hash("api-key", parsed.secret),
                created_at=now,
                expires_at=now + timedelta(seconds=expires_in_s) if expires_in_s else None,
                revoked_at=None,
                last_used_at=None,
                rotated_from=None,
            )
            s.add(key)
            self._audit(
                s,
                session.account_id,
                "key.create",
                account_id,
                {
                    "key_id": parsed.key_id,
                    "scopes": sorted(scope_set),
                    "expires_in_s": expires_in_s,
                },
            )
            return NewKey(raw_key=raw, info=_key_info(key))

    def _check_key_quota(self, s: Session, row: Account, *, excluding: str | None = None) -> None:
        now = self._now()
        live = [
            k
            for k in s.scalars(select(ApiKey).where(ApiKey.account_id == row.account_id))
            if k.key_id != excluding and _key_info(k).status(now) == "active"
        ]
        limit = _quota(row).max_keys
        if len(live) >= limit:
            raise IdentityError(
                f"account {row.account_id} already has {len(live)} live keys, the most its "
                f"'{row.verification}' tier allows ({limit}); revoke one or verify to a higher tier"
            )

    def rotate_key(
        self, key_id: str, *, mfa: MfaSession | str | None, grace_s: float = 0.0
    ) -> NewKey:
        """A new key with the same account, name, scopes and expiry; the old one is revoked
        after ``grace_s`` seconds (0 = at once) so clients can switch over."""
        with self._tx() as s:
            old = s.get(ApiKey, key_id)
            if old is None:
                raise IdentityError(f"unknown API key {key_id[:32]!r}")
            now = self._now()
            if _key_info(old).status(now) != "active":
                raise IdentityError(
                    f"API key {key_id} is {_key_info(old).status(now)}; create a new key instead"
                )
            session = self._require_owner_mfa(s, old.account_id, mfa, "rotate an API key")
            raw, parsed = generate_key()
            new = ApiKey(
                key_id=parsed.key_id,
                account_id=old.account_id,
                name=old.name,
                scopes=old.scopes,
                key_hash=self._secret.keyed_hash("api-key", parsed.secret),
                created_at=now,
                expires_at=old.expires_at,
                revoked_at=None,
                last_used_at=None,
                rotated_from=old.key_id,
            )
            old.revoked_at = now + timedelta(seconds=max(grace_s, 0.0))
            s.add(new)
            self._audit(
                s,
                session.account_id,
                "key.rotate",
                old.account_id,
                {"old_key_id": old.key_id, "new_key_id": new.key_id, "grace_s": grace_s},
            )
            return NewKey(raw_key=raw, info=_key_info(new))

    def revoke_key(self, key_id: str, *, actor: str = "cli", reason: str = "") -> KeyInfo:
        """Revoke at once: the next :meth:`authenticate_key` call refuses it. A safety action
        (leaked key, incident response), so it needs no MFA; it is audited."""
        with self._tx() as s:
            key = s.get(ApiKey, key_id)
            if key is None:
                raise IdentityError(f"unknown API key {key_id[:32]!r}")
            now = self._now()
            if key.revoked_at is None or key.revoked_at > now:
                key.revoked_at = now
            self._audit(
                s, actor, "key.revoke", key.account_id, {"key_id": key_id, "reason": reason}
            )
            return _key_info(key)

    def get_key(self, key_id: str) -> KeyInfo:
        with self._tx() as s:
            key = s.get(ApiKey, key_id)
            if key is None:
                raise IdentityError(
                    f"unknown API key {key_id[:32]!r}; list keys with `distillguard keys list`"
                )
            return _key_info(key)

    def list_keys(self, account_id: str) -> list[KeyInfo]:
        """Every key of the account (revoked and expired included), with last use."""
        self.flush_last_used()
        with self._tx() as s:
            self._account(s, account_id)
            rows = s.scalars(
                select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.created_at)
            ).all()
            return [_key_info(k) for k in rows]

    def authenticate_key(self, raw_key: str) -> KeyPrincipal:
        """The gateway's per-request check: one primary-key lookup and one HMAC.

        Raises :class:`AuthenticationError` saying whether the key is malformed, unknown,
        revoked or expired, or its account suspended; the key itself is never echoed. Nothing
        is cached, so a revocation applies to the very next request. Last use is recorded in
        memory and written at most every 30 s (and on :meth:`flush_last_used` / close).
        """
        parsed = parse_key(raw_key)
        now = self._now()
        with self._engine.connect() as conn:
            row = conn.execute(_AUTH_QUERY, {"key_id": parsed.key_id}).first()
        if row is None:
            raise AuthenticationError(f"unknown API key {parsed.key_id}")
        presented = self._secret.keyed_hash("api-key", parsed.secret)
        if not secrets.compare_digest(presented, row.key_hash):
            raise AuthenticationError(f"unknown API key {parsed.key_id}")
        if row.revoked_at is not None and row.revoked_at <= now:
            raise AuthenticationError(
                f"API key {parsed.key_id} was revoked at {row.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
            )
        if row.expires_at is not None and row.expires_at <= now:
            raise AuthenticationError(
                f"API key {parsed.key_id} expired at {row.expires_at:%Y-%m-%d %H:%M:%S} UTC; "
                "create a new one with `distillguard keys create`"
            )
        if row.suspended_at is not None:
            raise AuthenticationError(f"account {row.account_id} is suspended")
        self._touch(parsed.key_id, now)
        tier = Verification(row.verification)
        return KeyPrincipal(
            key_id=parsed.key_id,
            account_id=row.account_id,
            org_id=row.org_id,
            tier=tier,
            scopes=frozenset(row.scopes.split()),
            quota=_quota_values(tier, row.rpm, row.tpm),
            expires_at=row.expires_at,
        )

    def _touch(self, key_id: str, now: datetime) -> None:
        with self._last_used_lock:
            self._last_used[key_id] = now
            due = time.monotonic() - self._last_flush >= _LAST_USED_FLUSH_S
        if due:
            self.flush_last_used()

    def flush_last_used(self) -> None:
        """Write the in-memory last-use times (the gateway calls this on shutdown)."""
        with self._last_used_lock:
            pending, self._last_used = self._last_used, {}
            self._last_flush = time.monotonic()
        if not pending:
            return
        with self._engine.begin() as conn:
            for key_id, ts in pending.items():
                conn.execute(
                    update(ApiKey)
                    .where(ApiKey.key_id == key_id)
                    .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < ts))
                    .values(last_used_at=ts)
                )

    # ---------------------------------------------------------------- step-up

    def register_verifier(self, tier: Verification, verifier: Verifier) -> None:
        """Plug in the check for ``tier`` (e.g. ``KycVerifier(MyProvider())`` for documents)."""
        self._verifiers[tier] = verifier

    def start_step_up(self, account_id: str, *, destination: str | None = None) -> Challenge:
        """Open the next tier's check for the account (the gateway's ``challenge`` answer).

        ``destination`` is where a code goes (defaults to the account's email); a new challenge
        replaces any pending one.
        """
        with self._tx() as s:
            row = self._account(s, account_id)
            current = Verification(row.verification)
            email = row.email
        target = next_tier(current)
        if target is None:
            raise IdentityError(f"account {account_id} is already at the highest tier ({current})")
        verifier = self._verifiers.get(target)
        if verifier is None:
            raise IdentityError(
                f"no verifier is configured for the '{target}' tier; register one with "
                "IdentityStore.register_verifier (e.g. a KycVerifier for your document provider)"
            )
        if destination is None and target is Verification.EMAIL:
            destination = email
        if target in (Verification.EMAIL, Verification.PHONE) and not destination:
            what = "an email address" if target is Verification.EMAIL else "a phone number"
            raise IdentityError(f"account {account_id}: step-up to '{target}' needs {what}")
        challenge_id = secrets.token_urlsafe(16)
        request = StepUpRequest(account_id, challenge_id, target, destination)
        # Issued outside a transaction: sending may be slow and, with the outbox sender, writes
        # through its own session.
        issued = verifier.issue(request)
        expires = self._now() + timedelta(seconds=self._settings.step_up_code_ttl_s)
        with self._tx() as s:
            for pending in s.scalars(
                select(StepUpChallenge)
                .where(StepUpChallenge.account_id == account_id)
                .where(StepUpChallenge.completed_at.is_(None))
            ):
                s.delete(pending)
            s.add(
                StepUpChallenge(
                    challenge_id=challenge_id,
                    account_id=account_id,
                    verifier=verifier.name,
                    target_tier=target.value,
                    state=issued.state,
                    destination=destination,
                    created_at=self._now(),
                    expires_at=expires,
                    attempts=0,
                    completed_at=None,
                )
            )
            self._audit(
                s,
                "system",
                "stepup.start",
                account_id,
                {"target": target, "verifier": verifier.name},
            )
        log.info("identity.step_up_started", account_id=account_id, target=str(target))
        return Challenge(
            challenge_id=challenge_id,
            account_id=account_id,
            target_tier=target,
            verifier=verifier.name,
            destination_hint=issued.destination_hint,
            instructions=issued.instructions,
            expires_at=expires,
        )

    def complete_step_up(self, account_id: str, code: str) -> AccountInfo:
        """Check the response to the pending challenge; on success the account moves to the
        target tier and its quotas follow at once."""
        subject = f"stepup:{account_id}"
        problem = ""
        with self._tx() as s:
            self._guard(s, subject)
            row = self._account(s, account_id)
            ch = s.scalars(
                select(StepUpChallenge)
                .where(StepUpChallenge.account_id == account_id)
                .where(StepUpChallenge.completed_at.is_(None))
                .order_by(StepUpChallenge.created_at.desc())
                .limit(1)
            ).first()
            if ch is None:
                raise IdentityError(
                    f"account {account_id} has no pending step-up; start one with "
                    "`distillguard accounts step-up start`"
                )
            if ch.expires_at <= self._now():
                raise IdentityError(
                    f"account {account_id}: the step-up code expired at "
                    f"{ch.expires_at:%H:%M:%S} UTC; start a new one"
                )
            if ch.attempts >= self._settings.step_up_max_attempts:
                raise IdentityError(
                    f"account {account_id}: too many wrong codes for this step-up; start a new one"
                )
            target = Verification(ch.target_tier)
            verifier = self._verifiers.get(target)
            if verifier is None or verifier.name != ch.verifier:
                raise IdentityError(
                    f"the verifier '{ch.verifier}' that issued this step-up is not configured now"
                )
            request = StepUpRequest(account_id, ch.challenge_id, target, ch.destination)
            if verifier.check(request, ch.state, code):
                ch.completed_at = self._now()
                old = Verification(row.verification)
                if tier_rank(target) > tier_rank(old):
                    row.verification = target.value
                self._clear_failures(s, subject)
                self._audit(s, "system", "stepup.complete", account_id, {"from": old, "to": target})
                info = self._info(s, row)
            else:
                ch.attempts += 1
                left = self._settings.step_up_max_attempts - ch.attempts
                problem = f"wrong verification code ({left} attempts left for this challenge)"
        if problem:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: {problem}")
        log.info("identity.step_up_completed", account_id=account_id, tier=str(info.tier))
        return info

    def outbox(self, account_id: str | None = None) -> list[OutboxEntry]:
        """Messages the default sender queued (local development only)."""
        with self._tx() as s:
            q = select(OutboxMessage).order_by(OutboxMessage.id)
            if account_id is not None:
                q = q.where(OutboxMessage.account_id == account_id)
            return [OutboxEntry(r) for r in s.scalars(q)]


# -------------------------------------------------------------------- helpers

_AUTH_QUERY = (
    select(
        ApiKey.key_hash,
        ApiKey.account_id,
        ApiKey.scopes,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        Account.org_id,
        Account.verification,
        Account.suspended_at,
        Account.requests_per_minute_override.label("rpm"),
        Account.tokens_per_minute_override.label("tpm"),
    )
    .join(Account, Account.account_id == ApiKey.account_id)
    .where(ApiKey.key_id == bindparam("key_id"))
)


def _execute(s: Session, statement: Any) -> CursorResult[Any]:
    """Run a DML statement and keep its row count (the typed Session.execute hides it)."""
    return cast(CursorResult[Any], s.execute(statement))


def _digits(code: str) -> str:
    cleaned = "".join(code.split())
    if not cleaned.isdigit() or len(cleaned) != totp.DIGITS:
        raise AuthenticationError(f"a TOTP code is {totp.DIGITS} digits")
    return cleaned


def _check_scopes(scopes: Sequence[str]) -> frozenset[str]:
    valid = {s.value for s in Scope}
    bad = [s for s in scopes if s not in valid]
    if bad or not scopes:
        raise IdentityError(
            f"unknown scope(s) {bad or '(none given)'}; valid scopes: {', '.join(sorted(valid))}"
        )
    return frozenset(scopes)


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


def _key_info(k: ApiKey) -> KeyInfo:
    return KeyInfo(
        key_id=k.key_id,
        account_id=k.account_id,
        name=k.name,
        scopes=tuple(k.scopes.split()),
        created_at=k.created_at,
        expires_at=k.expires_at,
        revoked_at=k.revoked_at,
        last_used_at=k.last_used_at,
        rotated_from=k.rotated_from,
    )


def _entry(r: AuditEntry) -> audit_log.AuditLogEntry:
    return audit_log.AuditLogEntry(
        seq=r.seq,
        ts=r.ts,
        actor=r.actor,
        action=r.action,
        target=r.target,
        details=r.details,
        prev_hash=r.prev_hash,
        entry_hash=r.entry_hash,
    )


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if parsed.database not in (None, "", ":memory:"):
                # WAL lets readers (the gateway) run while a writer commits.
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return engine
