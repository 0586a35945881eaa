"""Shared per-account state of the gateway: rate-limit counters and online detection state.

Two backends with one interface. :class:`MemoryState` keeps everything in the process (the
default: one gateway process). :class:`RedisState` keeps it in Redis so that several gateway
processes enforce one account's limits together and see one behaviour history.

Each request makes two calls. ``begin`` (before the upstream call) counts the request in the
account's and cluster's current window and returns the usage so far (in Redis mode also the
account's latest behaviour score, which the online scorer process writes there); ``finish``
(after the response went out, off the client's latency) adds the tokens used. In Redis each call
is one round trip (a Lua script).

Windows are fixed (``window_s``, aligned to the epoch) for requests and tokens, plus a day window
for tokens. The counters are exact across processes (atomic increments in one script).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog

from distillguard.errors import StateStoreError
from distillguard.gateway.online_worker import score_key

__all__ = ["MemoryState", "RedisState", "StateBackend", "Usage"]

log = structlog.get_logger(__name__)

_DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Usage:
    """Counts in the current windows, this request included; ``online`` is the account's latest
    behaviour score as stored in Redis (``None`` in process, or for a new account)."""

    requests: int
    tokens: int
    tokens_day: int
    cluster_requests: int
    cluster_tokens: int
    window_ends_at: float
    online: bytes | None


class StateBackend(Protocol):
    async def begin(self, account_id: str, cluster_id: str | None, now: float) -> Usage: ...

    async def finish(
        self, account_id: str, cluster_id: str | None, now: float, tokens: int
    ) -> None: ...

    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...


class MemoryState:
    """In-process state. Old windows are dropped when a new one starts."""

    def __init__(self, window_s: int) -> None:
        self.window_s = window_s
        self._window = -1
        self._day = -1
        self._counts: dict[str, list[int]] = {}
        self._day_tokens: dict[str, int] = {}

    def _roll(self, now: float) -> int:
        w = int(now // self.window_s)
        if w != self._window:
            self._window = w
            self._counts = {}
        d = int(now // _DAY_S)
        if d != self._day:
            self._day = d
            self._day_tokens = {}
        return w

    async def begin(self, account_id: str, cluster_id: str | None, now: float) -> Usage:
        w = self._roll(now)
        acc = self._counts.get(account_id)
        if acc is None:
            acc = self._counts[account_id] = [0, 0]
        acc[0] += 1
        cr = ct = 0
        if cluster_id is not None:
            key = "\x00c:" + cluster_id
            c = self._counts.get(key)
            if c is None:
                c = self._counts[key] = [0, 0]
            c[0] += 1
            cr, ct = c
        return Usage(
            acc[0],
            acc[1],
            self._day_tokens.get(account_id, 0),
            cr,
            ct,
            (w + 1) * self.window_s,
            None,
        )

    async def finish(
        self, account_id: str, cluster_id: str | None, now: float, tokens: int
    ) -> None:
        self._roll(now)
        if tokens:
            acc = self._counts.setdefault(account_id, [0, 0])
            acc[1] += tokens
            self._day_tokens[account_id] = self._day_tokens.get(account_id, 0) + tokens
            if cluster_id is not None:
                self._counts.setdefault("\x00c:" + cluster_id, [0, 0])[1] += tokens

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


# KEYS: account window hash, cluster window hash (or ""), account day key, online score key.
# ARGV: window ttl seconds.
_BEGIN = """
local r = redis.call('HINCRBY', KEYS[1], 'r', 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
local t = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local cr, ct = 0, 0
if KEYS[2] ~= '' then
  cr = redis.call('HINCRBY', KEYS[2], 'r', 1)
  redis.call('EXPIRE', KEYS[2], ARGV[1])
  ct = tonumber(redis.call('HGET', KEYS[2], 't') or '0')
end
local td = tonumber(redis.call('GET', KEYS[3]) or '0')
local s = redis.call('GET', KEYS[4])
return {r, t, td, cr, ct, s}
"""

# KEYS as above (the fourth unused). ARGV: window ttl, tokens.
_FINISH = """
local n = tonumber(ARGV[2])
redis.call('HINCRBY', KEYS[1], 't', n)
redis.call('EXPIRE', KEYS[1], ARGV[1])
if KEYS[2] ~= '' then
  redis.call('HINCRBY', KEYS[2], 't', n)
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
redis.call('INCRBY', KEYS[3], n)
redis.call('EXPIRE', KEYS[3], 90000)
return 1
"""


class RedisState:
    """State in Redis (``redis_url``); every call raises :class:`StateStoreError` when Redis
    does not answer within ``timeout_s``, and the gateway decides what that means."""

    def __init__(
        self,
        url: str,
        window_s: int,
        *,
        timeout_s: float = 0.05,
        prefix: str = "dg:",
    ) -> None:
        import redis.asyncio as aioredis

        self.window_s = window_s
        self.prefix = prefix
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
            decode_responses=False,
            max_connections=512,
        )
        self._begin = self._redis.register_script(_BEGIN)
        self._finish = self._redis.register_script(_FINISH)

    def _keys(self, account_id: str, cluster_id: str | None, now: float) -> tuple[list[str], int]:
        w = int(now // self.window_s)
        p = self.prefix
        return [
            f"{p}w:{w}:a:{account_id}",
            f"{p}w:{w}:c:{cluster_id}" if cluster_id is not None else "",
            f"{p}d:{int(now // _DAY_S)}:a:{account_id}",
            score_key(p, account_id),
        ], w

    async def begin(self, account_id: str, cluster_id: str | None, now: float) -> Usage:
        keys, w = self._keys(account_id, cluster_id, now)
        try:
            r, t, td, cr, ct, s = await self._begin(keys=keys, args=[self.window_s * 2])
        except Exception as exc:  # redis raises many kinds (timeouts, connection, OS)
            raise StateStoreError(f"redis: {type(exc).__name__}") from exc
        return Usage(int(r), int(t), int(td), int(cr), int(ct), (w + 1) * self.window_s, s or None)

    async def finish(
        self, account_id: str, cluster_id: str | None, now: float, tokens: int
    ) -> None:
        keys, _ = self._keys(account_id, cluster_id, now)
        try:
            await self._finish(keys=keys, args=[self.window_s * 2, int(tokens)])
        except Exception as exc:
            raise StateStoreError(f"redis: {type(exc).__name__}") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()
