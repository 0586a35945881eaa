"""Gateway test fixtures: the fake upstream, keys, and a gateway factory over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from distillguard.errors import AuthenticationError
from distillguard.events.records import Verification
from distillguard.gateway.app import GatewayApp
from distillguard.gateway.detection import Detection
from distillguard.gateway.eventlog import EventSink
from distillguard.gateway.online_worker import OnlineWorker
from distillguard.gateway.state import MemoryState, StateBackend
from distillguard.gateway.upstream import UpstreamPool
from distillguard.identity.models import KeyPrincipal, Scope
from distillguard.identity.tiers import TIER_QUOTAS
from distillguard.respond.enforcement import EMPTY_ENFORCEMENT, EnforcementList
from distillguard.settings import GatewaySettings
from tests.gateway.fixtures import FakeUpstream, serve_in_thread


@dataclass
class Keys:
    """An in-memory key table with the identity store's contract (unknown and revoked keys
    raise AuthenticationError). Integration with the real store is tested separately."""

    principals: dict[str, KeyPrincipal] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def add(
        self,
        raw: str,
        account_id: str,
        tier: Verification = Verification.PHONE,
        org_id: str | None = None,
        scopes: frozenset[str] = frozenset({Scope.INFERENCE}),
        created_at: datetime | None = None,
        plan: str | None = None,
    ) -> str:
        self.principals[raw] = KeyPrincipal(
            key_id=f"k-{account_id}",
            account_id=account_id,
            org_id=org_id,
            tier=tier,
            scopes=scopes,
            quota=TIER_QUOTAS[tier],
            account_created_at=created_at,
            plan=plan,
        )
        return raw

    def authenticate_key(self, raw_key: str) -> KeyPrincipal:
        if raw_key in self.revoked:
            raise AuthenticationError("API key revoked")
        p = self.principals.get(raw_key)
        if p is None:
            raise AuthenticationError("unknown API key")
        return p


class ScriptedContent:
    """Content scorer whose answer is set by a marker in the prompt, so each policy branch can
    be reached on purpose; the real model is exercised in test_detection."""

    def score_one(self, text: str) -> Mapping[str, float]:
        hot = 0.97 if "IGNORE ALL PREVIOUS" in text else 0.01
        return {"jailbreak": hot, "injection": 0.0, "extraction": 0.0, "overall": hot}


@pytest.fixture(scope="session")
def upstream() -> Iterator[tuple[str, FakeUpstream]]:
    fake = FakeUpstream()
    with serve_in_thread(fake) as url:
        yield url, fake


GatewayFactory = Callable[..., AbstractContextManager[tuple[str, GatewayApp]]]


@pytest.fixture
def gateway(upstream: tuple[str, FakeUpstream], tmp_path: Path) -> GatewayFactory:
    url, _ = upstream

    @contextmanager
    def make(
        keys: Keys,
        *,
        enforcement: EnforcementList = EMPTY_ENFORCEMENT,
        state: StateBackend | None = None,
        detection: Detection | None = None,
        events: Path | None = None,
        online: OnlineWorker | None = None,
        **overrides: Any,
    ) -> Iterator[tuple[str, GatewayApp]]:
        settings = GatewaySettings(
            upstream_url=overrides.pop("upstream_url", url + "/v1"),
            event_log=events or tmp_path / "events.jsonl",
            event_flush_s=0.05,
            **overrides,
        )
        app = GatewayApp(
            settings,
            authenticator=keys,
            upstream=UpstreamPool(
                settings.upstream_url,
                read_timeout_s=settings.upstream_timeout_s,
                connect_timeout_s=settings.upstream_connect_timeout_s,
            ),
            state=state or MemoryState(settings.window_s),
            detection=detection or Detection(content=ScriptedContent()),
            sink=EventSink(settings.event_log, flush_s=0.05),
            enforcement=enforcement,
            online=online,
        )
        with serve_in_thread(app) as gw_url:
            yield gw_url, app

    return make
