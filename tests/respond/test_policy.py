from __future__ import annotations

import pytest

from distillguard.detect.verdicts import Response
from distillguard.events.records import Action, Verification
from distillguard.respond.enforcement import EnforcementEntry
from distillguard.respond.policy import Policy, Signals
from distillguard.settings import PolicySettings

POLICY = Policy(PolicySettings())


def entry(response: Response) -> EnforcementEntry:
    return EnforcementEntry(response, "c1", (f"audit:cluster c1 -> {response}",))


def test_clean_request_is_allowed_without_reasons() -> None:
    d = POLICY.decide(Signals(tier=Verification.EMAIL, content={"jailbreak": 0.1, "overall": 0.1}))
    assert d.action is Action.ALLOW and d.reasons == () and d.retry_after_s is None


@pytest.mark.parametrize(
    ("response", "tier", "action"),
    [
        (Response.SUSPEND, Verification.ORGANIZATION, Action.BLOCK),
        (Response.CHALLENGE, Verification.EMAIL, Action.CHALLENGE),
        (Response.CHALLENGE, Verification.DOCUMENT, Action.DEGRADE),
        (Response.DEGRADE, Verification.EMAIL, Action.DEGRADE),
        (Response.THROTTLE, Verification.EMAIL, Action.ALLOW),
        (Response.WATCH, Verification.EMAIL, Action.ALLOW),
    ],
)
def test_enforcement_responses_map_to_actions(
    response: Response, tier: Verification, action: Action
) -> None:
    d = POLICY.decide(Signals(tier=tier, enforcement=entry(response)))
    assert d.action is action
    assert any("audit:cluster c1" in r for r in d.reasons)


def test_throttled_accounts_get_a_smaller_quota_known_good_do_not() -> None:
    assert POLICY.quota_factor(entry(Response.THROTTLE), known_good=False) == 0.1
    assert POLICY.quota_factor(entry(Response.THROTTLE), known_good=True) == 1.0
    assert POLICY.quota_factor(None, known_good=False) == 1.0


def test_rate_limit_wins_over_degrade_and_keeps_retry_after() -> None:
    d = POLICY.decide(
        Signals(
            tier=Verification.EMAIL,
            enforcement=entry(Response.DEGRADE),
            retry_after_s=12.5,
            limit_reason="limit: 10/10 requests per 60s",
        )
    )
    assert d.action is Action.THROTTLE and d.retry_after_s == 12.5
    assert d.reasons[0].startswith("limit:")


def test_block_outranks_throttle_and_drops_retry_after() -> None:
    d = POLICY.decide(
        Signals(tier=Verification.EMAIL, enforcement=entry(Response.SUSPEND), retry_after_s=3.0)
    )
    assert d.action is Action.BLOCK and d.retry_after_s is None


@pytest.mark.parametrize(
    ("score", "tier", "action"),
    [
        (0.3, Verification.EMAIL, Action.ALLOW),
        (0.7, Verification.EMAIL, Action.DEGRADE),
        (0.9, Verification.EMAIL, Action.CHALLENGE),
        (0.9, Verification.ORGANIZATION, Action.DEGRADE),
    ],
)
def test_online_score_thresholds(score: float, tier: Verification, action: Action) -> None:
    d = POLICY.decide(Signals(tier=tier, online_score=score, online_reasons=("timing",)))
    assert d.action is action
    if action is not Action.ALLOW:
        assert "online score" in d.reasons[0] and "timing" in d.reasons[0]


def test_online_block_only_when_configured() -> None:
    strict = Policy(PolicySettings(online_block_at=0.95))
    assert strict.decide(Signals(tier=Verification.EMAIL, online_score=0.97)).action is Action.BLOCK
    assert (
        POLICY.decide(Signals(tier=Verification.EMAIL, online_score=0.97)).action
        is not Action.BLOCK
    )


def test_content_degrades_never_blocks_by_default() -> None:
    hot = {"jailbreak": 0.99, "extraction": 0.2, "overall": 0.99}
    d = POLICY.decide(Signals(tier=Verification.NONE, content=hot))
    assert d.action is Action.DEGRADE and d.reasons == ("content:jailbreak=0.99",)
    strict = Policy(PolicySettings(content_block_at=0.98))
    assert strict.decide(Signals(tier=Verification.NONE, content=hot)).action is Action.BLOCK


