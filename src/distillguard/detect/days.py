"""Judging a log longer than a day one UTC day at a time, and combining the days' verdicts.

The detectors are calibrated on a day of traffic. Over a week, a researcher's prompts cover
every task category and most customers end up on the newest model, so what a harvesting fleet
does in a day, a crowd of customers does in a week; and a week of shared exits links strangers
into communities of hundreds. Tuning world 3 audited as one week flagged 2% of its customers,
each lifted into a 339-account community around a proxy fleet; judged day by day it flagged
one (benchmarks.detect ``--days 7``).

So :func:`day_windows` cuts the log into UTC days, the engine audits each as if it were the
whole log, and :func:`combine_days` takes each account's strongest day: a campaign caught on
the day it ran is caught, whatever the other days show. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from distillguard.detect.verdicts import (
    AccountVerdict,
    AuditResult,
    ClusterVerdict,
    DaySummary,
    response_for,
)

__all__ = ["DAY_BY_DAY_FROM_S", "DAY_S", "DayResult", "combine_days", "day_windows"]

DAY_S = 86_400.0
# A log up to a day and a half long is judged whole: splitting it would leave a partial day
# on each side, each judged on a fraction of its accounts' traffic.
DAY_BY_DAY_FROM_S = 1.5 * DAY_S
# Clusters of two days are one when they share this much of their members (Jaccard): a fleet
# keeps most of its accounts from one day to the next, while a community of customers that a
# day's shared exits built around it does not.
SAME_CLUSTER_JACCARD = 0.5
_CLUSTER_REF = re.compile(r"\bcluster (C\d{4,})\b")
_FLAGGED_LINE = re.compile(r"^\d+ of \d+ members flagged$")

DayResult = tuple[str, AuditResult]


def day_windows(t0: float, t1: float) -> list[tuple[str, float, float]]:
    """The UTC days from epoch ``t0`` to ``t1`` (both inclusive) as ``(date, start, end)``
    half-open windows ``[start, end)``; the last ends just after ``t1``."""
    start = (t0 // DAY_S) * DAY_S
    out: list[tuple[str, float, float]] = []
    while start <= t1:
        date = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d")
        out.append((date, start, start + DAY_S))
        start += DAY_S
    return out


class _Clusters:
    """Union-find over the days' clusters, keyed ``(day index, cluster id)``."""

    def __init__(self) -> None:
        self.parent: dict[tuple[int, str], tuple[int, str]] = {}

    def find(self, k: tuple[int, str]) -> tuple[int, str]:
        self.parent.setdefault(k, k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: tuple[int, str], b: tuple[int, str]) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _merge_clusters(days: Sequence[DayResult]) -> _Clusters:
    """Join each day's clusters with the next day's that keep most of their members."""
    uf = _Clusters()
    for d, (_, res) in enumerate(days):
        for c in res.clusters:
            uf.find((d, c.cluster_id))
        if d == 0:
            continue
        prev = days[d - 1][1].clusters
        by_member: dict[str, str] = {m: p.cluster_id for p in prev for m in p.members}
        sizes = {p.cluster_id: len(p.members) for p in prev}
        for c in res.clusters:
            overlap: dict[str, int] = {}
            for m in c.members:
                p = by_member.get(m)
                if p is not None:
                    overlap[p] = overlap.get(p, 0) + 1
            for p, k in overlap.items():
                if k / (len(c.members) + sizes[p] - k) >= SAME_CLUSTER_JACCARD:
                    uf.union((d - 1, p), (d, c.cluster_id))
    return uf


