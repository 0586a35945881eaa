"""Accounts, organisations, tiers, limits, passwords and the admin audit log."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillguard.errors import IdentityError
from distillguard.events.records import Verification
from distillguard.identity import audit_log
from distillguard.identity.models import AccountInfo, MfaSession
from distillguard.identity.passwords import check_password_strength, hash_secret, verify_secret
from distillguard.identity.signup_risk import SignupRisk, network_key, score_signups
from distillguard.identity.store_base import StoreBase, _check_id, _quota
from distillguard.identity.tables import (
    Account,
    AuditEntry,
    AuditHead,
    Organization,
    PasswordHistory,
)
from distillguard.identity.tiers import TierQuota, tier_rank

__all__ = ["AccountsMixin"]

_PASSWORD_HISTORY = 5
# How far back a new sign-up is compared with others: bursts are an hour/day phenomenon (the
# scorer's windows are 1 h and 1 d), and the window bounds the per-sign-up scan.
SIGNUP_RISK_WINDOW = timedelta(days=7)


class AccountsMixin(StoreBase):
    """Account and audit-log operations of :class:`IdentityStore`."""

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
        """Create an unverified account (tier ``none``), scoring its sign-up risk causally:
        against the sign-ups of the last :data:`SIGNUP_RISK_WINDOW` up to and including it.

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
            s.flush()
            risk = _score_signup(s, row)
            if risk is not None:
                row.signup_risk = risk.score
                row.signup_risk_reasons = "\n".join(risk.reasons) or None
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


_SIGNUP_COLUMNS = (
    Account.account_id,
    Account.org_id,
    Account.email_domain,
    Account.created_at,
    Account.country,
    Account.payment_fingerprint,
    Account.signup_ip,
    Account.signup_fingerprint,
)


def _score_signup(s: Session, new: Account) -> SignupRisk | None:
    """``new``'s sign-up risk over the window's sign-ups made up to its own (``new`` flushed).

    Only the sign-ups sharing a value with ``new`` (domain, /24 or /48, device, card) can move
    its score, so only those are scored, with the window's size as the population (the
    scorer's "common value" cut): the same score as over the whole window, at the cost of one
    indexed range scan. A domain already seen before the window is not "fresh".
    """
    now: datetime = new.created_at
    since = now - SIGNUP_RISK_WINDOW
    rows = s.execute(
        select(*_SIGNUP_COLUMNS).where(Account.created_at >= since, Account.created_at <= now)
    ).all()
    net = network_key(new.signup_ip) if new.signup_ip else None
    shared = [
        r._asdict()
        for r in rows
        if r.account_id == new.account_id
        or (new.email_domain is not None and r.email_domain == new.email_domain)
        or (net is not None and r.signup_ip is not None and network_key(r.signup_ip) == net)
        or (new.signup_fingerprint is not None and r.signup_fingerprint == new.signup_fingerprint)
        or (
            new.payment_fingerprint is not None and r.payment_fingerprint == new.payment_fingerprint
        )
    ]
    known: list[str] = []
    if new.email_domain is not None:
        older = s.scalar(
            select(Account.account_id)
            .where(Account.email_domain == new.email_domain, Account.created_at < since)
            .limit(1)
        )
        if older is not None:
            known.append(new.email_domain)
    return score_signups(shared, known_domains=known, population_size=len(rows)).get(new.account_id)


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
