"""The online scorer replays to the same features and score as the batch audit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distillguard.detect.engine import EMPTY_ACCOUNTS, AuditOptions, audit_frame
from distillguard.detect.online import (
    Observation,
    OnlineState,
    initial_state,
    score_state,
    state_frame,
    update,
)
from tests.detect.test_engine import build_world

SHARED = [
    "n_events", "active_hours", "mean_completion_tokens", "share_long_completion",
    "share_reasoning_high", "share_max_tokens_large", "n_ips", "n_subnets", "n_asns",
    "gap_mean", "gap_std", "n_gaps", "night_share", "gap_cv",
]  # fmt: skip


@pytest.fixture(scope="module")
def world():
    w = build_world(with_text=False)
    return w, w.load()


def _replay(w, account_id: str) -> OnlineState:
    acc = next(a for a in w.accounts if a["account_id"] == account_id)
    st = initial_state(acc["created_at"].timestamp(), acc["verification"], acc["plan"],
                       acc["country"])  # fmt: skip
    for e in sorted((e for e in w.events if e["account_id"] == account_id), key=lambda e: e["ts"]):
        obs = Observation(
            ts=e["ts"].timestamp(), endpoint=e["endpoint"], model=e["model"],
            prompt_tokens=e["prompt_tokens"], completion_tokens=e["completion_tokens"],
            content=None, template_id=None, client_ip=e["client_ip"], asn=e["asn"],
            params=json.loads(e["params"]) if e["params"] else None, country=e["country"],
            client_fingerprint=e["client_fingerprint"],
        )  # fmt: skip
        st, _ = update(st, obs)
    return st


@pytest.mark.parametrize("account_id", ["camp0", "dev03", "nat05"])
def test_online_features_and_score_equal_the_batch_ones(world, account_id: str) -> None:
    w, con = world
    batch = audit_frame(con, "events", "accounts", AuditOptions(), None, None)
    assert batch is not None
    i = list(batch.frame.ids).index(account_id)
    st = _replay(w, account_id)
    online = state_frame(st)
    for name in SHARED:
        assert online.col(name)[0] == pytest.approx(batch.frame.col(name)[i], rel=1e-6), name
    assert score_state(st).score == pytest.approx(float(batch.own[i]), abs=1e-6)


def test_state_round_trips_through_bytes(world) -> None:
    w, _ = world
    st = _replay(w, "camp1")
    back = OnlineState.from_bytes(st.to_bytes())
    assert back == st
    assert score_state(back).score == score_state(st).score


def test_online_score_rises_for_the_campaign_and_not_for_a_developer(world) -> None:
    w, _ = world
    assert score_state(_replay(w, "camp2")).score >= 0.5
    assert score_state(_replay(w, "dev01")).score < 0.5
    assert np.isfinite(score_state(initial_state()).score)


def test_batch_without_account_records_still_scores(world) -> None:
    _, con = world
    sc = audit_frame(con, "events", EMPTY_ACCOUNTS, AuditOptions(), None, None)
    assert sc is not None and np.isfinite(sc.final).all()