def combine_days(
    days: Sequence[DayResult], n_events: int, started: datetime, notes: Sequence[str] = ()
) -> AuditResult:
    """One result from the audits of each day of a log (``(date, result)``, oldest first).

    Each account takes the verdict of its strongest day (the highest score; on a tie, the
    later day), with a last reason saying so and on how many of its days it was flagged; its
    ``n_events`` counts the whole log. A cluster that persists from day to day (members kept,
    see ``SAME_CLUSTER_JACCARD``) is one cluster, named once; its members are the accounts
    whose verdict comes from one of its days, its score and evidence those of its strongest
    day.
    """
    if not days:
        raise ValueError("combine_days needs at least one day")
    uf = _merge_clusters(days)
    # The strongest day of each account, and its flagged days.
    best: dict[str, tuple[int, AccountVerdict]] = {}
    seen: dict[str, list[str]] = {}
    flagged_on: dict[str, list[str]] = {}
    total: dict[str, int] = {}
    for d, (date, res) in enumerate(days):
        for v in res.accounts:
            seen.setdefault(v.account_id, []).append(date)
            total[v.account_id] = total.get(v.account_id, 0) + v.n_events
            if v.flagged:
                flagged_on.setdefault(v.account_id, []).append(date)
            cur = best.get(v.account_id)
            if cur is None or v.score >= cur[1].score:
                best[v.account_id] = (d, v)
    # Name the merged clusters in order of their strongest day's score.
    day_cluster = {(d, c.cluster_id): c for d, (_, res) in enumerate(days) for c in res.clusters}
    groups: dict[tuple[int, str], list[tuple[int, str]]] = {}
    for k in day_cluster:
        groups.setdefault(uf.find(k), []).append(k)
    members: dict[tuple[int, str], list[str]] = {}
    for acc, (d, v) in best.items():
        if v.cluster_id is not None:
            members.setdefault(uf.find((d, v.cluster_id)), []).append(acc)
    order = sorted(
        (root for root in groups if root in members),
        key=lambda r: (-max(day_cluster[k].score for k in groups[r]), r),
    )
    name = {root: f"C{i + 1:04d}" for i, root in enumerate(order)}

    def rename(d: int, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            root = uf.find((d, m.group(1)))
            return f"cluster {name[root]}" if root in name else m.group(0)

        return _CLUSTER_REF.sub(sub, text)

    accounts: list[AccountVerdict] = []
    for acc, (d, v) in best.items():
        dates = seen[acc]
        flagged = flagged_on.get(acc, [])
        note = (
            f"judged day by day: flagged on {len(flagged)} of its {len(dates)} days"
            + (f" ({', '.join(flagged[:7])}{', …' if len(flagged) > 7 else ''})" if flagged else "")
            + f"; this verdict is from {days[d][0]}, its strongest"
        )
        cid = name.get(uf.find((d, v.cluster_id))) if v.cluster_id is not None else None
        accounts.append(
            replace(
                v,
                cluster_id=cid,
                reasons=(*(rename(d, r) for r in v.reasons), note),
                n_events=total[acc],
            )
        )
    accounts.sort(key=lambda v: (-v.score, v.account_id))
    clusters: list[ClusterVerdict] = []
    by_cluster: dict[str, list[AccountVerdict]] = {}
    for v in accounts:
        if v.cluster_id is not None:
            by_cluster.setdefault(v.cluster_id, []).append(v)
    for root in order:
        parts = sorted(groups[root], key=lambda k: (-day_cluster[k].score, -k[0]))
        top_d, top = parts[0][0], day_cluster[parts[0]]
        mem = by_cluster[name[root]]
        dates = sorted({days[d][0] for d, _ in parts})
        shared: dict[str, tuple[str, ...]] = {}
        for k in parts:
            for kind, vals in day_cluster[k].shared.items():
                shared[kind] = tuple(dict.fromkeys((*shared.get(kind, ()), *vals)))[:5]
        c_flagged = any(v.flagged for v in mem)
        on = (
            f"every one of the log's {len(days)} days"
            if len(dates) == len(days)
            else f"{len(dates)} of the log's {len(days)} days "
            f"({', '.join(dates[:7])}{', …' if len(dates) > 7 else ''})"
        )
        # The strongest day's evidence, its count of flagged members replaced by the log's.
        day_ev = [rename(top_d, e) for e in top.evidence if not _FLAGGED_LINE.match(e)]
        clusters.append(
            replace(
                top,
                cluster_id=name[root],
                members=tuple(sorted(v.account_id for v in mem)),
                evidence=(
                    *day_ev[:2],
                    f"{sum(v.flagged for v in mem)} of its {len(mem)} members flagged; linked on "
                    f"{on}; the evidence here is from {days[top_d][0]}, its strongest day",
                    *day_ev[2:],
                ),
                shared=shared,
                # none of its members flagged by their own strongest days: watched at most,
                # whatever its strongest day recommended for the members it had then
                response=top.response if c_flagged else response_for(top.score, False),
                flagged=c_flagged,
                kind=top.kind if c_flagged else "benign",
                n_events=sum(v.n_events for v in mem),
            )
        )
    stats = [res.stats for _, res in days]
    flagged_events = sum(v.n_events for v in accounts if v.flagged)
    first, last = stats[0], stats[-1]
    all_notes = [
        f"judged day by day: the log spans {len(days)} UTC days, each audited on its own and "
        "each account given its strongest day's verdict (the detectors read a day of traffic: "
        "a week of a customer's prompts covers what a harvesting job sweeps in a day); "
        "--whole-log audits it as one"
    ]
    for n in (*notes, *(n for s in stats for n in s.notes)):
        if n not in all_notes:
            all_notes.append(n)
    return AuditResult(
        tuple(accounts),
        tuple(clusters),
        replace(
            last,
            n_events=n_events,
            n_accounts=len(accounts),
            n_flagged=sum(v.flagged for v in accounts),
            suspicious_event_share=flagged_events / max(n_events, 1),
            content_available=any(s.content_available for s in stats),
            started=started,
            finished=datetime.now(UTC),
            n_clusters=len(clusters),
            n_flagged_clusters=sum(c.flagged for c in clusters),
            content_texts_scored=sum(s.content_texts_scored for s in stats),
            content_sampled=any(s.content_sampled for s in stats),
            period_start=first.period_start,
            period_end=last.period_end,
            notes=tuple(all_notes),
            detectors=tuple(dict.fromkeys(d for s in stats for d in s.detectors)),
            days=tuple(
                DaySummary(date, s.n_events, s.n_accounts, s.n_flagged, s.n_flagged_clusters)
                for (date, _), s in zip(days, stats, strict=True)
            ),
        ),
    )
