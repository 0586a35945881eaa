import numpy as np

from distillguard.detect.behaviour.frame import AccountFrame
from distillguard.detect.combine import cluster_scores, lift
from distillguard.detect.network.collective import (
    aligned_participation,
    attacking,
    backed_chase,
    collective_evidence,
    could_move,
    fleet_share,
    harvest,
    participation,
)


def _frame(share: list[float], hours: list[float], entropy: list[float]) -> AccountFrame:
    n = len(share)
    return AccountFrame(
        ids=np.array([f"a{i:02d}" for i in range(n)], dtype=object),
        num={
            "share_new_model_after": np.array(share),
            "hours_to_new_model": np.array(hours),
            "n_after_release": np.full(n, 30.0),
            "c_coverage_entropy": np.array(entropy),
            "c_n_texts": np.full(n, 20.0),
        },
    )


def test_release_chased_by_most_independent_members_is_collective_evidence() -> None:
    f = _frame([0.6] * 10 + [0.6] * 10, [6.0] * 20, [0.5] * 20)
    chase, coverage = participation(f)
    members = {0: np.arange(10), 1: np.arange(10, 20)}
    orgs = np.array([None] * 10 + ["org-1"] * 10, dtype=object)
    col = collective_evidence(members, orgs, chase, coverage)
    assert col[0].score == 1.0 and col[0].n_independent == 10
    assert col[0].reasons
    # Colleagues who moved together because their company switched count as one account.
    assert col[1].score == 0.0 and col[1].n_independent == 1


def test_a_few_early_adopters_among_customers_are_not_collective_evidence() -> None:
    share = [0.7, 0.7, 0.0, 0.0, 0.0, 0.05, 0.0, 0.0, 0.0, 0.0]
    f = _frame(share, [4.0, 5.0] + [80.0] * 8, [0.6] * 10)
    chase, coverage = participation(f)
    col = collective_evidence({0: np.arange(10)}, np.full(10, None, dtype=object), chase, coverage)
    assert col[0].score == 0.0


def test_collective_evidence_lifts_participating_members_only() -> None:
    own = np.full(12, 0.05)
    members = {0: np.arange(12)}
    label = np.zeros(12, dtype=np.int64)
    plain = cluster_scores(own, members, {0: 0.3})
    assert abs(plain[0].score - own[0]) < 1e-9  # innocent-looking, nothing done together
    scored = cluster_scores(own, members, {0: 0.3}, {0: 1.0})
    assert scored[0].score > 0.5
    part = np.array([1.0] * 11 + [0.0])
    final = lift(own, label, np.zeros(12), scored, strength_all=np.ones(12), participation=part)
    assert final[0] > 0.5  # linked and chasing the release with the others
    assert abs(final[11] - own[11]) < 1e-9  # linked, but took no part in what it did


def test_fleet_share_is_the_link_weight_running_to_participating_cluster_mates() -> None:
    # rows 0-3: a fleet cluster (0), all taking part; row 4: a customer in the same cluster
    # behind an exit it shares with row 0, and with strangers 5-8 (no cluster) who do nothing
    src = np.array([0, 0, 1, 2, 0, 4, 4, 4, 4])
    dst = np.array([1, 2, 3, 3, 4, 5, 6, 7, 8])
    weight = np.array([0.4, 0.4, 0.4, 0.4, 0.25, 0.25, 0.25, 0.25, 0.25])
    label = np.array([0, 0, 0, 0, 0, -1, -1, -1, -1])
    part = np.array([1.0, 1.0, 1.0, 0.5, 0.8, 0.0, 0.0, 0.0, 0.0])
    share = fleet_share(src, dst, weight, label, part)
    assert np.isclose(share[1], (0.4 * 1.0 + 0.4 * 0.5) / 0.8)
    assert np.isclose(share[4], 0.25 / 1.25)  # one of five equal links, to a participant
    assert share[0] > 0.8 and share[5] == 0.0
    assert fleet_share(src[:0], dst[:0], weight[:0], label, part).tolist() == [0.0] * 9


def test_harvest_counts_reasoning_and_rubric_prompts_once_enough_are_read() -> None:
    n = 5
    f = AccountFrame(
        ids=np.array([f"a{i}" for i in range(n)], dtype=object),
        num={
            # a customer's odd step-by-step question; a job's share; rubrics and reasoning
            # together; the same share from two prompts; no text at all
            "c_share_cot": np.array([0.05, 0.3, 0.1, 0.3, np.nan]),
            "c_share_rubric": np.array([0.0, 0.0, 0.15, 0.0, np.nan]),
            "c_n_texts": np.array([20.0, 20.0, 20.0, 2.0, np.nan]),
        },
    )
    h = harvest(f)
    assert h[0] == 0.0 and h[1] == 1.0 and 0.5 < h[2] < 1.0
    assert h[3] == 0.0 and h[4] == 0.0


def test_an_address_only_member_takes_part_in_a_chase_only_with_the_harvest_it_is_for() -> None:
    # cluster 0 moved to the release together; rows: a launch-crowd customer behind the fleet's
    # exits (chases, prompts read, neither sweeps nor harvests), a fleet member that chases and
    # harvests, the same customer without prompt text, and the customer tied by a shared card
    label = np.zeros(4, dtype=np.int64)
    chase = np.ones(4)
    coverage = np.array([0.1, 0.2, np.nan, 0.1])
    harvesting = np.array([0.0, 0.9, np.nan, 0.0])
    specific = np.array([0.0, 0.0, 0.0, 1.0])
    col = {
        0: collective_evidence({0: np.arange(4)}, np.full(4, None, dtype=object), chase, coverage)[
            0
        ]
    }
    part = aligned_participation(label, col, chase, coverage, specific, harvesting=harvesting)
    assert np.isclose(part[0], 0.1)  # only as far as it sweeps
    assert np.isclose(part[1], 0.9)
    assert part[2] == 1.0  # nothing but the chase can be read
    assert part[3] == 1.0  # a card ties it: either behaviour counts
    without = aligned_participation(label, col, chase, coverage, specific)
    assert without.tolist() == [1.0] * 4


