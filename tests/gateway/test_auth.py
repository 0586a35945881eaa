from __future__ import annotations

import time

import pytest

from distillguard.errors import AuthenticationError
from distillguard.gateway.auth import CachedAuthenticator
from tests.gateway.conftest import Keys


class Counting(Keys):
    calls = 0

    def authenticate_key(self, raw_key: str):
        self.calls += 1
        return super().authenticate_key(raw_key)


def test_cache_reuses_answers_and_revocation_applies_within_ttl() -> None:
    keys = Counting()
    key = keys.add("sk-1", "acct")
    auth = CachedAuthenticator(keys, ttl_s=0.2)
    assert auth.authenticate_key(key).account_id == "acct"
    auth.authenticate_key(key)
    assert keys.calls == 1
    keys.revoked.add(key)
    time.sleep(0.25)
    with pytest.raises(AuthenticationError, match="revoked"):
        auth.authenticate_key(key)


def test_failures_are_not_cached_and_ttl_zero_asks_every_time() -> None:
    keys = Counting()
    auth = CachedAuthenticator(keys, ttl_s=0.2)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            auth.authenticate_key("sk-unknown")
    assert keys.calls == 2
    keys.add("sk-unknown", "acct")
    assert auth.authenticate_key("sk-unknown").account_id == "acct"
    off = CachedAuthenticator(keys, ttl_s=0.0)
    off.authenticate_key("sk-unknown")
    off.authenticate_key("sk-unknown")
    assert keys.calls == 5
