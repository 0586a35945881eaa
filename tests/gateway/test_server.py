"""The assembled gateway: real identity store, real Redis, real processes and signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import structlog

from distillguard.gateway.detection import Detection
from distillguard.gateway.server import build_app
from distillguard.gateway.state import RedisState
from distillguard.settings import load_settings
from tests.gateway.conftest import ScriptedContent
from tests.gateway.fixtures import FakeUpstream, free_port, provision_keys, serve_in_thread
from tests.gateway.test_app import CHAT, SPEC_CHECK, auth, chat, fresh_window, read_events

REDIS_URL = "redis://127.0.0.1:6379/0"


def _settings(tmp_path: Path, upstream_url: str, **gateway: object):
    db = f"sqlite:///{tmp_path / 'identity.sqlite'}"
    return load_settings(
        overrides={
            "identity": {"database_url": db},
            "gateway": {
                "upstream_url": upstream_url + "/v1",
                "event_log": tmp_path / "events.jsonl.gz",
                **gateway,
            },
        }
    )


def test_real_identity_store_keys(tmp_path: Path, upstream: tuple[str, FakeUpstream]) -> None:
    url, _ = upstream
    settings = _settings(tmp_path, url, auth_cache_s=0.0)
    keys = provision_keys(settings.identity.database_url, {"acct-1": "email"}, org_id="org-a")
    app = build_app(settings, detection=Detection(content=ScriptedContent()))
    with serve_in_thread(app) as gw:
        r = httpx.post(gw + CHAT, json=chat(), headers=auth(keys["acct-1"]))
        assert r.status_code == 200
        bad = keys["acct-1"][:-3] + "AAA"
        r = httpx.post(gw + CHAT, json=chat(), headers=auth(bad))
        assert r.status_code == 401 and "unknown API key" in r.json()["error"]["message"]
        r = httpx.post(gw + CHAT, json=chat(), headers=auth("not-a-key"))
        assert r.status_code == 401 and keys["acct-1"] not in r.text
        key_id = app.auth.authenticate_key(keys["acct-1"]).key_id
        app.auth.revoke_key(key_id)  # type: ignore[attr-defined]
        r = httpx.post(gw + CHAT, json=chat(), headers=auth(keys["acct-1"]))
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    [ev] = read_events(tmp_path / "events.jsonl.gz")
    assert ev["account_id"] == "acct-1" and ev["org_id"] == "org-a" and ev["api_key_id"] == key_id
    # The store batches last-use times in memory; the gateway's shutdown must write them out.
    from distillguard.identity.store import IdentityStore

    reopened = IdentityStore.open(settings.identity.database_url, settings=settings)
    try:
        [info] = [k for k in reopened.list_keys("acct-1") if k.key_id == key_id]
        assert info.last_used_at is not None
    finally:
        reopened.close()


@contextmanager
def gateway_process(
    tmp_path: Path, name: str, upstream_url: str, **gateway: object
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    events = tmp_path / f"events-{name}.jsonl.gz"
    lines = [
        "[identity]",
        f'database_url = "sqlite:///{tmp_path / "identity.sqlite"}"',
        "[gateway]",
        f'upstream_url = "{upstream_url}/v1"',
        f"port = {port}",
        f'event_log = "{events}"',
        "event_flush_s = 5.0",  # long: the flush on SIGTERM must do the work
        # Content model and scorer process are covered in-process; these tests are about
        # signals, the event log and shared limits, and must not depend on model files.
        "detection = false",
    ]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in gateway.items()]
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text("\n".join(lines) + "\n")
    log = (tmp_path / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "distillguard.cli", "serve", "--config", str(cfg)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DISTILLGUARD_ENV": "local"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / f"{name}.log").read_text())
            time.sleep(0.1)
        yield url, proc, events
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_sigterm_flushes_every_event(tmp_path: Path, upstream: tuple[str, FakeUpstream]) -> None:
    url, fake = upstream
    seen = sum(1 for _, d in fake.requests if d.get("model") == "delay")
    keys = provision_keys(f"sqlite:///{tmp_path / 'identity.sqlite'}", {"acct-s": "organization"})
    key = keys["acct-s"]
    with gateway_process(tmp_path, "a", url) as (gw, proc, events):
        done = [
            httpx.post(gw + CHAT, json=chat(), headers=auth(key)).status_code for _ in range(30)
        ]
        with ThreadPoolExecutor(8) as pool:
            slow = [
                pool.submit(
                    httpx.post, gw + CHAT, json=chat(model="delay"), headers=auth(key), timeout=10
                )
                for _ in range(8)
            ]
            # Wait until all eight are in flight at the upstream, then stop the gateway.
            deadline = time.monotonic() + 20
            while sum(1 for _, d in fake.requests if d.get("model") == "delay") < seen + 8:
                assert time.monotonic() < deadline, "requests never reached the upstream"
                time.sleep(0.01)
            proc.send_signal(signal.SIGTERM)
            late = [f.result().status_code for f in slow]
        # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit says "terminated".
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert done == [200] * 30 and late == [200] * 8
    evs = read_events(events)
    assert len(evs) == 38 and len({e["request_id"] for e in evs}) == 38
    check = subprocess.run(
        [sys.executable, str(SPEC_CHECK), "events", str(events)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_share_one_limit_through_redis(
    tmp_path: Path, upstream: tuple[str, FakeUpstream]
) -> None:
    url, _ = upstream
    keys = provision_keys(f"sqlite:///{tmp_path / 'identity.sqlite'}", {"acct-r": "none"})
    key = keys["acct-r"]  # tier none: 10 requests per minute
    prefix = f"dgtest:{uuid.uuid4().hex}:"
    with (
        gateway_process(tmp_path, "a", url, redis_url=REDIS_URL, redis_prefix=prefix) as (a, _, _),
        gateway_process(tmp_path, "b", url, redis_url=REDIS_URL, redis_prefix=prefix) as (b, _, _),
    ):
        fresh_window()
        codes = [
            httpx.post((a, b)[i % 2] + CHAT, json=chat(), headers=auth(key)).status_code
            for i in range(16)
        ]
    # Alone, each process would let 10 through (20 in all); together they stop at 10.
    assert codes.count(200) == 10 and codes[10:] == [429] * 6


@pytest.mark.redis
def test_redis_down_follows_fail_mode(tmp_path: Path, upstream: tuple[str, FakeUpstream]) -> None:
    url, _ = upstream
    keys = provision_keys(f"sqlite:///{tmp_path / 'identity.sqlite'}", {"acct-f": "email"})
    dead = f"redis://127.0.0.1:{free_port()}/0"
    for mode, expected in (("open", 200), ("closed", 503)):
        settings = _settings(tmp_path, url, redis_url=dead, fail_mode=mode)
        app = build_app(settings, detection=Detection(content=ScriptedContent()))
        with structlog.testing.capture_logs() as logs, serve_in_thread(app) as gw:
            codes = [
                httpx.post(gw + CHAT, json=chat(), headers=auth(keys["acct-f"])).status_code
                for _ in range(3)
            ]
            health = httpx.get(gw + "/healthz")
        assert codes == [expected] * 3
        downs = [e for e in logs if e["event"] == "gateway.state.down"]
        assert len(downs) == 1 and downs[0]["fail_mode"] == mode  # said once, not per request
        assert health.json()["state_store"] == "down"
        assert health.status_code == (200 if mode == "open" else 503)


@pytest.mark.redis
def test_redis_state_counts_and_reads_the_online_score() -> None:
    import asyncio

    import orjson
    import redis

    from distillguard.gateway.online_worker import score_key

    prefix = f"dgtest:{uuid.uuid4().hex}:"

    async def run() -> None:
        st = RedisState(REDIS_URL, 60, prefix=prefix)
        try:
            u1 = await st.begin("a", "c", 1000.0)
            await st.finish("a", "c", 1000.0, 40)
            redis.Redis.from_url(REDIS_URL).set(score_key(prefix, "a"), orjson.dumps([0.7, ["x"]]))
            u2 = await st.begin("a", "c", 1001.0)
            u3 = await st.begin("b", "c", 1001.0)
            assert (u1.requests, u1.tokens, u1.online) == (1, 0, None)
            assert (u2.requests, u2.tokens, u2.tokens_day) == (2, 40, 40)
            assert u2.online is not None and orjson.loads(u2.online) == [0.7, ["x"]]
            assert (u3.requests, u3.cluster_requests, u3.cluster_tokens) == (1, 3, 40)
            nxt = await st.begin("a", None, 1060.0)  # next window
            assert (nxt.requests, nxt.tokens, nxt.tokens_day) == (1, 0, 40)
        finally:
            await st.aclose()

    asyncio.run(run())
