"""The deployment replay: online scorer, periodic audits and cluster links, in time order."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

import pytest

from distillguard.detect.engine import AuditOptions, audit_store
from distillguard.detect.verdicts import FlagPath, KnownGood
from tests.detect.test_engine import build_world
from tests.detect.worlds import START, FakeStore, World


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
    # The sign-up path would catch the sock-puppets first (ten accounts on one card); it is
    # switched off to look at the links.
    opts = AuditOptions(replay_windows=8, signup_flag_at=None)
    result = audit_store(FakeStore(late_world_con), replay=True, options=opts)
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
    opts = AuditOptions(replay_windows=2, online_flag_at=0.5, signup_flag_at=None)
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
        opts = AuditOptions(
            replay_windows=8, online_flag_at=1.01, replay_confirm=confirm, signup_flag_at=None
        )
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


def test_signup_path_flags_a_farm_at_its_first_request_and_only_from_earlier_signups(
    late_world_con,
) -> None:
    result = audit_store(
        FakeStore(late_world_con), replay=True, options=AuditOptions(replay_windows=8)
    )
    by = result.by_account()
    # Eight campaign accounts (and two later ones) share one card and sign-up device.
    for name in [f"camp{a}" for a in range(8)] + ["late0", "late1"]:
        v = by[name]
        assert v.first_flagged_by is FlagPath.SIGNUP, name
        assert v.first_flagged_at == _times(late_world_con, name)[0]
        assert any("sign-up risk" in r and "payment instrument" in r for r in v.reasons)
    honest = [a for a in result.accounts if a.account_id.startswith(("dev", "nat", "newbie"))]
    assert all(a.first_flagged_by is not FlagPath.SIGNUP for a in honest)


def test_signup_risk_counts_only_the_signups_made_before_the_first_request() -> None:
    w = build_world()
    rng = random.Random(3)
    # "early" calls before the four accounts it shares a card with exist; they call after.
    w.account("early", age_days=2, verification="email", payment_fingerprint="card-Z")
    for name, hours in [("early", 1)] + [(f"next{i}", 8) for i in range(4)]:
        if name != "early":
            w.account(name, created_at=START + timedelta(hours=6),
                      verification="email", payment_fingerprint="card-Z")  # fmt: skip
        t = START + timedelta(hours=hours)
        for _ in range(4):
            t += timedelta(seconds=rng.expovariate(1 / 300))
            w.event(name, t, text="summarise this email for me", client_ip="203.0.113.77")
    con = w.load()
    by = audit_store(
        FakeStore(con), replay=True, options=AuditOptions(replay_windows=4)
    ).by_account()
    assert by["early"].first_flagged_by is not FlagPath.SIGNUP
    for i in range(4):
        assert by[f"next{i}"].first_flagged_by is FlagPath.SIGNUP
    off = audit_store(
        FakeStore(con), replay=True, options=AuditOptions(replay_windows=4, signup_flag_at=None)
    ).by_account()
    assert all(off[f"next{i}"].first_flagged_by is not FlagPath.SIGNUP for i in range(4))


def test_predict_reference_weighs_every_account_the_same() -> None:
    import duckdb
    import numpy as np

    from distillguard.detect.prediction.prada import outside_range
    from distillguard.detect.replay import predict_reference

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE events (account_id VARCHAR, ts TIMESTAMP, request_id VARCHAR, "
        "endpoint VARCHAR, features DOUBLE[])"
    )
    assert predict_reference(con, "events", 400) is None
    rng = np.random.default_rng(8)
    rows = [(f"client{i % 30}", float(v)) for i, v in enumerate(rng.normal(size=300))]
    # One heavy caller far off, more inputs than all clients together.
    rows += [("heavy", float(v)) for v in rng.normal(40.0, 5.0, size=1000)]
    for k, (acc, v) in enumerate(rows):
        con.execute(
            "INSERT INTO events VALUES (?, TIMESTAMP '2026-01-01' + to_seconds(?), ?, "
            "'predict', [?, 1.0])",
            [acc, k, f"r{k}", v],
        )
    ref = predict_reference(con, "events", 400)
    assert ref is not None and ref.median.shape == (2,)
    assert outside_range(np.array([0.5, 1.0]), ref) is False
    assert outside_range(np.array([40.0, 1.0]), ref) is True


class _Jailbreaks:
    """A content model that is sure of prompts saying JAILBREAK and of nothing else."""

    def score(self, texts: Sequence[str]) -> dict[str, list[float]]:
        return {"jailbreak": [0.99 if "JAILBREAK" in t else 0.01 for t in texts]}


def sibling_world() -> World:
    """A fresh sock-puppet that sends jailbreaks, then an established account on its card
    sending the same, and an established red-team vendor on a card of its own."""
    w = World()
    w.account("puppet", age_days=0, verification="email", plan="free", payment_fingerprint="S")
    for name in ("sibling", "vendor"):
        card = "S" if name == "sibling" else "V"
        w.account(name, verification="organization", plan="enterprise", payment_fingerprint=card)
    for k in range(8):
        w.event("puppet", START + timedelta(minutes=5 * k), text=f"JAILBREAK {k}")
    for name in ("sibling", "vendor"):
        for k in range(12):
            text = f"JAILBREAK {name} {k}" if k % 3 else f"hello {name} {k}"
            w.event(name, START + timedelta(hours=2, minutes=5 * k), text=text)
    return w


SIBLING_OPTS = AuditOptions(replay_windows=1, signup_flag_at=None)


def test_a_sequential_flag_gives_the_accounts_on_its_card_a_prior() -> None:
    w = sibling_world()
    con = w.load()
    by = audit_store(
        FakeStore(con), replay=True, content=_Jailbreaks(), options=SIBLING_OPTS
    ).by_account()
    times = {name: _times(con, name) for name in ("puppet", "sibling")}
    # Three sure hits flag the fresh puppet; the established sibling is judged only thanks to
    # it, with the evidence a fresh account needs (three hits, the first prompt clean).
    assert by["puppet"].first_flagged_by is FlagPath.ONLINE
    assert by["puppet"].first_flagged_at == times["puppet"][2]
    assert by["sibling"].first_flagged_by is FlagPath.ONLINE
    assert by["sibling"].first_flagged_at == times["sibling"][4]
    assert any("flagged sibling" in r for r in by["sibling"].reasons)
    assert by["vendor"].first_flagged_at is None
    # A known-good puppet marks nobody.
    cleared = audit_store(
        FakeStore(sibling_world().load()),
        replay=True,
        content=_Jailbreaks(),
        overrides=(KnownGood("puppet", None, "alice", "our own red team"),),
        options=SIBLING_OPTS,
    ).by_account()
    assert cleared["sibling"].first_flagged_at is None
