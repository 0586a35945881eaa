"""The audit's result records: one verdict per account, one per linked cluster, and run stats.

These are what every consumer codes against: the report (terminal and HTML), the gateway's
enforcement list, the benchmarks. They are frozen slotted dataclasses (inside the core); the
wire forms (``verdicts.jsonl`` of spec section 4, ``clusters.jsonl``, ``enforcement.json``) are
built from them by the ``*_record`` functions here, which are pure and JSON-ready.

Scores are in [0, 1], higher is worse. ``flagged`` is the decision at the audit's operating
point (``AuditStats.threshold``). ``response`` is the graduated action recommended for the
confidence: see :func:`response_for`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "RESPONSE_LADDER",
    "AccountVerdict",
    "AuditResult",
    "AuditStats",
    "ClusterVerdict",
    "DaySummary",
    "FlagPath",
    "KnownGood",
    "Response",
    "cluster_record",
    "enforcement_document",
    "response_for",
    "rfc3339",
    "verdict_record",
]


class Response(StrEnum):
    """Graduated responses, mildest first. The gateway maps them to per-request actions.

    ``watch``: log and keep scoring, nothing visible to the customer. ``throttle``: lower rate
    limits. ``degrade``: strip reasoning and log-probabilities, cap output length. ``challenge``:
    require step-up identity verification before more traffic. ``suspend``: suspend the account
    (and, for a cluster verdict, every member of the cluster).
    """

    NONE = "none"
    WATCH = "watch"
    THROTTLE = "throttle"
    DEGRADE = "degrade"
    CHALLENGE = "challenge"
    SUSPEND = "suspend"


# (lower score bound, response) pairs, highest first. The flag threshold sits at 0.5 by default;
# below it an account is at most watched, so a false positive at the operating point costs the
# customer a rate limit, never a suspension.
RESPONSE_LADDER: tuple[tuple[float, Response], ...] = (
    (0.95, Response.SUSPEND),
    (0.85, Response.CHALLENGE),
    (0.7, Response.DEGRADE),
    (0.0, Response.THROTTLE),
)


def response_for(score: float, flagged: bool, watch_from: float = 0.25) -> Response:
    """The response proportionate to ``score``: nothing below ``watch_from``, ``watch`` up to
    the flag, then throttle → degrade → challenge → suspend as the confidence grows."""
    if not flagged:
        return Response.WATCH if score >= watch_from else Response.NONE
    for bound, response in RESPONSE_LADDER:
        if score >= bound:
            return response
    return Response.THROTTLE


class FlagPath(StrEnum):
    """How a replayed deployment first flagged an account (``AccountVerdict.first_flagged_by``).

    ``online``: the gateway's per-request scorer crossed the policy threshold at that request.
    ``audit``: a periodic audit flagged it (the account, or its cluster through the lift).
    ``cluster_link``: its request carried infrastructure of a cluster an earlier audit had
    flagged (payment instrument, sign-up device or burst, egress address, device), so the
    enforcement list caught it at that request.
    ``signup``: identity's sign-up risk, scored with the sign-ups made up to the account's first
    request, reached the policy's ``signup_challenge_at``, so the gateway challenged it there.
    """

    ONLINE = "online"
    AUDIT = "audit"
    CLUSTER_LINK = "cluster_link"
    SIGNUP = "signup"


@dataclass(frozen=True, slots=True)
class KnownGood:
    """An analyst's override: this account (or every account of this org) is known-good.

    ``who`` made the call and ``why``; the audit honours it (the account is never flagged, its
    response is ``none``) and lists it in the outputs so the correction is visible.
    """

    account_id: str | None
    org_id: str | None
    who: str
    why: str
    added_at: datetime | None = None

    def matches(self, account_id: str, org_id: str | None) -> bool:
        if self.account_id is not None and self.account_id == account_id:
            return True
        return self.org_id is not None and org_id is not None and self.org_id == org_id


@dataclass(frozen=True, slots=True)
class AccountVerdict:
    """The audit's judgement of one account.

    ``score`` in [0, 1] (calibrated: see detect/engine.py), ``flagged`` at the operating point,
    ``cluster_id`` of its linked group (None when it was linked to nobody), ``reasons`` short
    human-readable evidence with the numbers, ``first_flagged_at`` the event time it first
    crossed the threshold (replay only; otherwise the time of its last event when flagged),
    ``first_flagged_by`` which deployment path flagged it first (replay only),
    ``features`` the per-account feature values the score was built from, ``kind`` the
    suspected campaign kind (e.g. ``distillation``) when flagged, ``override`` the known-good
    entry that cleared it, if any.
    """

    account_id: str
    score: float
    flagged: bool
    cluster_id: str | None
    reasons: tuple[str, ...]
    first_flagged_at: datetime | None
    response: Response
    features: Mapping[str, float] = field(default_factory=dict)
    kind: str | None = None
    org_id: str | None = None
    n_events: int = 0
    override: KnownGood | None = None
    first_flagged_by: FlagPath | None = None


@dataclass(frozen=True, slots=True)
class ClusterVerdict:
    """One linked group of accounts, scored as a whole.

    ``evidence`` lists why the members are linked and why the group is suspicious;
    ``shared`` maps a kind of link (``ip``, ``subnet_asn``, ``device``, ``payment``, ``template``,
    ``signup_burst``, ``synchronised``) to the shared values, hashed or truncated where they could
    identify a person; ``kind`` is the suspected campaign kind or ``benign``.
    """

    cluster_id: str
    members: tuple[str, ...]
    score: float
    kind: str
    evidence: tuple[str, ...]
    shared: Mapping[str, tuple[str, ...]]
    response: Response
    flagged: bool = False
    n_events: int = 0


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One UTC day of a log judged day by day (``detect.days``): its requests, the accounts
    active that day, how many of them that day's audit flagged, and its flagged clusters."""

    date: str
    n_events: int
    n_accounts: int
    n_flagged: int
    n_flagged_clusters: int


