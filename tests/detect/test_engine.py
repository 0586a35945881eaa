"""The batch audit on a small crafted world: a campaign, benign look-alikes, overrides, replay."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest

from distillguard.detect.behaviour.frame import AccountFrame
from distillguard.detect.engine import AuditOptions, audit_store, network_stage
from distillguard.detect.network.communities import Communities
from distillguard.detect.network.links import LinkGraph
from distillguard.detect.verdicts import KnownGood, Response
from tests.detect.worlds import START, FakeStore, World, exit_chain_pairs

PROMPTS = [
    "What is the capital of France?",
    "Write a poem about cats",
    "fix my python bug please",
    "summarise this email for me",
]


def build_world(with_text: bool = True) -> World:
    w = World()
    rng = random.Random(1)
    for a in range(30):  # ordinary developers, one address each, daytime
        aid = f"dev{a:02d}"
        w.account(aid)
        t = START + timedelta(hours=14)
        for _ in range(rng.randint(10, 40)):
            t += timedelta(seconds=rng.expovariate(1 / 600))
            w.event(aid, t, text=rng.choice(PROMPTS) if with_text else None,
                    client_ip=f"203.0.{a}.5")  # fmt: skip
    for a in range(12):  # colleagues behind one corporate NAT, one org card
        aid = f"nat{a:02d}"
        w.account(aid, org_id="org-acme", payment_fingerprint="card-acme",
                  verification="organization", plan="enterprise")  # fmt: skip
        t = START + timedelta(hours=13, minutes=a)
        for _ in range(25):
            t += timedelta(seconds=rng.expovariate(1 / 400))
            w.event(aid, t, text=rng.choice(PROMPTS) if with_text else None,
                    client_ip="198.51.100.1", org_id="org-acme")  # fmt: skip
    for a in range(8):  # the campaign: fresh accounts, one card, rotating operator addresses
        aid = f"camp{a}"
        w.account(aid, age_days=1, verification="email", plan="free",
                  payment_fingerprint="card-X", signup_fingerprint="dev-X")  # fmt: skip
        t = START + timedelta(minutes=10 * a)
        for k in range(120):
            t += timedelta(seconds=90 + rng.random() * 5)
            w.event(
                aid, t,
                text=f"Solve step by step and show all your reasoning: {k} * {a} + 7" if with_text
                else None,
                client_ip=f"192.0.2.{rng.randint(1, 6)}", completion_tokens=1800,
                params={"reasoning_effort": "high", "max_tokens": 8000},
            )  # fmt: skip
    return w


@pytest.fixture(scope="module")
def world_con():
    return build_world().load()


def test_campaign_is_flagged_and_clustered_benign_lookalikes_are_not(world_con) -> None:
    result = audit_store(FakeStore(world_con))
    by = result.by_account()
    camp = [by[f"camp{a}"] for a in range(8)]
    assert all(v.flagged for v in camp)
    assert len({v.cluster_id for v in camp}) == 1 and camp[0].cluster_id is not None
    assert all(v.reasons for v in camp)
    assert any("reasoning" in r for r in camp[0].reasons)
    benign = [v for v in result.accounts if not v.account_id.startswith("camp")]
    assert not any(v.flagged for v in benign)
    cluster = next(c for c in result.clusters if c.cluster_id == camp[0].cluster_id)
    assert cluster.flagged and "payment" in cluster.shared
    nat_clusters = {by[f"nat{a:02d}"].cluster_id for a in range(12)} - {None}
    for c in result.clusters:
        if c.cluster_id in nat_clusters:
            assert not c.flagged
    assert result.stats.n_accounts == 50
    assert 0 < result.stats.suspicious_event_share < 1
    assert all(v.first_flagged_at is None for v in result.accounts)  # no replay, no time


def test_metadata_only_mode_says_so_and_still_catches_the_campaign() -> None:
    con = build_world(with_text=False).load()
    result = audit_store(FakeStore(con))
    assert result.stats.content_available is False
    assert any("metadata-only" in n for n in result.stats.notes)
    by = result.by_account()
    assert all(by[f"camp{a}"].flagged for a in range(8))
    assert any("not evaluated" in r for r in by["camp0"].reasons)


def test_sparse_log_notes_name_the_fallbacks_and_a_full_log_has_none(world_con) -> None:
    full = audit_store(FakeStore(world_con)).stats.notes
    assert not any(n.startswith(("no token counts", "no ASNs")) for n in full)
    w = build_world()
    for e in w.events:
        e.update(prompt_tokens=None, completion_tokens=None, asn=None)
    notes = audit_store(FakeStore(w.load())).stats.notes
    assert any(n.startswith("no token counts") for n in notes)
    assert any(n.startswith("no ASNs") for n in notes)
    # Countries are still on the accounts and events: the night share keeps its time zones.
    assert not any(n.startswith("no countries") for n in notes)


def test_known_good_override_is_honoured_and_reported(world_con) -> None:
    kg = (KnownGood("camp3", None, "alice", "contracted red team"),
          KnownGood(None, "org-acme", "bob", "enterprise customer"))  # fmt: skip
    result = audit_store(FakeStore(world_con), overrides=kg)
    v = result.by_account()["camp3"]
    assert not v.flagged and v.response is Response.NONE
    assert v.override is kg[0]
    assert any("alice" in r for r in v.reasons)
    assert result.by_account()["nat00"].override is kg[1]
    assert result.stats.overrides == kg


def test_replay_records_first_flagged_at_in_time_order(world_con) -> None:
    result = audit_store(FakeStore(world_con), replay=True, options=AuditOptions(replay_windows=8))
    by = result.by_account()
    times = [by[f"camp{a}"].first_flagged_at for a in range(8)]
    assert all(t is not None for t in times)
    rows = world_con.sql(
        "SELECT account_id, min(ts), max(ts) FROM events WHERE account_id LIKE 'camp%' "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    for (acc, first, last), t in zip(rows, times, strict=True):
        assert first <= t <= last, acc
    # the campaign starts staggered by ten minutes; detection follows the same order overall
    assert times[0] <= times[-1]
    # nobody outside the campaign crosses the threshold at any point in this world (a deployment
    # flag that the full audit later clears would keep its time), and each time names its path
    assert all(v.first_flagged_at is None for v in result.accounts if not v.flagged)
    assert all(
        (v.first_flagged_at is None) == (v.first_flagged_by is None) for v in result.accounts
    )


def _stage_world(fleet_harvests: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60 accounts chained by shared exits into one community of strangers (as modularity
    merges a fleet behind commercial proxies into one), ten of them (a fleet) also linked to
    each other; nobody has moved to a new release yet. The fleet and
    three scattered customers sweep the task space; the fleet also asks for reasoning on a
    third of its prompts (or not). Returns (own, final, fleet rows)."""
    n = 60
    fleet = np.arange(48, 58)
    pairs = exit_chain_pairs(n, fleet.tolist())
    m = len(pairs)
    graph = LinkGraph(
        n_accounts=n,
        src=np.array([p[0] for p in pairs]),
        dst=np.array([p[1] for p in pairs]),
        weight=np.full(m, 0.3),
        specific=np.zeros(m),
        specific_untemplated=np.zeros(m),
        template_share=np.zeros(n),
        weight_untemplated=np.full(m, 0.3),
    )
    sweepers = np.r_[fleet, [3, 17, 31]]
    entropy = np.full(n, 0.5)
    entropy[sweepers] = 0.9
    cot = np.zeros(n)
    if fleet_harvests:
        cot[fleet] = 0.35
    frame = AccountFrame(
        ids=np.array([f"a{i:02d}" for i in range(n)], dtype=object),
        num={
            "share_new_model_after": np.zeros(n),
            "hours_to_new_model": np.full(n, np.nan),
            "n_after_release": np.zeros(n),
            "c_coverage_entropy": entropy,
            "c_n_texts": np.full(n, 20.0),
            "c_share_cot": cot,
            "c_share_rubric": np.zeros(n),
        },
    )
    own = np.full(n, 0.05)
    comm = Communities(
        np.zeros(n, dtype=np.int64), np.zeros(n), {0: 0.3}, {0: np.arange(n)}, np.ones(n)
    )
    final = network_stage(frame, own, graph, comm).final
    return own, final, fleet


