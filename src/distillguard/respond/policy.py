"""Policy: the signals about one request → one action (allow … block) with its reasons.

Pure and cheap: the gateway calls :meth:`Policy.decide` once per request with everything it
knows (identity tier, the audit's enforcement entry, the online behaviour score, content signals,
the rate-limit outcome). The strongest applicable action wins:
block > challenge > throttle > degrade > allow, and every rule that fired leaves a reason.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from distillguard.detect.verdicts import Response
from distillguard.events.records import Action, Verification
from distillguard.respond.enforcement import EnforcementEntry
from distillguard.settings import PolicySettings

__all__ = ["ACTION_SEVERITY", "Decision", "Policy", "Signals", "hottest"]

ACTION_SEVERITY: Mapping[Action, int] = {
    Action.ALLOW: 0,
    Action.DEGRADE: 1,
    Action.THROTTLE: 2,
    Action.CHALLENGE: 3,
    Action.BLOCK: 4,
}
_TIER_RANK = {v: i for i, v in enumerate(Verification)}


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything known about one request when the policy runs.

    ``content`` is ``None`` when the request carries no text (embeddings of token ids, predict),
    detection is off, or prompts are scored off the request path; then ``held_content`` names
    a recent prompt of the account that crossed the content threshold (it degrades the
    account's requests for ``content_hold_s``). ``retry_after_s`` is set when a rate limit is
    exhausted. ``identity_risk`` (the audit's ``identity_risk`` score of the account, None
    without a record) decides whether content on its own acts (``content_identity_at``).
    """

    tier: Verification
    known_good: bool = False
    enforcement: EnforcementEntry | None = None
    online_score: float = 0.0
    online_reasons: tuple[str, ...] = ()
    content: Mapping[str, float] | None = None
    held_content: str | None = None
    retry_after_s: float | None = None
    limit_reason: str | None = None
    signup_risk: float | None = None
    identity_risk: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for one request and why; ``retry_after_s`` only with ``throttle``."""

    action: Action
    reasons: tuple[str, ...] = ()
    retry_after_s: float | None = None


_ALLOW = Decision(Action.ALLOW)


def hottest(content: Mapping[str, float], signals: Collection[str]) -> tuple[str, float]:
    """The strongest of ``signals`` in a prompt's content scores, as ``(name, value)``;
    ``("overall", 0.0)`` when none of them is there. The policy and the online scorer's hold
    judge a prompt by it."""
    return max(
        ((k, v) for k, v in content.items() if k in signals),
        key=lambda kv: kv[1],
        default=("overall", 0.0),
    )


class Policy:
    """Thresholds from :class:`PolicySettings`, resolved once; ``decide`` only compares."""

    def __init__(self, settings: PolicySettings) -> None:
        self.settings = settings
        self._challenge_max_rank = _TIER_RANK[Verification(settings.challenge_up_to_tier)]
        self._content_signals = frozenset(settings.content_degrade_signals)
        self._signup_at = (
            settings.signup_challenge_at if settings.signup_challenge_at is not None else math.inf
        )

    def quota_factor(self, entry: EnforcementEntry | None, known_good: bool) -> float:
        """Share of the tier quota this account gets: the audit's ``throttle`` shrinks it."""
        if entry is not None and not known_good and entry.response is Response.THROTTLE:
            return self.settings.throttle_quota_factor
        return 1.0

    def decide(self, s: Signals) -> Decision:
        if (
            s.retry_after_s is None
            and s.enforcement is None
            and s.online_score < self.settings.online_degrade_at
            and not s.content
            and s.held_content is None
            and (s.signup_risk is None or s.signup_risk < self._signup_at)
        ):
            return _ALLOW
        p = self.settings
        action = Action.ALLOW
        reasons: list[str] = []

        def raise_to(new: Action, reason: str) -> None:
            nonlocal action
            reasons.append(reason)
            if ACTION_SEVERITY[new] > ACTION_SEVERITY[action]:
                action = new

        def challenge_or_degrade(reason: str) -> None:
            if _TIER_RANK[s.tier] <= self._challenge_max_rank:
                raise_to(Action.CHALLENGE, reason)
            else:
                raise_to(Action.DEGRADE, f"{reason}; tier {s.tier} is verified, degrade instead")

        if s.retry_after_s is not None:
            raise_to(Action.THROTTLE, s.limit_reason or "rate limit exhausted")
        if s.known_good:
            # Analysts vouched for the account or its org: no detection-driven action.
            if reasons:
                reasons.append("known-good account: detection ignored")
            return Decision(action, tuple(reasons), s.retry_after_s)

        entry = s.enforcement
        if entry is not None:
            why = "; ".join(entry.reasons)
            if entry.response is Response.SUSPEND:
                raise_to(Action.BLOCK, why)
            elif entry.response is Response.CHALLENGE:
                challenge_or_degrade(why)
            elif entry.response is Response.DEGRADE:
                raise_to(Action.DEGRADE, why)
            elif entry.response is Response.THROTTLE:
                reasons.append(f"{why}; quota x{p.throttle_quota_factor:g}")
            elif entry.response is Response.WATCH:
                reasons.append(f"{why}; watched")

        if s.signup_risk is not None and s.signup_risk >= self._signup_at:
            # A farm-like sign-up (burst from one network, disposable domain, shared card or
            # device) is asked to verify before it is served; one that has verified above
            # challenge_up_to_tier since has answered that question.
            if _TIER_RANK[s.tier] <= self._challenge_max_rank:
                raise_to(Action.CHALLENGE, f"sign-up risk {s.signup_risk:.2f}")

        score = s.online_score
        if score >= p.online_degrade_at:
            why = f"online score={score:.2f}" + (
                f" ({', '.join(s.online_reasons)})" if s.online_reasons else ""
            )
            if p.online_block_at is not None and score >= p.online_block_at:
                raise_to(Action.BLOCK, why)
            elif score >= p.online_challenge_at:
                challenge_or_degrade(why)
            else:
                raise_to(Action.DEGRADE, why)

        judged = (
            p.content_identity_at is None
            or s.identity_risk is None
            or s.identity_risk >= p.content_identity_at
        )
        if s.content and judged:
            name, value = hottest(s.content, self._content_signals)
            if p.content_block_at is not None and value >= p.content_block_at:
                raise_to(Action.BLOCK, f"content:{name}={value:.2f}")
            elif value >= p.content_degrade_at:
                raise_to(Action.DEGRADE, f"content:{name}={value:.2f}")

        if s.held_content is not None and judged:
            raise_to(Action.DEGRADE, s.held_content)

        if action is Action.ALLOW and not reasons:
            return _ALLOW
        retry = s.retry_after_s if action is Action.THROTTLE else None
        return Decision(action, tuple(reasons), retry)
