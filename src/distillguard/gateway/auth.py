"""API-key authentication for the gateway: the identity store behind a very short cache.

``IdentityStore.authenticate_key`` is one database round trip per call (about 150 µs through
SQLAlchemy on SQLite), a large share of the per-request budget. The gateway keeps each
successful answer for ``ttl_s`` (default 0.25 s, ``gateway.auth_cache_s``): a busy key is looked
up a few times a second instead of on every request, and a revoked or expired key, or a
suspended account, is refused at most ``ttl_s`` after the change. ``ttl_s=0`` turns the cache
off (every request asks the store). Failures are never cached, and the cache is keyed by a hash
of the key, so no raw key is kept.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Protocol

from distillguard.errors import AuthenticationError
from distillguard.identity.models import KeyPrincipal

__all__ = ["Authenticator", "CachedAuthenticator"]

_MAX_ENTRIES = 100_000


class Authenticator(Protocol):
    """What the gateway needs from identity: ``IdentityStore.authenticate_key``."""

    def authenticate_key(self, raw_key: str) -> KeyPrincipal: ...


class CachedAuthenticator:
    """Wraps an :class:`Authenticator`; same contract, answers reused for ``ttl_s`` seconds."""

    def __init__(self, inner: Authenticator, ttl_s: float = 0.25) -> None:
        self.inner = inner
        self.ttl_s = ttl_s
        self._cache: dict[bytes, tuple[float, KeyPrincipal]] = {}

    def authenticate_key(self, raw_key: str) -> KeyPrincipal:
        if self.ttl_s <= 0:
            return self.inner.authenticate_key(raw_key)
        digest = hashlib.blake2b(raw_key.encode("utf-8", "replace"), digest_size=16).digest()
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            principal = hit[1]
            if principal.expires_at is None or principal.expires_at > datetime.now(UTC):
                return principal
            self._cache.pop(digest, None)
            raise AuthenticationError(f"API key {principal.key_id} expired")
        principal = self.inner.authenticate_key(raw_key)
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()
        self._cache[digest] = (now + self.ttl_s, principal)
        return principal

    def close(self) -> None:
        """Close the wrapped store, which flushes the keys' last-use times it batches."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def __getattr__(self, name: str) -> object:
        # Operations other than authentication (revoke_key, …) go to the store itself.
        return getattr(self.inner, name)
