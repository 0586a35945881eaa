"""A small OpenAI-compatible upstream (streaming included) with a real scikit-learn model
behind ``/predict``, and helpers to run ASGI apps on an ephemeral 127.0.0.1 port in a thread.

The upstream's behaviour is chosen by the request's ``model``:
``slow`` sleeps past any sane timeout, ``broken`` answers 500 with an HTML body, ``refuse``
answers 400 with an OpenAI error body, ``reasoner`` returns reasoning and log-probabilities,
anything else echoes a short answer with usage.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import orjson
import uvicorn
from sklearn.linear_model import LogisticRegression

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


def train_predict_model() -> LogisticRegression:
    """Three classes over four features, trained on a fixed-seed sample."""
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0, 0, 0], [3, 3, 0, 0], [0, 3, 3, 3]], dtype=float)
    x = np.vstack([rng.normal(c, 1.0, size=(60, 4)) for c in centers])
    y = np.repeat(np.arange(3), 60)
    return LogisticRegression(max_iter=500).fit(x, y)


class FakeUpstream:
    """Pure ASGI app speaking the OpenAI API subset the gateway proxies."""

    def __init__(self) -> None:
        self.model = train_predict_model()
        self.requests: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while True:
                    msg = await receive()
                    await send({"type": msg["type"] + ".complete"})
                    if msg["type"] == "lifespan.shutdown":
                        return
            return
        body = b""
        more = True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        path = scope["path"]
        if scope["method"] == "GET" and path.endswith("/models"):
            return await _json(send, 200, {"object": "list", "data": [{"id": "tiny"}]})
        doc = orjson.loads(body) if body else {}
        self.requests.append((path, doc))
        model = doc.get("model")
        if model == "slow":
            await asyncio.sleep(30)
        if model == "delay":
            await asyncio.sleep(1.0)
        if model == "broken":
            return await _raw(send, 500, b"<html>oops</html>", b"text/html")
        if model == "refuse":
            return await _json(
                send,
                400,
                {"error": {"message": "no", "type": "invalid_request_error", "code": "x"}},
            )
        if path.endswith("/predict"):
            probs = self.model.predict_proba(np.asarray([doc["features"]], dtype=float))[0]
            return await _json(send, 200, {"probabilities": [float(p) for p in probs]})
        if path.endswith("/embeddings"):
            return await _json(
                send,
                200,
                {"data": [{"embedding": [0.1, 0.2], "index": 0}], "usage": {"prompt_tokens": 3}},
            )
        words = ["Hello", " there", ",", " friend", "."]
        reasoning = model == "reasoner"
        if doc.get("stream"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            for w in words:
                delta: dict[str, Any] = {"content": w}
                if reasoning:
                    delta["reasoning_content"] = "think " + w
                chunk = {"choices": [{"index": 0, "delta": delta}]}
                if reasoning:
                    chunk["choices"][0]["logprobs"] = {"content": [{"token": w, "logprob": -0.1}]}
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: " + orjson.dumps(chunk) + b"\n\n",
                        "more_body": True,
                    }
                )
                await asyncio.sleep(0.005)
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
            return None
        text = "".join(words)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": "stop"}
        if reasoning:
            message["reasoning_content"] = "step 1, step 2"
            choice["logprobs"] = {"content": [{"token": "Hello", "logprob": -0.2}]}
        if path.endswith("/completions") and "messages" not in doc:
            choice = {"index": 0, "text": text, "finish_reason": "stop"}
        return await _json(
            send,
            200,
            {
                "id": "cmpl-1",
                "object": "chat.completion",
                "model": model,
                "choices": [choice],
                "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
                "echo_max_tokens": doc.get("max_tokens"),
                "echo_logprobs": doc.get("logprobs"),
            },
        )


async def _json(send: Any, status: int, doc: Any) -> None:
    await _raw(send, status, orjson.dumps(doc), b"application/json")


async def _raw(send: Any, status: int, body: bytes, ctype: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", ctype)]}
    )
    await send({"type": "http.response.body", "body": body})


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with free_socket() as s:
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: ASGI, *, lifespan: Literal["on", "off"] = "on") -> Iterator[str]:
    """Run ``app`` under uvicorn (uvloop + httptools, like production) in a daemon thread;
    yields its base URL and shuts it down (lifespan included) on exit."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan=lifespan,
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def provision_keys(
    database_url: str, accounts: dict[str, str], *, org_id: str | None = None
) -> dict[str, str]:
    """Create accounts at the given tiers in a real identity store and one API key each, the
    way an operator does (admin with TOTP, admin's MFA session); returns raw keys by account."""
    import time as _time

    from distillguard.events.records import Verification
    from distillguard.identity import totp
    from distillguard.identity.store import IdentityStore
    from distillguard.settings import load_settings

    settings = load_settings(overrides={"identity": {"database_url": database_url}})
    keys: dict[str, str] = {}
    with IdentityStore.open(database_url, settings=settings) as store:
        store.create_account("root", email="root@example.com", admin=True)
        enrolment = store.enroll_totp("root")
        seed = totp.seed_from_base32(enrolment.secret_base32)
        session = store.confirm_totp("root", totp.totp(seed, _time.time())).session
        if org_id is not None:
            store.create_org(org_id)
        for account_id, tier in accounts.items():
            store.create_account(account_id, email=f"{account_id}@example.com", org_id=org_id)
            if tier != "none":
                store.set_tier(account_id, Verification(tier), mfa=session)
            keys[account_id] = store.create_key(account_id, mfa=session).raw_key
    return keys