def test_only_an_account_active_before_the_release_can_move_to_it() -> None:
    # twelve members moved fast to the new model; eight of them sent nothing before the
    # release (a class told to try the new model in its lab)
    f = _frame([0.9] * 12, [2.0] * 12, [0.5] * 12)
    f.num["n_events"] = np.array([50.0] * 4 + [30.0] * 8)
    movable = could_move(f)
    assert movable.tolist() == [True] * 4 + [False] * 8
    chase, coverage = participation(f)
    assert chase.tolist() == [1.0] * 12  # what each does is unchanged
    members = {0: np.arange(12)}
    orgs = np.full(12, None, dtype=object)
    moved = np.where(movable, chase, 0.0)
    cls = collective_evidence(members, orgs, moved, coverage)[0]
    assert cls.score == 0.0 and np.isclose(cls.chase_share, 4 / 12)
    f.num["n_events"] = np.array([50.0] * 11 + [30.0])
    fleet = collective_evidence(members, orgs, np.where(could_move(f), chase, 0.0), coverage)[0]
    assert fleet.score == 1.0  # one member starting late does not hide the fleet's move


def test_a_chase_is_backed_only_by_the_sweep_or_harvest_its_prompts_show() -> None:
    chase = np.ones(4)
    coverage = np.array([0.2, 0.9, 0.0, np.nan])
    purpose = np.array([0.1, 0.0, 0.7, np.nan])  # NaN: no prompt read
    assert np.allclose(backed_chase(chase, coverage, purpose), [0.2, 0.9, 0.7, 1.0])


def test_a_cluster_doing_two_of_the_three_behaviours_is_collective_evidence() -> None:
    # 12 members: a quarter chase, half sweep, 8 do two of chase, sweep and harvest
    chase = np.array([1.0] * 3 + [0.0] * 9)
    coverage = np.array([0.1] * 3 + [0.9] * 5 + [0.9] + [0.1] * 3)
    harvesting = np.array([0.9] * 3 + [0.9] * 5 + [0.0] + [0.9] * 2 + [0.0])
    members = {0: np.arange(12)}
    orgs = np.full(12, None, dtype=object)
    alone = collective_evidence(members, orgs, chase, coverage)[0]
    assert alone.score < 0.5
    both = collective_evidence(members, orgs, chase, coverage, harvesting)[0]
    assert both.score > alone.score and both.score >= 0.5
    assert any("two of" in r for r in both.reasons)


def _attack_frame(shares: list[float], n_texts: float = 20.0) -> AccountFrame:
    n = len(shares)
    return AccountFrame(
        ids=np.array([f"a{i:02d}" for i in range(n)], dtype=object),
        num={
            "c_share_jailbreak": np.array(shares) / 2,
            "c_share_injection": np.zeros(n),
            "c_share_extraction": np.array(shares) / 2,
            "c_n_texts": np.full(n, n_texts),
        },
    )


def test_attacking_counts_sure_attacks_once_enough_prompts_are_read() -> None:
    a = attacking(_attack_frame([0.0, 0.05, 0.1, 0.15, 0.6]))
    assert a[0] == 0.0 and a[1] == 0.0 and 0.4 < a[2] < 0.6 and a[3] == 1.0 and a[4] == 1.0
    assert attacking(_attack_frame([0.5], n_texts=3.0))[0] == 0.0  # three prompts prove nothing
    unread = _attack_frame([0.5])
    unread.num["c_share_jailbreak"] = np.array([np.nan])
    assert np.isnan(attacking(unread)[0])


def test_a_cluster_most_of_whose_independent_members_attack_is_collective_evidence() -> None:
    n = 8
    zeros = np.zeros(n)
    members = {0: np.arange(n)}
    loners = np.full(n, None, dtype=object)
    ops = attacking(_attack_frame([0.15] * 6 + [0.0] * 2))
    col = collective_evidence(members, loners, zeros, zeros, zeros, ops)
    assert col[0].score == 1.0 and col[0].attack_score == 1.0 and col[0].attack_share == 0.75
    assert any("attacking together" in r for r in col[0].reasons)
    # customers among whom one sends a sure-looking attack now and then
    crowd = attacking(_attack_frame([0.15] + [0.0] * 7))
    assert collective_evidence(members, loners, zeros, zeros, zeros, crowd)[0].score == 0.0
    # a red-team vendor's accounts share an org: one independent member, no collective
    vendor = np.full(n, "org-redteam", dtype=object)
    all_attack = attacking(_attack_frame([0.9] * n))
    assert collective_evidence(members, vendor, zeros, zeros, zeros, all_attack)[0].score == 0.0
    # without the attack evidence (a metadata-only audit) nothing changes
    assert collective_evidence(members, loners, zeros, zeros, zeros)[0].score == 0.0


def test_in_an_attacking_cluster_a_member_takes_part_by_its_own_attacks() -> None:
    n = 8
    zeros = np.zeros(n)
    label = np.zeros(n, dtype=np.int64)
    ops = attacking(_attack_frame([0.15] * 6 + [0.0] * 2))
    col = collective_evidence({0: np.arange(n)}, np.full(n, None, dtype=object), zeros, zeros,
                              zeros, ops)  # fmt: skip
    part = aligned_participation(label, col, zeros, zeros, attacks=ops)
    assert part[:6].tolist() == [1.0] * 6 and part[6:].tolist() == [0.0, 0.0]
