"""Assemble the gateway from settings and run it under uvicorn.

:func:`build_app` wires the parts (identity, upstream pool, state backend, detection, event log,
enforcement list) and is what tests and embedders call; :func:`serve` runs it with uvloop and
httptools, one process. uvicorn turns SIGTERM and SIGINT into a graceful shutdown: it stops
accepting, lets in-flight requests finish, then runs the app's lifespan shutdown, which drains
the event log to disk.
"""

from __future__ import annotations

import gc
import sys
import tomllib
from pathlib import Path
from typing import Any

import structlog

from distillguard.errors import ConfigError
from distillguard.gateway.app import GatewayApp, Reloaded
from distillguard.gateway.auth import Authenticator, CachedAuthenticator
from distillguard.gateway.detection import Detection, load_detection
from distillguard.gateway.eventlog import EventSink, resolve_event_path
from distillguard.gateway.online_worker import OnlineWorker
from distillguard.gateway.state import MemoryState, RedisState, StateBackend
from distillguard.gateway.upstream import UpstreamPool
from distillguard.respond.enforcement import EMPTY_ENFORCEMENT, EnforcementList, parse_enforcement
from distillguard.settings import PolicySettings, Settings

__all__ = ["build_app", "load_enforcement", "make_reloader", "serve"]

log = structlog.get_logger(__name__)


def load_enforcement(path: Path | None) -> EnforcementList:
    """Read the audit's ``enforcement.json``; no path means an empty list."""
    if path is None:
        return EMPTY_ENFORCEMENT
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: enforcement list not found; run 'distillguard audit' to write one or "
            "unset gateway.enforcement_path"
        ) from exc
    enforcement = parse_enforcement(raw, str(path))
    for note in enforcement.notes:
        log.warning("gateway.enforcement.skipped", note=note)
    return enforcement


def _policy_from_file(config_file: Path | None, fallback: PolicySettings) -> PolicySettings:
    if config_file is None:
        return fallback
    try:
        doc: dict[str, Any] = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{config_file}: cannot re-read the settings file ({exc})") from exc
    section = doc.get("gateway", {}).get("policy")
    if section is None:
        return fallback
    try:
        return PolicySettings(**section)
    except ValueError as exc:
        raise ConfigError(f"{config_file}: [gateway.policy] is invalid ({exc})") from exc


def make_reloader(settings: Settings, config_file: Path | None) -> Any:
    """The admin reload: the policy from ``[gateway.policy]`` of the settings file and the
    enforcement list from its path, both read afresh; an error leaves the running ones in place."""

    def reload() -> Reloaded:
        policy = _policy_from_file(config_file, settings.gateway.policy)
        return Reloaded(policy, load_enforcement(settings.gateway.enforcement_path))

    return reload


def build_app(
    settings: Settings,
    *,
    config_file: Path | None = None,
    authenticator: Authenticator | None = None,
    detection: Detection | None = None,
    state: StateBackend | None = None,
) -> GatewayApp:
    """Wire the gateway from ``settings``; parts passed in replace the ones it would build."""
    g = settings.gateway
    upstream = UpstreamPool(
        g.upstream_url,
        max_connections=g.upstream_max_connections,
        connect_timeout_s=g.upstream_connect_timeout_s,
        read_timeout_s=g.upstream_timeout_s,
        api_key=g.upstream_api_key,
    )
    if authenticator is None:
        from distillguard.identity.store import IdentityStore

        authenticator = CachedAuthenticator(
            IdentityStore.open(settings.identity.database_url, settings=settings), g.auth_cache_s
        )
    if state is None:
        state = (
            RedisState(g.redis_url, g.window_s, timeout_s=g.redis_timeout_s, prefix=g.redis_prefix)
            if g.redis_url
            else MemoryState(g.window_s)
        )
    sink = EventSink(
        resolve_event_path(g.event_log), batch_size=g.event_batch_size, flush_s=g.event_flush_s
    )
    detection = detection if detection is not None else load_detection(g.detection)
    online = (
        OnlineWorker(
            redis_url=g.redis_url,
            prefix=g.redis_prefix,
            score_content=detection.content is not None and not g.content_inline,
            content_hot_at=g.policy.content_degrade_at,
            content_hot_signals=g.policy.content_degrade_signals,
            content_hold_s=g.policy.content_hold_s,
        )
        if g.detection and detection.online
        else None
    )
    return GatewayApp(
        g,
        authenticator=authenticator,
        upstream=upstream,
        state=state,
        detection=detection,
        online=online,
        sink=sink,
        enforcement=load_enforcement(g.enforcement_path),
        reloader=make_reloader(settings, config_file),
    )


def serve(settings: Settings, *, config_file: Path | None = None) -> None:
    """Run the gateway in this process until SIGTERM/SIGINT; events are flushed on the way out."""
    import uvicorn

    app = build_app(settings, config_file=config_file)
    g = settings.gateway
    log.info(
        "gateway.start",
        host=g.host,
        port=g.port,
        upstream=g.upstream_url,
        state="redis" if g.redis_url else "memory",
        fail_mode=g.fail_mode,
        events=str(app.sink.path) if app.sink is not None else None,
        detection=app.detection.pieces if g.detection else "off",
    )
    config = uvicorn.Config(
        app,
        host=g.host,
        port=g.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=30,
        backlog=4096,
    )
    # Everything built so far lives as long as the process: move it out of the collector's
    # sight, so that a collection walks only per-request garbage (shorter pauses, better p99).
    gc.collect()
    gc.freeze()
    # The event writer thread shares the GIL with the event loop; a shorter switch interval
    # (default 5 ms) bounds how long a request can wait for it when that thread holds it.
    sys.setswitchinterval(0.0005)
    uvicorn.Server(config).run()
