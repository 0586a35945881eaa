"""Compare an audit with ground truth (simulated or hand-labelled data): pure arithmetic.

Only accounts the audit saw (one verdict each) and that carry a label count. A campaign counts
as caught when at least one of its accounts is flagged; its recall is the share of its accounts
flagged. False positives are also broken down by benign ``kind`` (developer, eval_harness,
enterprise_batch, …) because the look-alikes are where a detector accuses paying customers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from distillguard.detect.verdicts import AuditResult
from distillguard.events.records import Label, LabelRecord

__all__ = ["CampaignOutcome", "Comparison", "KindOutcome", "compare"]


@dataclass(frozen=True, slots=True)
class CampaignOutcome:
    """How one labelled campaign fared. ``served_before_flag`` counts its requests answered
    before each account was first flagged (None when request counts were not available)."""

    campaign_id: str
    kind: str | None
    n_accounts: int
    n_flagged: int
    n_events: int | None = None
    served_before_flag: int | None = None

    @property
    def recall(self) -> float:
        return self.n_flagged / self.n_accounts if self.n_accounts else 0.0

    @property
    def caught(self) -> bool:
        return self.n_flagged > 0

    @property
    def served_share(self) -> float | None:
        if self.served_before_flag is None or not self.n_events:
            return None
        return self.served_before_flag / self.n_events


@dataclass(frozen=True, slots=True)
class KindOutcome:
    """Flag rate of one kind of benign account (its false-positive rate)."""

    kind: str
    n_accounts: int
    n_flagged: int

    @property
    def fpr(self) -> float:
        return self.n_flagged / self.n_accounts if self.n_accounts else 0.0


@dataclass(frozen=True, slots=True)
class Comparison:
    """Confusion counts over labelled accounts, per-campaign and per-benign-kind outcomes, and
    the estimated vs true share of traffic made by malicious accounts (None when unknown)."""

    tp: int
    fp: int
    fn: int
    tn: int
    campaigns: tuple[CampaignOutcome, ...]
    benign_kinds: tuple[KindOutcome, ...]
    n_unlabelled: int
    estimated_event_share: float
    true_event_share: float | None

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def n_caught(self) -> int:
        return sum(1 for c in self.campaigns if c.caught)


def compare(
    result: AuditResult,
    labels: Sequence[LabelRecord],
    campaign_events: Mapping[str | None, tuple[int, int]] | None = None,
) -> Comparison:
    """Score ``result`` against ``labels``.

    ``campaign_events`` maps campaign_id to (requests served before the flag, all requests),
    with the key None for all malicious requests (see :func:`queries.campaign_events`); without
    it the per-campaign request columns and the true traffic share stay unknown.
    """
    truth = {r.account_id: r for r in labels}
    tp = fp = fn = tn = unlabelled = 0
    campaign_accounts: dict[str, list[bool]] = {}
    campaign_kind: dict[str, str | None] = {}
    kinds: dict[str, list[bool]] = {}
    for verdict in result.accounts:
        label = truth.get(verdict.account_id)
        if label is None:
            unlabelled += 1
            continue
        if label.label is Label.MALICIOUS:
            if verdict.flagged:
                tp += 1
            else:
                fn += 1
            key = label.campaign_id or f"(no campaign: {label.kind or 'unknown'})"
            campaign_accounts.setdefault(key, []).append(verdict.flagged)
            campaign_kind.setdefault(key, label.kind)
        else:
            if verdict.flagged:
                fp += 1
            else:
                tn += 1
            kinds.setdefault(label.kind or "unknown", []).append(verdict.flagged)
    events = campaign_events or {}
    campaigns = tuple(
        CampaignOutcome(
            campaign_id=cid,
            kind=campaign_kind[cid],
            n_accounts=len(flags),
            n_flagged=sum(flags),
            n_events=events[cid][1] if cid in events else None,
            served_before_flag=events[cid][0] if cid in events else None,
        )
        for cid, flags in sorted(campaign_accounts.items())
    )
    benign = tuple(
        KindOutcome(kind=k, n_accounts=len(flags), n_flagged=sum(flags))
        for k, flags in sorted(kinds.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    )
    total = events.get(None)
    true_share = None
    if total is not None and result.stats.n_events:
        true_share = total[1] / result.stats.n_events
    return Comparison(
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        campaigns=campaigns,
        benign_kinds=benign,
        n_unlabelled=unlabelled,
        estimated_event_share=result.stats.suspicious_event_share,
        true_event_share=true_share,
    )
