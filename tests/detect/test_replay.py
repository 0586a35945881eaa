"""The deployment replay: online scorer, periodic audits and cluster links, in time order."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from distillguard.detect.engine import AuditOptions, audit_store
from distillguard.detect.verdicts import FlagPath, KnownGood
from tests.detect.test_engine import build_world
from tests.detect.worlds import START, FakeStore


@pytest.fixture(scope="module")
def late_world_con():
    """The engine's world plus accounts that only appear after the campaign was audited: two
    sock-puppets on the campaign's card and an honest newcomer with a card of its own."""
    w = build_world()
    rng = random.Random(7)
    for name, card in (("late0", "card-X"), ("late1", "card-X"), ("newbie", "card-new")):
        w.account(name, age_days=0, verification="email", plan="free", payment_fingerprint=card)
        t = START + timedelta(hours=9)
        for _ in range(6):
            t += timedelta(seconds=rng.expovariate(1 / 300))
            w.event(name, t, text="summarise this email for me", client_ip=f"203.0.113.{len(name)}")
    return w.load()


def _times(con, account_id: str) -> list:
    sql = "SELECT ts FROM events WHERE account_id = ? ORDER BY ts"
    return [r[0] for r in con.execute(sql, [account_id]).fetchall()]


def test_new_account_on_a_flagged_clusters_card_is_caught_at_its_first_request(
    late_world_con,
) -> None:
    result = audit_store(
        FakeStore(late_world_con), replay=True, options=AuditOptions(replay_windows=8)
    )
    by = result.by_account()
    for name in ("late0", "late1"):
        v = by[name]
        assert v.first_flagged_by is FlagPath.CLUSTER_LINK
        assert v.first_flagged_at == _times(late_world_con, name)[0]
        assert any("payment" in r and "enforcement list" in r for r in v.reasons)
    assert by["newbie"].first_flagged_at is None and by["newbie"].first_flagged_by is None
    camp = [by[f"camp{a}"] for a in range(8)]
    assert all(v.first_flagged_by is not None for v in camp)
    assert any("replay:" in n for n in result.stats.notes)


def test_online_scorer_flags_before_the_first_audit(late_world_con) -> None:
    # Two windows: the only periodic audit runs half-way, so an earlier flag is the online one.
    opts = AuditOptions(replay_windows=2, online_flag_at=0.5)
    result = audit_store(FakeStore(late_world_con), replay=True, options=opts)
    v = result.by_account()["camp0"]
    assert v.first_flagged_by is FlagPath.ONLINE
    times = _times(late_world_con, "camp0")
    assert v.first_flagged_at in times and v.first_flagged_at < times[-1]
    assert any("online scorer" in r for r in v.reasons)
    benign = [a for a in result.accounts if a.account_id.startswith(("dev", "nat"))]
    assert all(a.first_flagged_at is None for a in benign)


def test_cleared_accounts_are_flagged_by_no_path(late_world_con) -> None:
    kg = (KnownGood("camp3", None, "alice", "contracted red team"),
          KnownGood("late0", None, "alice", "same contract"))  # fmt: skip
    result = audit_store(
        FakeStore(late_world_con),
        replay=True,
        overrides=kg,
        options=AuditOptions(replay_windows=8, online_flag_at=0.5),
    )
    by = result.by_account()
    for name in ("camp3", "late0"):
        assert by[name].first_flagged_at is None and not by[name].flagged
        assert by[name].override is not None


def test_confirmed_audit_flags_come_no_earlier(late_world_con) -> None:
    # The online path is switched off (no score reaches 1.01) to look at the audit path alone.
    def run(confirm: int):
        opts = AuditOptions(replay_windows=8, online_flag_at=1.01, replay_confirm=confirm)
        return audit_store(FakeStore(late_world_con), replay=True, options=opts).by_account()

    once, twice = run(1), run(2)
    for a in range(8):
        v1, v2 = once[f"camp{a}"], twice[f"camp{a}"]
        assert v1.first_flagged_by is FlagPath.AUDIT and v2.first_flagged_by is FlagPath.AUDIT
        assert v1.first_flagged_at is not None and v2.first_flagged_at is not None
        assert v2.first_flagged_at >= v1.first_flagged_at
        assert any("2 audits in a row" in r for r in v2.reasons)
    assert any(
        twice[f"camp{a}"].first_flagged_at > once[f"camp{a}"].first_flagged_at for a in range(8)
    )