def test_asking_for_reasoning_or_rubric_grading_is_not_degraded_by_default() -> None:
    # what researchers and eval harnesses ask all day; it counts at the account level
    asks = {"jailbreak": 0.1, "cot_elicitation": 0.99, "rubric": 0.97, "overall": 0.99}
    assert POLICY.decide(Signals(tier=Verification.NONE, content=asks)).action is Action.ALLOW
    wider = Policy(PolicySettings(content_degrade_signals=("jailbreak", "cot_elicitation")))
    d = wider.decide(Signals(tier=Verification.NONE, content=asks))
    assert d.action is Action.DEGRADE and d.reasons == ("content:cot_elicitation=0.99",)


def test_known_good_ignores_detection_but_not_rate_limits() -> None:
    hot = {"jailbreak": 0.99, "overall": 0.99}
    s = Signals(
        tier=Verification.EMAIL, known_good=True, enforcement=entry(Response.SUSPEND), content=hot
    )
    assert POLICY.decide(s).action is Action.ALLOW
    limited = Signals(tier=Verification.EMAIL, known_good=True, retry_after_s=5.0)
    assert POLICY.decide(limited).action is Action.THROTTLE


def test_a_held_hot_prompt_degrades() -> None:
    d = POLICY.decide(
        Signals(tier=Verification.PHONE, held_content="content:x=0.9 (earlier prompt)")
    )
    assert d.action is Action.DEGRADE and d.reasons == ("content:x=0.9 (earlier prompt)",)


@pytest.mark.parametrize(
    ("risk", "tier", "action"),
    [
        (0.79, Verification.NONE, Action.CHALLENGE),
        (0.5, Verification.PHONE, Action.CHALLENGE),
        (0.35, Verification.NONE, Action.ALLOW),  # one signal alone (a disposable address)
        (None, Verification.NONE, Action.ALLOW),  # not scored
        (0.9, Verification.DOCUMENT, Action.ALLOW),  # verified since: the question is answered
    ],
)
def test_risky_signups_are_asked_to_verify(
    risk: float | None, tier: Verification, action: Action
) -> None:
    d = POLICY.decide(Signals(tier=tier, signup_risk=risk))
    assert d.action is action
    if action is Action.CHALLENGE:
        assert any(r.startswith("sign-up risk") for r in d.reasons)


def test_signup_rule_can_be_turned_off_and_known_good_wins() -> None:
    off = Policy(PolicySettings(signup_challenge_at=None))
    assert off.decide(Signals(tier=Verification.NONE, signup_risk=0.99)).action is Action.ALLOW
    vouched = Signals(tier=Verification.NONE, signup_risk=0.99, known_good=True)
    assert POLICY.decide(vouched).action is Action.ALLOW


def test_content_alone_leaves_an_established_verified_customer_to_the_audit() -> None:
    hot = {"injection": 0.99, "overall": 0.99}
    held = "content:injection=0.99 (earlier prompt)"
    for kw in ({"content": hot}, {"held_content": held}):
        new = POLICY.decide(Signals(tier=Verification.EMAIL, identity_risk=0.8, **kw))
        assert new.action is Action.DEGRADE
        unknown = POLICY.decide(Signals(tier=Verification.EMAIL, identity_risk=None, **kw))
        assert unknown.action is Action.DEGRADE  # no account record: judged
        old = POLICY.decide(Signals(tier=Verification.PHONE, identity_risk=0.3, **kw))
        assert old.action is Action.ALLOW
    everyone = Policy(PolicySettings(content_identity_at=None))
    assert (
        everyone.decide(Signals(tier=Verification.PHONE, identity_risk=0.3, content=hot)).action
        is Action.DEGRADE
    )
    # the other rules still apply to the established account
    online = POLICY.decide(
        Signals(tier=Verification.PHONE, identity_risk=0.3, content=hot, online_score=0.7)
    )
    assert online.action is Action.DEGRADE and online.reasons[0].startswith("online score")
