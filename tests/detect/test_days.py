"""A log longer than a day judged one UTC day at a time: the windows, the combination of the
days' verdicts, and the engine's use of both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from distillguard.detect.days import DAY_S, combine_days, day_windows
from distillguard.detect.engine import AuditOptions, audit_store
from distillguard.detect.verdicts import (
    AccountVerdict,
    AuditResult,
    AuditStats,
    ClusterVerdict,
    Response,
)
from tests.detect.test_engine import build_world
from tests.detect.worlds import FakeStore

T0 = datetime(2026, 11, 23, tzinfo=UTC)


def test_day_windows_are_utc_days_covering_the_log() -> None:
    t0 = T0.timestamp() + 13 * 3600.0  # 13:00 on the 23rd
    t1 = T0.timestamp() + 2 * DAY_S + 5.0  # just after midnight on the 25th
    windows = day_windows(t0, t1)
    assert [d for d, _, _ in windows] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert windows[0][1] <= t0 < windows[0][2] and windows[-1][1] <= t1 < windows[-1][2]
    assert all(b - a == DAY_S for _, a, b in windows)
    assert all(windows[i][2] == windows[i + 1][1] for i in range(len(windows) - 1))


def _verdict(acc: str, score: float, cluster: str | None, n: int = 10) -> AccountVerdict:
    reasons = (f"linked into cluster {cluster}",) if cluster else ("own evidence",)
    return AccountVerdict(
        account_id=acc,
        score=score,
        flagged=score >= 0.5,
        cluster_id=cluster,
        reasons=reasons,
        first_flagged_at=None,
        response=Response.DEGRADE if score >= 0.5 else Response.NONE,
        n_events=n,
    )


def _cluster(cid: str, members: list[str], score: float, flagged: bool) -> ClusterVerdict:
    return ClusterVerdict(
        cluster_id=cid,
        members=tuple(members),
        score=score,
        kind="distillation" if flagged else "benign",
        evidence=(f"{len(members)} accounts linked by ip",),
        shared={"ip": (f"ip-{cid}",)},
        response=Response.SUSPEND if flagged else Response.NONE,
        flagged=flagged,
    )


def _day(day: int, verdicts: list[AccountVerdict], clusters: list[ClusterVerdict]) -> AuditResult:
    start = T0 + timedelta(days=day)
    stats = AuditStats(
        n_events=sum(v.n_events for v in verdicts),
        n_accounts=len(verdicts),
        n_flagged=sum(v.flagged for v in verdicts),
        suspicious_event_share=0.0,
        content_available=True,
        started=start,
        finished=start,
        period_start=start,
        period_end=start + timedelta(hours=23),
        notes=(f"note of day {day}",),
    )
    return AuditResult(tuple(verdicts), tuple(clusters), stats)


def test_each_account_takes_its_strongest_day_and_a_persisting_fleet_is_one_cluster() -> None:
    fleet = ["f1", "f2", "f3"]
    day0 = _day(
        0,
        [_verdict("f1", 0.9, "C0001"), _verdict("f2", 0.3, "C0001"), _verdict("f3", 0.8, "C0001"),
         _verdict("cust", 0.7, "C0002"), _verdict("x", 0.1, "C0002")],
        [_cluster("C0001", fleet, 0.95, True), _cluster("C0002", ["cust", "x"], 0.4, True)],
    )  # fmt: skip
    day1 = _day(
        1,
        # the fleet again, under the next day's first id; the customer alone, quiet
        [_verdict("f1", 0.6, "C0001"), _verdict("f2", 0.85, "C0001"),
         _verdict("f3", 0.2, "C0001"), _verdict("cust", 0.05, None, n=4)],
        [_cluster("C0001", fleet, 0.99, True)],
    )  # fmt: skip
    days = [("2026-11-23", day0), ("2026-11-24", day1)]
    out = combine_days(days, n_events=84, started=T0)
    by = out.by_account()
    assert by["f2"].score == 0.85 and by["f2"].flagged  # its strongest day is the second
    assert by["f1"].score == 0.9 and by["cust"].score == 0.7
    assert by["cust"].n_events == 14  # the whole log's, not its strongest day's
    assert (
        "flagged on 1 of its 2 days (2026-11-23); this verdict is from 2026-11-23"
        in (by["cust"].reasons[-1])
    )
    assert "flagged on 1 of its 2 days" in by["f3"].reasons[-1]
    # One cluster for the fleet across both days, every member pointing at it.
    fleet_ids = {by[a].cluster_id for a in fleet}
    assert len(fleet_ids) == 1
    fleet_id = fleet_ids.pop()
    assert fleet_id is not None
    c = next(c for c in out.clusters if c.cluster_id == fleet_id)
    assert set(c.members) == set(fleet) and c.score == 0.99 and c.flagged
    assert any("3 of its 3 members flagged; linked on every one of the log's 2 days" in e
               for e in c.evidence)  # fmt: skip
    # Reasons name the combined cluster, not the day's.
    assert by["f1"].reasons[0] == f"linked into cluster {fleet_id}"
    cust_c = next(c for c in out.clusters if c.cluster_id == by["cust"].cluster_id)
    assert cust_c.cluster_id != fleet_id and set(cust_c.members) == {"cust", "x"}
    # Every cluster lists exactly the accounts that point at it.
    for cl in out.clusters:
        assert set(cl.members) == {
            v.account_id for v in out.accounts if v.cluster_id == cl.cluster_id
        }
    s = out.stats
    assert s.n_events == 84 and s.n_accounts == 5 and s.n_flagged == 4
    assert s.suspicious_event_share == pytest.approx((20 + 20 + 20 + 14) / 84)
    assert s.period_start == T0 and s.period_end == T0 + timedelta(days=1, hours=23)
    assert s.notes[0].startswith("judged day by day") and "note of day 1" in s.notes
    assert [(d.date, d.n_events, d.n_accounts, d.n_flagged) for d in s.days] == [
        ("2026-11-23", 50, 5, 3),
        ("2026-11-24", 34, 4, 2),
    ]
    assert [d.n_flagged_clusters for d in s.days] == [0, 0]  # as each day's stats said


def test_combining_no_days_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        combine_days([], 0, T0)


def _three_days():
    """The crafted world of the engine tests over three days: the campaign on the first day
    only, the developers and the office behind one NAT every day."""
    w = build_world()
    for e in list(w.events):
        if not str(e["account_id"]).startswith("camp"):
            for k in (1, 2):
                w.events.append({**e, "ts": e["ts"] + timedelta(days=k)})
    for i, e in enumerate(w.events):
        e["request_id"] = f"r{i}"
    return w.load()


def test_a_log_of_three_days_is_judged_day_by_day_and_the_campaign_day_decides() -> None:
    con = _three_days()
    result = audit_store(FakeStore(con))
    by = result.by_account()
    assert all(by[f"camp{a}"].flagged for a in range(8))
    assert not any(v.flagged for v in result.accounts if not v.account_id.startswith("camp"))
    assert "flagged on 1 of its 1 days" in by["camp0"].reasons[-1]
    assert "of its 3 days" in by["dev00"].reasons[-1]
    assert result.stats.notes[0].startswith("judged day by day: the log spans 3 UTC days")
    assert result.stats.n_events == con.sql("SELECT count(*) FROM events").fetchall()[0][0]
    camp_cluster = next(c for c in result.clusters if c.cluster_id == by["camp0"].cluster_id)
    assert camp_cluster.flagged
    assert any("linked on 1 of the log's 3 days (2026-11-23)" in e for e in camp_cluster.evidence)
    assert not any(e.endswith(" members flagged") for e in camp_cluster.evidence)
    assert [d.n_flagged for d in result.stats.days] == [8, 0, 0]
    whole = audit_store(FakeStore(con), options=AuditOptions(day_by_day=False))
    assert whole.stats.days == ()
    assert not any(n.startswith("judged day by day") for n in whole.stats.notes)
    assert not any("judged day by day" in r for v in whole.accounts for r in v.reasons)


def test_a_cluster_whose_flagged_members_took_verdicts_from_other_days_is_not_suspended() -> None:
    # day 0: a and b flagged in a suspended cluster with four customers; day 1: the customers
    # again (the same cluster), a and b stronger in one of their own
    quiet = ["c", "d", "e", "f"]
    day0 = _day(0, [_verdict("a", 0.9, "C0001"), _verdict("b", 0.9, "C0001"),
                    *(_verdict(x, 0.1, "C0001") for x in quiet)],
                [_cluster("C0001", ["a", "b", *quiet], 0.99, True)])  # fmt: skip
    day1 = _day(1, [_verdict("a", 0.95, "C0002"), _verdict("b", 0.95, "C0002"),
                    *(_verdict(x, 0.2, "C0001") for x in quiet)],
                [_cluster("C0001", quiet, 0.3, False),
                 _cluster("C0002", ["a", "b"], 0.99, True)])  # fmt: skip
    out = combine_days([("2026-11-23", day0), ("2026-11-24", day1)], 100, T0)
    by = out.by_account()
    customers = next(c for c in out.clusters if c.cluster_id == by["c"].cluster_id)
    assert set(customers.members) == set(quiet) and not customers.flagged
    assert customers.response is Response.WATCH and customers.kind == "benign"
    fleet = next(c for c in out.clusters if c.cluster_id == by["a"].cluster_id)
    assert set(fleet.members) == {"a", "b"} and fleet.response is Response.SUSPEND


def test_a_replay_of_several_days_flags_in_time_and_judges_the_days() -> None:
    con = _three_days()
    result = audit_store(FakeStore(con), replay=True, options=AuditOptions(replay_windows=6))
    by = result.by_account()
    day_one_end = datetime(2026, 11, 24, tzinfo=UTC)
    for a in range(8):
        v = by[f"camp{a}"]
        assert v.flagged and v.first_flagged_at is not None and v.first_flagged_at < day_one_end
    assert [d.n_flagged for d in result.stats.days] == [8, 0, 0]
    assert not any(v.first_flagged_at for v in result.accounts if v.account_id.startswith("dev"))
