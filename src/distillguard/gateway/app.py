"""The gateway as one pure ASGI application.

Per request, in order: route → API key (identity) → body (size limit, JSON) → enforcement list →
rate limits (account and cluster, per verification tier) → content signals → policy → upstream
(streamed or whole, degraded when the policy says so) → response with the action header →
event to the log and state update, after the response has gone out.

Everything that can be decided once (routes, header bytes, thresholds, limits per tier) is
decided in ``__init__``; the request path only looks things up. Nothing is logged per request;
refusals and failures are counted in ``/metrics`` and every request leaves one event.
"""

from __future__ import annotations

import hmac
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import structlog

from distillguard.detect.behaviour.detectors import identity_risk_of
from distillguard.detect.online import account_keys, link_hash, sibling_keys
from distillguard.errors import (
    AuthenticationError,
    ConfigError,
    StateStoreError,
    StoreError,
    UpstreamError,
    UpstreamTimeout,
)
from distillguard.events.records import Action, Endpoint
from distillguard.gateway.auth import Authenticator
from distillguard.gateway.detection import Detection
from distillguard.gateway.eventlog import EventSink
from distillguard.gateway.metrics import GatewayMetrics
from distillguard.gateway.online_worker import (
    NO_SCORE,
    AccountContext,
    OnlineWorker,
    decode_score,
)
from distillguard.gateway.responses import JSON_HEADERS, error_body
from distillguard.gateway.sse import StreamTally
from distillguard.gateway.state import StateBackend, Usage
from distillguard.gateway.upstream import UpstreamPool, UpstreamResponse
from distillguard.identity.models import KeyPrincipal
from distillguard.respond.degrade import degrade_probs, degrade_request, degrade_response
from distillguard.respond.enforcement import EMPTY_ENFORCEMENT, EnforcementList
from distillguard.respond.policy import Decision, Policy, Signals
from distillguard.settings import GatewaySettings, PolicySettings

__all__ = ["GatewayApp", "Reloaded"]

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _identity_risk(principal: KeyPrincipal, now: float) -> float | None:
    """The audit's identity risk of the key's account at ``now`` (None without a creation
    time): whether the policy lets content on its own act (``content_identity_at``)."""
    created = principal.account_created_at
    if created is None:
        return None
    age = np.array([(now - created.timestamp()) / 86_400.0])
    return float(identity_risk_of(age, [str(principal.tier)], [principal.plan])[0])


@dataclass(frozen=True, slots=True)
class Reloaded:
    """What an admin reload produced: a new policy and enforcement list."""

    policy: PolicySettings
    enforcement: EnforcementList


_PROXIED: Mapping[str, tuple[Endpoint, str]] = {
    "/v1/chat/completions": (Endpoint.CHAT, "/chat/completions"),
    "/v1/completions": (Endpoint.COMPLETIONS, "/completions"),
    "/v1/embeddings": (Endpoint.EMBEDDINGS, "/embeddings"),
    "/v1/predict": (Endpoint.PREDICT, "/predict"),
}
_FINGERPRINT_HEADER = b"x-client-fingerprint"
_MAX_LINK_CACHE = 100_000


def _online_context(principal: KeyPrincipal, known_good: bool) -> AccountContext:
    """What the scorer seeds the account's state with, and its sibling keys (none for a
    known-good account: it neither marks its siblings nor takes their prior)."""
    created = principal.account_created_at
    created_t = created.timestamp() if created is not None else None
    siblings = (
        ()
        if known_good
        else sibling_keys(
            account_keys(
                principal.org_id,
                principal.payment_fingerprint,
                principal.signup_ip,
                principal.signup_fingerprint,
                created_t,
            )
        )
    )
    return (created_t, principal.plan, principal.country, siblings)


_CONTENT_KEYS = frozenset({"messages", "prompt", "input", "features", "model"})
_TEXT_ENDPOINTS = (Endpoint.CHAT, Endpoint.COMPLETIONS)