def test_a_fleet_that_sweeps_and_harvests_before_any_release_is_judged_as_a_core() -> None:
    own, final, fleet = _stage_world(fleet_harvests=True)
    assert (final[fleet] >= 0.5).all()
    others = np.setdiff1d(np.arange(own.shape[0]), fleet)
    assert (final[others] < 0.5).all()  # the customers who sweep tasks too are not lifted
    # sweeping alone is what many customers do: no core, nobody lifted
    own, final, fleet = _stage_world(fleet_harvests=False)
    assert (final < 0.5).all()


def _day_frame(n: int) -> AccountFrame:
    """A frame of ``n`` accounts with what ``_build_result`` reads of a day's log."""
    return AccountFrame(
        ids=np.array([f"a{i}" for i in range(n)], dtype=object),
        num={
            "n_events": np.full(n, 10.0),
            "last_t": np.full(n, 1.7e9),
            "period_start": np.full(n, 1.7e9 - 86400),
            "period_end": np.full(n, 1.7e9),
        },
    )


def test_members_of_a_cluster_suspicious_as_a_whole_with_none_flagged_are_watched() -> None:
    from datetime import UTC, datetime

    from distillguard.detect.combine import ClusterScore
    from distillguard.detect.engine import AuditOptions, _build_result, _Scored
    from distillguard.detect.network.communities import Communities
    from distillguard.detect.network.links import LinkGraph
    from distillguard.detect.verdicts import Response

    n = 6
    frame = _day_frame(n)
    # cluster 0 (a0-a2): 0.6 as a whole, members 0.02-0.04; cluster 1 (a3, a4): 0.2
    label = np.array([0, 0, 0, 1, 1, -1])
    own = np.array([0.02, 0.03, 0.04, 0.02, 0.02, 0.01])
    comm = Communities(label, np.zeros(n), {0: 0.4, 1: 0.4}, {0: np.arange(3), 1: np.array([3, 4])})
    sc = _Scored(
        frame=frame,
        evidence={},
        own=own,
        final=own,
        graph=LinkGraph(n, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)),
        comm=comm,
        clusters={0: ClusterScore(0.6, 0.03, 0.4, 3, 0.7), 1: ClusterScore(0.2, 0.02, 0.4, 2)},
        override=[None] * n,
        texts_scored=0,
        sampled=False,
        content_available=True,
        notes=(),
    )
    res = _build_result(sc, AuditOptions(), datetime.now(UTC), None, False, 60)
    by = res.by_account()
    assert [c.cluster_id for c in res.clusters_to_review()] == ["C0001"]
    for a in ("a0", "a1", "a2"):
        assert by[a].response is Response.WATCH and not by[a].flagged
        assert any("to review" in r for r in by[a].reasons)
    for a in ("a3", "a4", "a5"):
        assert by[a].response is Response.NONE
        assert not any("to review" in r for r in by[a].reasons)


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("closed", "closed member of cluster C0001"),
        ("attackers", "attacking member of cluster C0001"),
    ],
)
def test_a_member_given_its_clusters_score_is_flagged_with_the_reason(
    field: str, reason: str
) -> None:
    from datetime import UTC, datetime

    from distillguard.detect.combine import ClusterScore
    from distillguard.detect.engine import AuditOptions, _build_result, _Scored
    from distillguard.detect.network.communities import Communities
    from distillguard.detect.network.links import LinkGraph

    n = 4
    frame = _day_frame(n)
    # a0-a3 one cluster of concern at 0.55; a0 and a1 took its score (closed or attacking)
    label = np.zeros(n, dtype=np.int64)
    own = np.array([0.02, 0.03, 0.02, 0.04])
    closed = np.array([True, True, False, False])
    sc = _Scored(
        frame=frame,
        evidence={},
        own=own,
        final=np.where(closed, 0.55, own),
        graph=LinkGraph(n, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)),
        comm=Communities(label, np.zeros(n), {0: 0.4}, {0: np.arange(n)}),
        clusters={0: ClusterScore(0.55, 0.03, 0.4, n, 0.6)},
        override=[None] * n,
        texts_scored=0,
        sampled=False,
        content_available=True,
        notes=(),
        closed=closed if field == "closed" else np.zeros(n, dtype=bool),
        attackers=closed if field == "attackers" else np.zeros(n, dtype=bool),
    )
    by = _build_result(sc, AuditOptions(), datetime.now(UTC), None, False, 40).by_account()
    for a in ("a0", "a1"):
        assert by[a].flagged
        assert any(r.startswith(reason) for r in by[a].reasons)
    for a in ("a2", "a3"):
        assert not by[a].flagged
        assert not any(r.startswith(reason.split(" of ")[0]) for r in by[a].reasons)