@dataclass(frozen=True, slots=True)
class AuditStats:
    """What the audit saw and how it ran.

    ``suspicious_event_share`` is the share of events made by flagged accounts.
    ``content_available`` is False when no prompt text was present (metadata-only mode);
    ``content_sampled`` says how many distinct prompts were scored when content was sampled per
    account for speed; ``notes`` lists every degradation (missing content, missing account
    records, sampling) in words. ``days`` summarises each day of a log judged day by day (empty
    when the log was audited as one).
    """

    n_events: int
    n_accounts: int
    n_flagged: int
    suspicious_event_share: float
    content_available: bool
    started: datetime
    finished: datetime
    threshold: float = 0.5
    n_clusters: int = 0
    n_flagged_clusters: int = 0
    replay: bool = False
    content_texts_scored: int = 0
    content_sampled: bool = False
    period_start: datetime | None = None
    period_end: datetime | None = None
    notes: tuple[str, ...] = ()
    overrides: tuple[KnownGood, ...] = ()
    detectors: tuple[str, ...] = ()
    days: tuple[DaySummary, ...] = ()

    @property
    def elapsed_s(self) -> float:
        return (self.finished - self.started).total_seconds()


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Everything one audit produced; accounts sorted by descending score."""

    accounts: tuple[AccountVerdict, ...]
    clusters: tuple[ClusterVerdict, ...]
    stats: AuditStats

    def flagged(self) -> tuple[AccountVerdict, ...]:
        return tuple(a for a in self.accounts if a.flagged)

    def by_account(self) -> dict[str, AccountVerdict]:
        return {a.account_id: a for a in self.accounts}

    def clusters_to_review(self) -> tuple[ClusterVerdict, ...]:
        """Clusters judged suspicious as a whole (score at the flag threshold) none of whose
        members is flagged, strongest first: what the members do together (sweeping,
        harvesting, moving to a new release) on infrastructure they share, each looking
        innocent alone. An analyst's call, not an accusation: their response is ``watch``."""
        at = self.stats.threshold
        found = [c for c in self.clusters if not c.flagged and c.score >= at]
        return tuple(sorted(found, key=lambda c: (-c.score, -len(c.members), c.cluster_id)))


def rfc3339(ts: datetime | None) -> str | None:
    """``2026-11-28T18:00:00.000Z`` (UTC, milliseconds), or None."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def verdict_record(v: AccountVerdict) -> dict[str, Any]:
    """The spec section 4 record (``verdicts.jsonl``), keys in spec order."""
    return {
        "account_id": v.account_id,
        "score": round(float(v.score), 6),
        "flagged": bool(v.flagged),
        "cluster_id": v.cluster_id,
        "reasons": list(v.reasons),
        "first_flagged_at": rfc3339(v.first_flagged_at),
    }


def cluster_record(c: ClusterVerdict) -> dict[str, Any]:
    """One line of ``clusters.jsonl``."""
    return {
        "cluster_id": c.cluster_id,
        "members": list(c.members),
        "score": round(float(c.score), 6),
        "flagged": bool(c.flagged),
        "kind": c.kind,
        "response": str(c.response),
        "n_events": c.n_events,
        "evidence": list(c.evidence),
        "shared": {k: list(v) for k, v in sorted(c.shared.items())},
    }


def enforcement_document(
    result: AuditResult, links: Mapping[str, Sequence[tuple[str, str]]] | None = None
) -> dict[str, Any]:
    """``enforcement.json`` for the gateway: every account with a response other than none and
    every flagged cluster, plus the known-good overrides the gateway must also honour.

    ``links`` maps a flagged cluster to its link keys as ``(kind, hash)`` pairs
    (``detect.online.link_hashes`` of ``detect.links.audit_links``): a cluster's ``links`` let
    the gateway treat a new account presenting one as a member. Hashes only, never the values.
    """
    links = links or {}
    return {
        "generated_at": rfc3339(result.stats.finished),
        "threshold": result.stats.threshold,
        "accounts": [
            {
                "account_id": a.account_id,
                "cluster_id": a.cluster_id,
                "score": round(float(a.score), 6),
                "response": str(a.response),
                "reasons": list(a.reasons),
            }
            for a in result.accounts
            if a.response is not Response.NONE
        ],
        "clusters": [
            {
                "cluster_id": c.cluster_id,
                "members": list(c.members),
                "score": round(float(c.score), 6),
                "response": str(c.response),
                "links": [{"kind": kind, "sha256": h} for kind, h in links.get(c.cluster_id, ())],
            }
            for c in result.clusters
            if c.flagged
        ],
        "known_good": [
            {"account_id": k.account_id, "org_id": k.org_id, "who": k.who, "why": k.why}
            for k in result.stats.overrides
        ],
    }
