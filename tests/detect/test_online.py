"""The online scorer replays to the same features and score as the batch audit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distillguard.detect.engine import EMPTY_ACCOUNTS, AuditOptions, audit_frame
from distillguard.detect.online import (
    Observation,
    OnlineState,
    account_keys,
    cluster_links,
    fold,
    initial_state,
    request_keys,
    rescore_due,
    score_many,
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


def test_vectorised_scores_equal_one_at_a_time(world) -> None:
    w, _ = world
    states = [_replay(w, a) for a in ("camp0", "camp5", "dev03", "nat05")] + [initial_state()]
    many = score_many(states)
    for st, s in zip(states, many, strict=True):
        assert s == pytest.approx(score_state(st).score, abs=1e-12)


def test_update_is_fold_then_rescore(world) -> None:
    w, _ = world
    st = _replay(w, "camp0")
    obs = Observation(ts=st.last_t + 90.0, endpoint="chat.completions", model="atlas-2",
                      prompt_tokens=60, completion_tokens=1800, content={"jailbreak": 0.9},
                      template_id=None, client_ip="192.0.2.1", asn=64500)  # fmt: skip
    new, scored = update(st, obs)
    assert rescore_due(fold(st, obs), obs)  # a content hit always rescores
    assert scored.score == pytest.approx(score_state(fold(st, obs)).score)
    assert new.n == st.n + 1 and new.last_score == scored.score


def test_cluster_links_only_from_keys_no_unflagged_account_uses() -> None:
    carriers = {
        ("payment", "card-X"): {"a", "b", "c"},
        ("ip", "198.51.100.1"): {"a", "b", "colleague"},  # an unflagged account shares it
        ("device", "dev-a"): {"a"},  # one member only: not the operator's shared kit
    }
    links = cluster_links({"C1": ["a", "b", "c"]}, carriers, flagged={"a", "b", "c"})
    assert links.match([("ip", "198.51.100.1"), ("payment", "card-X")]) == (
        "C1", ("payment", "card-X"))  # fmt: skip
    assert links.match([("ip", "198.51.100.1")]) is None
    assert links.match([("device", "dev-a")]) is None
    assert cluster_links({}, carriers, {"a"}).match([("payment", "card-X")]) is None


def test_account_and_request_keys() -> None:
    keys = account_keys("org-1", "card-1", "203.0.113.9", "sfp-1", 7200.0 + 5)
    assert ("signup_burst", "203.0.113@2") in keys and ("payment", "card-1") in keys
    assert ("org", "org-1") in keys and ("signup_device", "sfp-1") in keys
    assert account_keys() == ()
    assert request_keys("203.0.113.9", None) == (("ip", "203.0.113.9"),)
