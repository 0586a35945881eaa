"""API keys: create, rotate, revoke, list, and the gateway's per-request check."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from distillguard.errors import AuthenticationError, IdentityError, StoreError
from distillguard.events.records import Verification
from distillguard.identity.keys import generate_key, parse_key
from distillguard.identity.models import KeyInfo, KeyPrincipal, MfaSession, NewKey, Scope
from distillguard.identity.store_base import StoreBase, _quota, _quota_values
from distillguard.identity.tables import Account, ApiKey

__all__ = ["KeysMixin"]

log = structlog.get_logger(__name__)

_LAST_USED_FLUSH_S = 30.0


class KeysMixin(StoreBase):
    """API-key operations of :class:`IdentityStore`."""

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
        row = self._lookup_key(parsed.key_id)
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
            account_created_at=row.account_created_at,
            plan=row.plan,
            country=row.country,
            payment_fingerprint=row.payment_fingerprint,
            signup_ip=row.signup_ip,
            signup_fingerprint=row.signup_fingerprint,
            signup_risk=row.signup_risk,
        )

    def _lookup_key(self, key_id: str) -> Any:
        """The key's row, retrying once on a connection the server had dropped. A database that
        is down raises :class:`StoreError`, which the gateway maps to its fail-open/closed rule."""
        for attempt in (1, 2):
            try:
                with self._read_engine.connect() as conn:
                    return conn.execute(_AUTH_QUERY, {"key_id": key_id}).first()
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    continue
                raise StoreError(
                    f"identity database unavailable while checking API key {key_id} "
                    f"({type(exc.orig).__name__}); check the database server"
                ) from exc
        return None

    def _touch(self, key_id: str, now: datetime) -> None:
        with self._last_used_lock:
            self._last_used[key_id] = now
            due = time.monotonic() - self._last_flush >= _LAST_USED_FLUSH_S
            if due:
                self._last_flush = time.monotonic()
        if due:
            # Off the request path: a write may wait for a database lock.
            thread = threading.Thread(target=self._flush_quietly, daemon=True)
            self._flush_threads.append(thread)
            thread.start()

    def _join_flushes(self, timeout_s: float = 10.0) -> None:
        """Wait for background last-use writes (on close, so none outlives the engine)."""
        while self._flush_threads:
            self._flush_threads.pop().join(timeout_s)

    def _flush_quietly(self) -> None:
        try:
            self.flush_last_used()
        except SQLAlchemyError as exc:
            log.warning("identity.last_used_flush_failed", error=type(exc).__name__)

    def flush_last_used(self) -> None:
        """Write the in-memory last-use times (the gateway calls this, or ``close``, on
        shutdown). On failure the times are kept for the next flush."""
        with self._flush_lock:
            with self._last_used_lock:
                pending, self._last_used = self._last_used, {}
                self._last_flush = time.monotonic()
            if not pending:
                return
            try:
                with self._engine.begin() as conn:
                    for key_id, ts in pending.items():
                        conn.execute(
                            update(ApiKey)
                            .where(ApiKey.key_id == key_id)
                            .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < ts))
                            .values(last_used_at=ts)
                        )
            except SQLAlchemyError:
                with self._last_used_lock:
                    for key_id, ts in pending.items():
                        self._last_used.setdefault(key_id, ts)
                raise


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
        Account.created_at.label("account_created_at"),
        Account.plan,
        Account.country,
        Account.payment_fingerprint,
        Account.signup_ip,
        Account.signup_fingerprint,
        Account.signup_risk,
    )
    .join(Account, Account.account_id == ApiKey.account_id)
    .where(ApiKey.key_id == bindparam("key_id"))
)


def _check_scopes(scopes: Sequence[str]) -> frozenset[str]:
    valid = {s.value for s in Scope}
    bad = [s for s in scopes if s not in valid]
    if bad or not scopes:
        raise IdentityError(
            f"unknown scope(s) {bad or '(none given)'}; valid scopes: {', '.join(sorted(valid))}"
        )
    return frozenset(scopes)


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
