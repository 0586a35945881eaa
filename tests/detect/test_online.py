"""The online scorer replays to the same features and score as the batch audit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distillguard.detect.behaviour.detectors import InfraDiversity
from distillguard.detect.engine import CONTENT_SIGNALS, EMPTY_ACCOUNTS, AuditOptions, audit_frame
from distillguard.detect.online import (
    ABUSE_IDENTITY_AT,
    ABUSE_IDENTITY_FULL,
    ABUSE_LLR_AT,
    ABUSE_LLR_EXTRA,
    ABUSE_SCORE,
    ABUSE_STRONG_AT,
    PREDICT_MIN_QUERIES,
    SIBLING_PRIOR,
    Observation,
    OnlineState,
    SiblingMarks,
    abuse_bound,
    abuse_llr,
    account_keys,
    cluster_links,
    fold,
    initial_state,
    link_hash,
    predict_llr,
    request_keys,
    rescore_due,
    score_many,
    score_state,
    sibling_keys,
    state_frame,
    states_frame,
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


def _abusive(
    state: OnlineState, hits: int, clean: int, hit_score: float = 0.99, repeat: bool = False
) -> OnlineState:
    t = 1_700_000_000.0
    for k in range(hits + clean):
        content = {"jailbreak": hit_score} if k < hits else {"jailbreak": 0.1}
        key = "same" if repeat and k < hits else f"text-{k}"
        obs = Observation(ts=t + 400.0 * k, endpoint="chat.completions", model="atlas-2",
                          prompt_tokens=80, completion_tokens=300, content=content,
                          template_id=None, client_ip="192.0.2.9", asn=64500,
                          text_key=key)  # fmt: skip
        state = fold(state, obs)
    return state


def test_sequential_test_flags_a_new_weak_account_that_keeps_sending_jailbreaks() -> None:
    t0 = 1_700_000_000.0
    fresh = initial_state(t0 - 86400.0, "email", "free", "US")
    vouched = initial_state(t0 - 400 * 86400.0, "organization", "enterprise", "US")
    # Each sure hit adds about 3.7 to the log-likelihood ratio, each other prompt takes 0.5
    # off: two hits in three prompts are not enough for a 1/10,000 bound, three in five are.
    assert abuse_llr(np.asarray([2]), np.asarray([3]))[0] < ABUSE_LLR_AT
    few, many = _abusive(fresh, 2, 1), _abusive(fresh, 3, 2)
    assert score_state(few).score < ABUSE_SCORE
    scored = score_state(many)
    assert scored.score >= ABUSE_SCORE and any("sequential test" in r for r in scored.reasons)
    # An established, verified customer (a red-team vendor) is left to the audit.
    assert score_state(_abusive(vouched, 40, 2)).score < ABUSE_SCORE
    # Mostly clean traffic with the content model's occasional false hit never passes.
    assert score_state(_abusive(fresh, 6, 200)).score < ABUSE_SCORE
    many_scores = score_many([few, many])
    assert many_scores[1] == pytest.approx(scored.score) and many_scores[0] < ABUSE_SCORE
    assert OnlineState.from_bytes(many.to_bytes()) == many


def test_sequential_test_counts_only_sure_hits_and_a_repeated_prompt_once() -> None:
    t0 = 1_700_000_000.0
    fresh = initial_state(t0 - 86400.0, "email", "free", "US")
    # Middling scores (a non-English system prompt, a quoted jailbreak) are no evidence.
    middling = _abusive(fresh, 30, 0, hit_score=ABUSE_STRONG_AT - 0.1)
    assert middling.n_abuse == 0 and score_state(middling).score < ABUSE_SCORE
    # The same jailbreak sent again and again is one hit, however often it is retried.
    retried = _abusive(fresh, 30, 0, repeat=True)
    assert (retried.n_abuse, retried.n_tested) == (1, 1)
    assert score_state(retried).score < ABUSE_SCORE
    assert OnlineState.from_bytes(retried.to_bytes()) == retried


def test_the_bound_rises_as_identity_evidence_weakens_towards_the_gate() -> None:
    bounds = abuse_bound(np.asarray([0.9, ABUSE_IDENTITY_FULL, 0.5, ABUSE_IDENTITY_AT]))
    assert bounds[0] == bounds[1] == pytest.approx(ABUSE_LLR_AT)
    assert bounds[1] < bounds[2] < bounds[3] == pytest.approx(ABUSE_LLR_AT + ABUSE_LLR_EXTRA)
    t0 = 1_700_000_000.0
    # Phone-verified, prepaid, ten days old: inside the gate, with a higher bound.
    middling = initial_state(t0 - 10 * 86400.0, "phone", "pay_as_you_go", "US")
    assert score_state(_abusive(middling, 3, 2)).score < ABUSE_SCORE
    assert score_state(_abusive(middling, 5, 2)).score >= ABUSE_SCORE


def _predict_stream(state: OnlineState, outside: list[bool | None]) -> OnlineState:
    t = 1_700_000_000.0
    for k, o in enumerate(outside):
        obs = Observation(ts=t + 30.0 * k, endpoint="predict", model="tabular-1",
                          prompt_tokens=None, completion_tokens=None, content=None,
                          template_id=None, client_ip="192.0.2.9", asn=64500,
                          predict_outside=o)  # fmt: skip
        state = fold(state, obs)
    return state


def test_predict_sequential_test_flags_a_sweep_not_a_customer_with_heavy_tails() -> None:
    t0 = 1_700_000_000.0
    # An established customer: the test needs no identity gate, the rates separate.
    acct = initial_state(t0 - 400 * 86400.0, "organization", "enterprise", "US")
    sweep = _predict_stream(acct, [k % 5 < 2 for k in range(60)])  # 40% outside
    customer = _predict_stream(acct, [k % 10 == 0 for k in range(2000)])  # 10% outside
    few = _predict_stream(acct, [True] * (PREDICT_MIN_QUERIES - 1))
    unjudged = _predict_stream(acct, [None] * 200)  # no reference yet: nothing to go on
    scored = score_state(sweep)
    assert scored.score >= ABUSE_SCORE and any("predict inputs" in r for r in scored.reasons)
    assert predict_llr(np.asarray([24]), np.asarray([60]))[0] >= ABUSE_LLR_AT
    for s in (customer, few, unjudged):
        assert score_state(s).score < ABUSE_SCORE
    assert list(score_many([customer, sweep]) >= ABUSE_SCORE) == [False, True]
    assert OnlineState.from_bytes(sweep.to_bytes()) == sweep


def test_a_flagged_siblings_prior_judges_an_established_account_and_needs_less_evidence() -> None:
    t0 = 1_700_000_000.0
    fresh = initial_state(t0 - 86400.0, "email", "free", "US")
    vouched = initial_state(t0 - 400 * 86400.0, "organization", "enterprise", "US")
    # Two sure hits in three prompts: short of the bound alone, enough with a flagged sibling.
    two = _abusive(fresh, 2, 1)
    assert not score_state(two).test_passed
    with_prior = score_state(two, SIBLING_PRIOR)
    assert with_prior.test_passed and with_prior.score >= ABUSE_SCORE
    assert any("prior" in r for r in with_prior.reasons)
    # Below the identity gate the test only runs with the prior, at the strictest bound: what
    # a fresh account needs without one.
    established = _abusive(vouched, 3, 2)
    assert score_state(established).score < ABUSE_SCORE
    assert score_state(established, SIBLING_PRIOR).score >= ABUSE_SCORE
    assert score_state(_abusive(vouched, 2, 1), SIBLING_PRIOR).score < ABUSE_SCORE
    # ...and mostly clean traffic still never passes.
    assert score_state(_abusive(vouched, 6, 200), SIBLING_PRIOR).score < ABUSE_SCORE
    states = [two, established, two]
    priors = np.asarray([SIBLING_PRIOR, SIBLING_PRIOR, 0.0])
    many = score_many(states, priors)
    for st, prior, s in zip(states, priors.tolist(), many.tolist(), strict=True):
        assert s == pytest.approx(score_state(st, prior).score, abs=1e-12)
    # The predict test takes the same prior: 10 of 25 inputs outside is not enough alone.
    acct = initial_state(t0 - 400 * 86400.0, "organization", "enterprise", "US")
    sweep = _predict_stream(acct, [k % 5 < 2 for k in range(25)])
    assert not score_state(sweep).test_passed and score_state(sweep, SIBLING_PRIOR).test_passed


def test_sibling_keys_and_marks() -> None:
    keys = sibling_keys(account_keys("org-1", "card-1", "203.0.113.9", "sfp-1", 7200.0))
    # Only the payment instrument and the sign-up device, hashed as the enforcement list does.
    assert keys == tuple(sorted([link_hash(("payment", "card-1")),
                                 link_hash(("signup_device", "sfp-1"))]))  # fmt: skip
    marks = SiblingMarks()
    assert marks.prior("a", keys) == 0.0
    marks.mark("a", keys)
    assert marks.prior("a", keys) == 0.0  # its own flag is no prior for itself
    assert marks.prior("b", keys[:1]) == SIBLING_PRIOR
    assert marks.prior("b", ("other",)) == 0.0
    marks.mark("b", keys)  # a key keeps its first marker
    assert marks.prior("b", keys) == SIBLING_PRIOR
    assert marks.drain_new() == [(k, "a") for k in keys] and marks.drain_new() == []
    marks.learn("far", "c")  # marked by another gateway
    assert marks.prior("b", ("far",)) == SIBLING_PRIOR and marks.drain_new() == []
    small = SiblingMarks(max_keys=2)
    small.mark("a", ("k1", "k2"))
    small.mark("b", ("k3",))  # full: starts again from empty
    assert len(small) == 1 and small.prior("c", ("k3",)) == SIBLING_PRIOR


def test_attack_heads_count_a_prompt_only_when_sure_the_other_signals_from_half() -> None:
    # as the audit's per-account shares do (engine.COUNT_AT): a middling jailbreak score is a
    # code paste or a role-play set-up as often as an attack
    st = initial_state()
    for k, content in enumerate(
        [{"jailbreak": 0.9, "cot_elicitation": 0.6}, {"jailbreak": 0.97}, {"extraction": 0.5}]
    ):
        st = fold(st, Observation(ts=1000.0 + k, endpoint="chat.completions", model="atlas-2",
                                  prompt_tokens=60, completion_tokens=300, content=content,
                                  template_id=None, client_ip="192.0.2.1", asn=64500))  # fmt: skip
    hits = dict(zip(CONTENT_SIGNALS, st.content_hits, strict=True))
    assert hits["jailbreak"] == 1 and hits["extraction"] == 0 and hits["cot_elicitation"] == 1
    assert st.n_content == 3


def test_a_long_lived_account_is_judged_on_its_typical_day() -> None:
    # a traveller: each day of a week on one new network in one new country, 30 requests a day;
    # over the week that is seven networks and countries, on a typical day one
    st = initial_state()
    for day in range(7):
        for k in range(30):
            ts = 86400.0 * (20_000 + day) + 3600.0 * 9 + 60.0 * k
            st = fold(st, Observation(ts=ts, endpoint="chat.completions", model="atlas-2",
                                      prompt_tokens=60, completion_tokens=300, content=None,
                                      template_id=None, client_ip=f"198.51.{day}.{k % 3}",
                                      asn=64500 + day, country=f"C{day}"))  # fmt: skip
    assert len(st.countries) == 7 and len(st.asns) == 7
    frame = states_frame([st])
    assert frame.col("day_countries")[0] == 1 and frame.col("day_events")[0] == 30
    assert frame.col("span_days")[0] > 6
    week = InfraDiversity().evaluate(frame).scores[0]
    # the same counts read as one day's (the online frames before the day columns existed)
    frame.num.pop("day_events")
    whole = InfraDiversity().evaluate(frame).scores[0]
    assert week == 0.0 < whole
    # the state survives the round trip the gateway's store makes
    assert OnlineState.from_bytes(st.to_bytes()) == st