class _Refusal(Exception):
    """A request the gateway answers itself (status, OpenAI error body, extra headers)."""

    def __init__(
        self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or []


def _bad_request(message: str, param: str | None = None) -> _Refusal:
    return _Refusal(400, error_body(message, "invalid_request_error", "invalid_request", param))


def _rfc3339(t: float) -> str:
    ms = int((t % 1) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{ms:03d}Z"


def _header_value(text: str) -> bytes:
    # Header values must be latin-1 and single-line; reasons come from our own code and the
    # audit's file, so replace anything else rather than fail the response.
    return text.replace("\r", " ").replace("\n", " ").encode("latin-1", "replace")[:1024]


def _chat_text(messages: list[Any]) -> str:
    parts: list[str] = []
    for m in messages:
        if m.get("role") == "assistant":
            continue
        content = m.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(
                p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
    return "\n".join(parts)


class GatewayApp:
    """ASGI app; build it with :func:`distillguard.gateway.server.build_app`."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        authenticator: Authenticator,
        upstream: UpstreamPool,
        state: StateBackend,
        detection: Detection,
        sink: EventSink | None = None,
        enforcement: EnforcementList = EMPTY_ENFORCEMENT,
        reloader: Callable[[], Reloaded] | None = None,
        metrics: GatewayMetrics | None = None,
        online: OnlineWorker | None = None,
    ) -> None:
        self.settings = settings
        self.auth = authenticator
        self.upstream = upstream
        self.state = state
        self.detection = detection
        self.sink = sink
        self.enforcement = enforcement
        self.reloader = reloader
        self.metrics = metrics or GatewayMetrics()
        self.online = online if settings.detection else None
        self.policy = Policy(settings.policy)
        self.metrics.enforcement_accounts.set(len(enforcement.accounts))
        self._window_scale = settings.window_s / 60.0
        self._max_body = settings.max_body_bytes
        self._action_header = (
            settings.action_header.lower().encode("latin-1") if settings.action_header else None
        )
        self._admin_token = (settings.admin_token or "").encode()
        self._fail_closed = settings.fail_mode == "closed"
        self._state_ok = True
        self._identity_ok = True
        self._rid_prefix = os.urandom(6).hex() + "-"
        self._rid = 0
        self._rng = random.Random()
        self._detect = settings.detection
        self._content_inline = settings.detection and (
            settings.content_inline or self.online is None
        )
        self._log_content = settings.log_content
        # account id -> (the principal they were computed from, its record's link hashes)
        self._account_links: dict[str, tuple[KeyPrincipal, tuple[str, ...]]] = {}
        self._predict_dim: int | None = None
        self._use_predict_reference(enforcement)

    def _use_predict_reference(self, enforcement: EnforcementList) -> None:
        """Hand the list's predict reference to the online scorer (once per load, not per
        request) and remember its length: only predict inputs of that length travel to it."""
        ref = enforcement.predict_reference
        self._predict_dim = int(ref.median.shape[0]) if ref is not None else None
        if self.online is not None:
            self.online.set_predict_reference(ref)

    # ---- ASGI entry -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            route = _PROXIED.get(path)
            if route is not None and scope["method"] == "POST":
                await self._guarded(self._proxy(scope, receive, send, route[0], route[1]), send)
            elif path == "/v1/models" and scope["method"] == "GET":
                await self._guarded(self._models(scope, send), send)
            elif path == "/healthz":
                await self._healthz(send)
            elif path == "/metrics":
                await self._metrics(send)
            elif path == "/admin/reload" and scope["method"] == "POST":
                await self._reload(scope, send)
            else:
                await self._send(
                    send,
                    404,
                    error_body(f"no route for {scope['method']} {path}", "not_found", "not_found"),
                )
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.sink is not None:
                    self.sink.start()
                if self.online is not None:
                    self.online.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        """Flush the event log and close connections; in-flight requests have finished."""
        if self.online is not None:
            await self.online.aclose()
        if self.sink is not None:
            self.sink.close()
        await self.upstream.aclose()
        await self.state.aclose()
        # The identity store batches keys' last-use times; closing it writes them out.
        close_auth = getattr(self.auth, "close", None)
        if callable(close_auth):
            close_auth()

    async def _guarded(self, work: Awaitable[bool], send: Send) -> None:
        # ``work`` returns whether it started a response; an unexpected failure after that point
        # can only end the connection, before it the client gets a 500 in the OpenAI format.
        try:
            await work
        except Exception:
            log.exception("gateway.request.failed")
            try:
                await self._send(
                    send,
                    500,
                    error_body("the gateway failed on this request", "server_error", "internal"),
                )
            except Exception:
                log.debug("gateway.request.failed_after_start")

    @staticmethod
    async def _send(
        send: Send,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [*(headers or JSON_HEADERS), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # ---- per-request steps ------------------------------------------------------------------

    def _authenticate(self, raw: bytes | None) -> KeyPrincipal:
        if raw is None:
            raise _Refusal(
                401,
                error_body(
                    "missing API key: send 'Authorization: Bearer <key>'",
                    "invalid_request_error",
                    "missing_api_key",
                ),
            )
        text = raw.decode("latin-1")
        scheme, _, key = text.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise _Refusal(
                401,
                error_body(
                    "malformed Authorization header: expected 'Bearer <key>'",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
            )
        try:
            principal = self.auth.authenticate_key(key.strip())
        except AuthenticationError as exc:
            raise _Refusal(
                401, error_body(str(exc), "invalid_request_error", "invalid_api_key")
            ) from None
        except StoreError as exc:
            # Keys cannot be checked: refuse (a key check never fails open); keys checked in
            # the last gateway.auth_cache_s still pass from the cache.
            self.metrics.state_errors.inc()
            if self._identity_ok:
                self._identity_ok = False
                log.error(
                    "gateway.identity.down",
                    error=str(exc),
                    consequence="requests with unchecked keys get 503",
                )
            raise _Refusal(
                503,
                error_body(
                    "the gateway cannot check API keys right now; retry shortly",
                    "server_error",
                    "identity_unavailable",
                ),
            ) from None
        if not self._identity_ok:
            self._identity_ok = True
            log.warning("gateway.identity.up")
        return principal

    async def _read_body(self, receive: Receive, content_length: bytes | None) -> bytes:
        limit = self._max_body
        if content_length is not None and content_length.isdigit() and int(content_length) > limit:
            raise self._too_large()
        message = await receive()
        body = message.get("body", b"")
        if not message.get("more_body", False):
            if len(body) > limit:
                raise self._too_large()
            return bytes(body)
        parts = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refusal(400, error_body("client went away", "invalid_request_error", "gone"))
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self._too_large()
            parts.append(chunk)
        return b"".join(parts)

    def _too_large(self) -> _Refusal:
        return _Refusal(
            413,
            error_body(
                f"request body larger than {self._max_body} bytes (gateway.max_body_bytes)",
                "invalid_request_error",
                "request_too_large",
            ),
        )

    @staticmethod
    def _parse(body: bytes, endpoint: Endpoint) -> dict[str, Any]:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _bad_request(f"request body is not valid JSON ({exc.msg} at {exc.pos})") from None
        if not isinstance(doc, dict):
            raise _bad_request("request body must be a JSON object")
        model = doc.get("model")
        if endpoint is not Endpoint.PREDICT and (not isinstance(model, str) or not model):
            raise _bad_request("'model' is required and must be a string", "model")
        if endpoint is Endpoint.CHAT:
            msgs = doc.get("messages")
            if (
                not isinstance(msgs, list)
                or not msgs
                or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in msgs)
            ):
                raise _bad_request(
                    "'messages' must be a non-empty list of {role, content} objects", "messages"
                )
        elif endpoint is Endpoint.COMPLETIONS:
            prompt = doc.get("prompt")
            if not isinstance(prompt, str | list):
                raise _bad_request("'prompt' is required (a string or list of strings)", "prompt")
        elif endpoint is Endpoint.EMBEDDINGS:
            if "input" not in doc:
                raise _bad_request("'input' is required", "input")
        elif endpoint is Endpoint.PREDICT:
            feats = doc.get("features")
            if (
                not isinstance(feats, list)
                or not feats
                or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in feats)
            ):
                raise _bad_request("'features' must be a non-empty list of numbers", "features")
        return doc

    def _limits(
        self,
        usage: Usage,
        principal: KeyPrincipal,
        factor: float,
        cluster_id: str | None,
        now: float,
    ) -> tuple[float | None, str | None]:
        q = principal.quota
        scale = self._window_scale * factor
        window = self.settings.window_s
        retry = max(usage.window_ends_at - now, 0.0)
        req_limit = q.requests_per_minute * scale
        if usage.requests > req_limit:
            return retry, f"limit: {usage.requests - 1}/{req_limit:g} requests per {window}s"
        tok_limit = q.tokens_per_minute * scale
        if usage.tokens >= tok_limit:
            return retry, f"limit: {usage.tokens}/{tok_limit:g} tokens per {window}s"
        if usage.tokens_day >= q.tokens_per_day * factor:
            day_left = 86_400 - now % 86_400
            return day_left, f"limit: {usage.tokens_day} tokens today (tier {principal.tier})"
        if cluster_id is not None:
            c = self.settings.policy.cluster_quota_factor
            if usage.cluster_requests > req_limit * c:
                return (
                    retry,
                    f"limit: cluster {cluster_id} at {usage.cluster_requests - 1} requests",
                )
            if usage.cluster_tokens >= tok_limit * c:
                return retry, f"limit: cluster {cluster_id} at {usage.cluster_tokens} tokens"
        return None, None

    def _state_failed(self, exc: StateStoreError) -> None:
        self.metrics.state_errors.inc()
        if self._state_ok:
            self._state_ok = False
            log.error(
                "gateway.state.down",
                error=str(exc),
                fail_mode=self.settings.fail_mode,
                consequence="requests refused with 503"
                if self._fail_closed
                else "requests pass without limits or behaviour scores",
            )

    def _state_back(self) -> None:
        if not self._state_ok:
            self._state_ok = True
            log.warning("gateway.state.up")

    # ---- the proxy --------------------------------------------------------------------------

    async def _proxy(
        self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint, upstream_path: str
    ) -> bool:
        t0 = time.perf_counter()
        now = time.time()
        auth = ua = xff = clen = fp_header = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                auth = v
            elif k == b"content-length":
                clen = v
            elif k == b"user-agent":
                ua = v
            elif k == b"x-forwarded-for":
                xff = v
            elif k == _FINGERPRINT_HEADER:
                fp_header = v
        try:
            principal = self._authenticate(auth)
            if not principal.allows(endpoint):
                raise _Refusal(
                    403,
                    error_body(
                        f"this API key is not allowed to call {endpoint}",
                        "permission_error",
                        "insufficient_scope",
                    ),
                )
            body = await self._read_body(receive, clen)
            doc = self._parse(body, endpoint)
        except _Refusal as r:
            self.metrics.count(str(endpoint), "refused", r.status)
            await self._send(send, r.status, r.body, JSON_HEADERS + r.headers)
            return True

        self._rid += 1
        request_id = f"{self._rid_prefix}{self._rid:x}"
        if xff is not None and self.settings.trust_forwarded_for:
            client_ip = xff.decode("latin-1").split(",")[0].strip()
        else:
            client = scope.get("client")
            client_ip = client[0] if client else "0.0.0.0"
        # The client (TLS/device) fingerprint comes from the edge that computed it, so only
        # when that edge is trusted, as X-Forwarded-For.
        client_fp = (
            fp_header.decode("latin-1").strip() or None
            if fp_header is not None and self.settings.trust_forwarded_for
            else None
        )
        account_id = principal.account_id

        # Signals for the policy.
        enforcement = self.enforcement
        known_good = bool(enforcement.known_good_accounts or enforcement.known_good_orgs) and (
            enforcement.is_known_good(account_id, principal.org_id)
        )
        entry = enforcement.lookup(account_id)
        if entry is None and enforcement.links:
            entry = enforcement.linked(self._link_hashes(principal, client_fp))
        cluster_id = entry.cluster_id if entry is not None else None
        factor = self.policy.quota_factor(entry, known_good)
        retry: float | None = None
        limit_reason: str | None = None
        online = self.online
        view = NO_SCORE
        state_ok = True
        try:
            usage = await self.state.begin(account_id, cluster_id, now)
        except StateStoreError as exc:
            self._state_failed(exc)
            state_ok = False
            if self._fail_closed:
                decision = Decision(Action.BLOCK, ("state store unavailable (fail-closed)",))
                status = 503
                out = error_body(
                    "the gateway cannot check rate limits right now; retry shortly",
                    "server_error",
                    "state_unavailable",
                )
                await self._send(send, status, out, self._with_action(JSON_HEADERS, decision))
                self._finish_event(
                    request_id, now, t0, principal, endpoint, doc, client_ip, ua,
                    status, decision, None, None, 0.0,
                )  # fmt: skip
                return True
        else:
            if not self._state_ok:
                self._state_back()
            retry, limit_reason = self._limits(usage, principal, factor, cluster_id, now)
            if online is not None:
                view = (
                    decode_score(usage.online, now)
                    if usage.online
                    else online.view(account_id, now)
                )

        text: str | None = None
        if endpoint is Endpoint.CHAT:
            text = _chat_text(doc["messages"])
        elif endpoint is Endpoint.COMPLETIONS:
            p = doc["prompt"]
            text = p if isinstance(p, str) else "\n".join(x for x in p if isinstance(x, str))
        # Inline: the content model judges this very request. Otherwise the scorer process
        # scores the prompt after the fact and a hot one degrades the account's next requests.
        content = self.detection.content_scores(text) if self._content_inline else None

        decision = self.policy.decide(
            Signals(
                tier=principal.tier,
                known_good=known_good,
                enforcement=entry,
                online_score=view[0],
                online_reasons=view[1],
                held_content=view[2],
                content=content,
                retry_after_s=retry,
                limit_reason=limit_reason,
                signup_risk=principal.signup_risk,
                identity_risk=_identity_risk(principal, now)
                if content or view[2] is not None
                else None,
            )
        )
        action = decision.action
        upstream_s = 0.0
        result: _Outcome
        if action is Action.THROTTLE:
            seconds = max(1, math.ceil(decision.retry_after_s or 1.0))
            status = 429
            await self._send(
                send,
                status,
                error_body(
                    f"rate limit reached for this account; retry after {seconds} s",
                    "rate_limit_error",
                    "rate_limit_exceeded",
                ),
                self._with_action(
                    JSON_HEADERS + [(b"retry-after", str(seconds).encode())], decision
                ),
            )
            result = _Outcome(status)
        elif action is Action.CHALLENGE:
            status = 403
            await self._send(
                send,
                status,
                error_body(
                    "step-up verification required: this account must verify its identity "
                    f"beyond tier '{principal.tier}' before making more requests; complete it "
                    f"in the account console and retry (request {request_id})",
                    "permission_error",
                    "step_up_required",
                ),
                self._with_action(JSON_HEADERS, decision),
            )
            result = _Outcome(status)
        elif action is Action.BLOCK:
            status = 403
            await self._send(
                send,
                status,
                error_body(
                    "requests from this account are blocked pending review; contact support "
                    f"and quote request {request_id}",
                    "permission_error",
                    "account_blocked",
                ),
                self._with_action(JSON_HEADERS, decision),
            )
            result = _Outcome(status)
        else:
            degrade = action is Action.DEGRADE
            hide_reasoning = degrade or not principal.quota.reasoning_visible
            out_body = body
            if degrade and endpoint in _TEXT_ENDPOINTS:
                out_body = orjson.dumps(degrade_request(doc, self.settings.policy.max_tokens_cap))
            t_up = time.perf_counter()
            result = await self._forward(
                send,
                endpoint,
                upstream_path,
                out_body,
                stream=doc.get("stream") is True and endpoint in _TEXT_ENDPOINTS,
                hide_reasoning=hide_reasoning,
                degrade_probs_=degrade and endpoint is Endpoint.PREDICT,
                decision=decision,
            )
            upstream_s = result.upstream_s or (time.perf_counter() - t_up)
        self._finish_event(
            request_id, now, t0, principal, endpoint, doc, client_ip, ua,
            result.status, decision, result, text, upstream_s, client_fp,
        )  # fmt: skip
        tokens = (result.prompt_tokens or 0) + (result.completion_tokens or 0)
        if online is not None:
            obs: dict[str, Any] = {
                "ts": now,
                "endpoint": str(endpoint),
                "model": str(doc.get("model") or "default"),
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "content": content,
                "text": text,
                "client_ip": client_ip,
                "asn": None,
                "params": {k: v for k, v in doc.items() if k not in _CONTENT_KEYS},
                "client_fingerprint": client_fp,
            }
            if endpoint is Endpoint.PREDICT:
                # The input vector as the event log records it (the validated ``features``),
                # judged in the scorer against the enforcement list's predict reference; a
                # vector of another length (another model's) is not judged, so not sent.
                # Without a reference every one is sent: the scorer judges against the range
                # of the inputs it has seen so far (``prada.RunningReference``).
                feats = doc["features"]
                if self._predict_dim is None or len(feats) == self._predict_dim:
                    obs["features"] = feats
            online.submit(
                account_id, str(principal.tier), obs, _online_context(principal, known_good)
            )
        if state_ok and tokens:
            try:
                await self.state.finish(account_id, cluster_id, now, tokens)
            except StateStoreError as exc:
                self._state_failed(exc)
        return True

    def _link_hashes(self, principal: KeyPrincipal, client_fp: str | None) -> list[str]:
        """Link hashes of the account's record (computed once per principal the auth cache
        hands out, so a few times a second for a busy account) and of this request's device."""
        hit = self._account_links.get(principal.account_id)
        if hit is None or hit[0] is not principal:
            created = principal.account_created_at
            keys = account_keys(
                principal.org_id,
                principal.payment_fingerprint,
                principal.signup_ip,
                principal.signup_fingerprint,
                created.timestamp() if created is not None else None,
            )
            if len(self._account_links) >= _MAX_LINK_CACHE:
                self._account_links.clear()
            hit = (principal, tuple(link_hash(k) for k in keys))
            self._account_links[principal.account_id] = hit
        hashes = list(hit[1])
        if client_fp is not None:
            hashes.append(link_hash(("device", client_fp)))
        return hashes

    def _with_action(
        self, headers: list[tuple[bytes, bytes]], decision: Decision
    ) -> list[tuple[bytes, bytes]]:
        if self._action_header is None:
            return headers
        value = str(decision.action)
        if decision.reasons:
            value += "; " + " | ".join(decision.reasons)
        return [*headers, (self._action_header, _header_value(value))]

    async def _forward(
        self,
        send: Send,
        endpoint: Endpoint,
        path: str,
        body: bytes,
        *,
        stream: bool,
        hide_reasoning: bool,
        degrade_probs_: bool,
        decision: Decision,
    ) -> _Outcome:
        t_up = time.perf_counter()
        try:
            resp = await self.upstream.request(
                "POST", path, body, accept=b"text/event-stream" if stream else None
            )
        except UpstreamTimeout as exc:
            self.metrics.upstream_errors.labels("timeout").inc()
            return await self._upstream_failed(send, 504, str(exc), decision)
        except UpstreamError as exc:
            self.metrics.upstream_errors.labels("connect").inc()
            return await self._upstream_failed(send, 502, str(exc), decision)
        ctype = resp.header(b"content-type") or b"application/json"
        if stream and resp.status == 200 and ctype.startswith(b"text/event-stream"):
            return await self._stream(send, resp, ctype, hide_reasoning, decision, t_up)
        try:
            data = await resp.read()
        except UpstreamTimeout as exc:
            self.metrics.upstream_errors.labels("timeout").inc()
            return await self._upstream_failed(send, 504, str(exc), decision)
        except UpstreamError as exc:
            self.metrics.upstream_errors.labels("broken").inc()
            return await self._upstream_failed(send, 502, str(exc), decision)
        upstream_s = time.perf_counter() - t_up
        outcome = _Outcome(resp.status, upstream_s)
        status = resp.status
        if 200 <= status < 300 and ctype.startswith(b"application/json"):
            try:
                doc = orjson.loads(data)
            except orjson.JSONDecodeError:
                doc = None
            if isinstance(doc, dict):
                changed = False
                if hide_reasoning and "choices" in doc:
                    doc = degrade_response(doc)
                    changed = True
                if endpoint is Endpoint.PREDICT:
                    probs = doc.get("probabilities")
                    if isinstance(probs, list) and all(isinstance(p, int | float) for p in probs):
                        if degrade_probs_:
                            p = self.settings.policy
                            probs = degrade_probs(probs, p.prob_decimals, p.prob_noise, self._rng)
                            doc = {**doc, "probabilities": probs}
                            changed = True
                        outcome.probs = [float(x) for x in probs]
                _read_usage(doc, outcome)
                if changed:
                    data = orjson.dumps(doc)
        elif not 200 <= status < 300:
            if not _is_openai_error(data):
                self.metrics.upstream_errors.labels("status").inc()
                return await self._upstream_failed(
                    send, 502, f"upstream answered HTTP {status} without an error body", decision
                )
        await self._send(
            send, status, data, self._with_action([(b"content-type", ctype)], decision)
        )
        return outcome

    async def _stream(
        self,
        send: Send,
        resp: UpstreamResponse,
        ctype: bytes,
        hide_reasoning: bool,
        decision: Decision,
        t_up: float,
    ) -> _Outcome:
        tally = StreamTally(degrade_response if hide_reasoning else None)
        headers = self._with_action(
            [(b"content-type", ctype), (b"cache-control", b"no-cache")], decision
        )
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        outcome = _Outcome(200)
        try:
            async for chunk in resp.iter_chunks():
                out = tally.feed(chunk)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            rest = tally.flush()
        except UpstreamError:
            self.metrics.upstream_errors.labels("broken").inc()
            outcome.note = "upstream stream ended early"
            rest = b""
        except OSError:
            # The client went away: stop reading the upstream, keep what we saw for the event.
            resp.aclose()
            outcome.note = "client disconnected"
            rest = b""
        await send({"type": "http.response.body", "body": rest, "more_body": False})
        outcome.upstream_s = time.perf_counter() - t_up
        outcome.text = tally.text
        outcome.prompt_tokens = tally.prompt_tokens
        outcome.completion_tokens = tally.completion_tokens
        if outcome.completion_tokens is None and outcome.text:
            # No usage chunk (the client did not ask for include_usage): estimate as the
            # tokenisers of the common models do on English, about four characters a token.
            outcome.completion_tokens = max(1, len(outcome.text) // 4)
        return outcome

    async def _upstream_failed(
        self, send: Send, status: int, message: str, decision: Decision
    ) -> _Outcome:
        await self._send(
            send,
            status,
            error_body(message, "upstream_error", "upstream_unavailable"),
            self._with_action(JSON_HEADERS, decision),
        )
        return _Outcome(status, note=message)

    def _finish_event(
        self,
        request_id: str,
        now: float,
        t0: float,
        principal: KeyPrincipal,
        endpoint: Endpoint,
        doc: dict[str, Any],
        client_ip: str,
        ua: bytes | None,
        status: int,
        decision: Decision,
        result: _Outcome | None,
        text: str | None,
        upstream_s: float,
        client_fp: str | None = None,
    ) -> None:
        elapsed = time.perf_counter() - t0
        self.metrics.overhead.observe(max(elapsed - upstream_s, 0.0))
        self.metrics.count(str(endpoint), str(decision.action), status)
        if self.sink is None:
            return
        keep = self._log_content
        prompt = doc.get("prompt") if endpoint is Endpoint.COMPLETIONS else None
        if endpoint is Endpoint.EMBEDDINGS and isinstance(doc.get("input"), str):
            prompt = doc["input"]
        if endpoint is Endpoint.COMPLETIONS and isinstance(prompt, list):
            prompt = text
        messages = None
        if endpoint is Endpoint.CHAT:
            messages = (
                [
                    {
                        "role": str(m.get("role")),
                        "content": m["content"] if isinstance(m.get("content"), str) else "",
                    }
                    for m in doc["messages"]
                ]
                if keep
                else []
            )
        params = {k: v for k, v in doc.items() if k not in _CONTENT_KEYS}
        reasons = list(decision.reasons)
        if result is not None and result.note:
            reasons.append(result.note)
        self.sink.submit(
            {
                "request_id": request_id,
                "ts": _rfc3339(now),
                "account_id": principal.account_id,
                "api_key_id": principal.key_id,
                "org_id": principal.org_id,
                "endpoint": str(endpoint),
                "model": str(doc.get("model") or "default"),
                "client_ip": client_ip,
                "user_agent": ua.decode("latin-1") if ua is not None else None,
                "client_fingerprint": client_fp,
                "messages": messages,
                "prompt": prompt if keep else None,
                "features": doc.get("features") if endpoint is Endpoint.PREDICT else None,
                "params": params or None,
                "response_text": result.text if result is not None and keep else None,
                "response_probs": result.probs if result is not None else None,
                "prompt_tokens": result.prompt_tokens if result is not None else None,
                "completion_tokens": result.completion_tokens if result is not None else None,
                "status": status,
                "latency_ms": round(elapsed * 1000.0, 3),
                "action": str(decision.action),
                "action_reasons": reasons or None,
            }
        )

    # ---- other routes -----------------------------------------------------------------------

    async def _models(self, scope: Scope, send: Send) -> bool:
        auth = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        try:
            self._authenticate(auth)
        except _Refusal as r:
            await self._send(send, r.status, r.body)
            return True
        try:
            resp = await self.upstream.request("GET", "/models")
            data = await resp.read()
        except UpstreamTimeout as exc:
            await self._send(send, 504, error_body(str(exc), "upstream_error", "upstream_timeout"))
            return True
        except UpstreamError as exc:
            await self._send(
                send, 502, error_body(str(exc), "upstream_error", "upstream_unavailable")
            )
            return True
        ctype = resp.header(b"content-type") or b"application/json"
        await self._send(send, resp.status, data, [(b"content-type", ctype)])
        return True

    async def _healthz(self, send: Send) -> None:
        state_ok = await self.state.ping()
        healthy = state_ok or not self._fail_closed
        doc = {
            "status": "ok" if healthy else "degraded",
            "state_store": "up" if state_ok else "down",
            "fail_mode": self.settings.fail_mode,
            "detection": self.detection.pieces if self._detect else [],
            "events_pending": self.sink.pending if self.sink is not None else 0,
            "enforcement_accounts": len(self.enforcement.accounts),
            "enforcement_generated_at": self.enforcement.generated_at,
            "predict_reference_features": self._predict_dim,
        }
        await self._send(send, 200 if healthy else 503, orjson.dumps(doc))

    async def _metrics(self, send: Send) -> None:
        if self.sink is not None:
            self.metrics.events_pending.set(self.sink.pending)
            self.metrics.events_written.set(self.sink.written)
        if self.online is not None:
            self.metrics.online_pending.set(self.online.pending)
            self.metrics.online_dropped.set(self.online.dropped)
        await self._send(
            send,
            200,
            self.metrics.render(),
            [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")],
        )

    async def _reload(self, scope: Scope, send: Send) -> None:
        if not self._admin_token:
            await self._send(
                send,
                404,
                error_body(
                    "admin endpoints are off: set gateway.admin_token to enable them",
                    "not_found",
                    "admin_disabled",
                ),
            )
            return
        auth = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if not hmac.compare_digest(auth, b"Bearer " + self._admin_token):
            await self._send(
                send, 401, error_body("bad admin token", "invalid_request_error", "invalid_token")
            )
            return
        if self.reloader is None:
            await self._send(
                send, 409, error_body("nothing to reload", "invalid_request_error", "no_reloader")
            )
            return
        try:
            fresh = self.reloader()
        except ConfigError as exc:
            # Keep serving with what is loaded: a bad file must not open or close the door.
            self.metrics.reloads.labels("refused").inc()
            log.error("gateway.reload.refused", error=str(exc))
            await self._send(send, 400, error_body(str(exc), "invalid_request_error", "bad_config"))
            return
        self.policy = Policy(fresh.policy)
        self.enforcement = fresh.enforcement
        self._use_predict_reference(fresh.enforcement)
        self.metrics.enforcement_accounts.set(len(fresh.enforcement.accounts))
        self.metrics.reloads.labels("ok").inc()
        log.info(
            "gateway.reload.ok",
            enforcement_accounts=len(fresh.enforcement.accounts),
            clusters=len(fresh.enforcement.clusters),
        )
        await self._send(
            send,
            200,
            orjson.dumps(
                {
                    "reloaded": True,
                    "enforcement_accounts": len(fresh.enforcement.accounts),
                    "clusters": len(fresh.enforcement.clusters),
                    "generated_at": fresh.enforcement.generated_at,
                    "predict_reference_features": self._predict_dim,
                }
            ),
        )


@dataclass(slots=True)
class _Outcome:
    """What came back from the upstream, for the event and the token count."""

    status: int
    upstream_s: float = 0.0
    text: str | None = None
    probs: list[float] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    note: str | None = None


def _read_usage(doc: dict[str, Any], outcome: _Outcome) -> None:
    usage = doc.get("usage")
    if isinstance(usage, dict):
        pt, ct = usage.get("prompt_tokens"), usage.get("completion_tokens")
        outcome.prompt_tokens = pt if isinstance(pt, int) else None
        outcome.completion_tokens = ct if isinstance(ct, int) else None
    choices = doc.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        msg = first.get("message")
        text = msg.get("content") if isinstance(msg, dict) else first.get("text")
        if isinstance(text, str):
            outcome.text = text


def _is_openai_error(data: bytes) -> bool:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and isinstance(doc.get("error"), dict | str)
