"""The lift counts a member's links towards the suspicious members of its cluster."""

from __future__ import annotations

import numpy as np

from distillguard.detect.combine import (
    ClusterScore,
    TemplateTies,
    attacking_members,
    closed_members,
    cluster_scores,
    guilty_strength,
    lift,
    lift_from_guilty,
    template_weight,
)

# rows 0-5: a fleet (four look guilty alone, two with a little doubt on the fleet's card);
# rows 6-9: customers that modularity merged into the fleet's community, linked to each other
# by a shared SDK fingerprint, one of them (6) with some doubt of its own.
OWN = np.array([0.9, 0.92, 0.88, 0.95, 0.2, 0.22, 0.25, 0.02, 0.03, 0.02])
FLEET = [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (0, 4), (1, 5), (2, 5)]
CUSTOMERS = [(6, 7), (6, 8), (7, 9)]
# one address-only edge (no specific weight) ties the customers to the fleet
WEAK = [(5, 6)]


def _graph() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pairs = FLEET + CUSTOMERS + WEAK
    src = np.array([a for a, _ in pairs])
    dst = np.array([b for _, b in pairs])
    # the fleet's card is strong; a fingerprint that several customers share, weaker
    specific = np.array([0.6] * len(FLEET) + [0.3] * len(CUSTOMERS) + [0.0] * len(WEAK))
    return src, dst, specific


def _plain_strength(src: np.ndarray, dst: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    deg = np.zeros(n)
    np.add.at(deg, src, w)
    np.add.at(deg, dst, w)
    return np.asarray(1.0 - np.exp(-deg))


def test_guilty_strength_is_the_plain_strength_when_everybody_is_suspicious() -> None:
    src, dst, w = _graph()
    label = np.zeros(10, dtype=np.int64)
    plain = _plain_strength(src, dst, w, 10)
    assert np.allclose(guilty_strength(src, dst, w, label, np.ones(10)), plain)
    # links to members of another cluster, or to accounts in none, count for nothing
    split = np.array([0] * 6 + [1] * 3 + [-1])
    s = guilty_strength(src, dst, w, split, np.ones(10))
    assert s[9] == 0.0 and s[7] < plain[7]


def test_a_customer_linked_only_to_customers_is_not_lifted_a_fleet_member_is() -> None:
    src, dst, w = _graph()
    label = np.zeros(10, dtype=np.int64)
    clusters = cluster_scores(OWN, {0: np.arange(10)}, {0: 0.6})
    assert clusters[0].score >= 0.5
    plain = _plain_strength(src, dst, w, 10)
    before = lift(OWN, label, plain, clusters)
    after = lift_from_guilty(OWN, label, plain, clusters, (src, dst, w))
    assert before[6] >= 0.5  # the old lift accused the customer through its fellow customers
    assert after[6] < 0.5
    assert (after[4:6] >= 0.5).all()  # the fleet's innocent-looking members are still caught
    assert (after >= OWN).all() and (after <= before + 1e-12).all()


# A fleet of 30 (rows 0-29) stamps one rare template; every pair of stampers is one template
# link, so a customer (row 30) who also uses the template is linked to all 30 members.
T_LINK = 0.36  # alpha * s of a template shared by about 55 accounts


def _template_world(
    customer_own: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, ClusterScore]]:
    own = np.full(31, 0.9)
    own[30] = customer_own
    a, b = np.triu_indices(31, k=1)
    t = np.full(a.shape[0], T_LINK)
    # a fully collective cluster: the fleet chases releases together, the customer sweeps tasks
    clusters = cluster_scores(own, {0: np.arange(31)}, {0: T_LINK}, {0: 1.0})
    return own, a, b, t, clusters


def _template_lift(customer_own: float, share: float | None) -> float:
    own, a, b, t, clusters = _template_world(customer_own)
    label = np.zeros(31, dtype=np.int64)
    strength = _plain_strength(a, b, t, 31)  # the community's strengths: all links summed
    participation = np.ones(31)
    participation[30] = 0.8
    ties = None
    if share is not None:
        shares = np.full(31, 0.4)
        shares[30] = share
        nothing = np.zeros_like(t)
        ties = TemplateTies(t, nothing, nothing, shares)
    final = lift_from_guilty(
        own, label, strength, clusters, (a, b, t), strength, participation, template=ties
    )
    return float(final[30])


def test_a_customer_carrying_a_fleets_template_on_a_few_prompts_is_not_lifted_by_it() -> None:
    # 30 template links to guilty members saturate the link strength: without the carrying
    # share, a customer with almost no doubt of its own is flagged through the template alone
    assert _template_lift(0.04, None) >= 0.5
    # stamping it on a tenth of its prompts (two of a twenty-prompt sample) ties it to nobody
    assert _template_lift(0.04, 0.1) < 0.05
    assert _template_lift(0.04, 0.2) < _template_lift(0.04, 0.3)


def test_an_operator_wrapping_most_of_its_harvest_in_the_template_is_still_lifted() -> None:
    # a low-and-slow member: a median customer alone, the fleet's template on most prompts
    assert _template_lift(0.04, 0.6) >= 0.5
    assert np.isclose(_template_lift(0.04, 0.6), _template_lift(0.04, None))


def test_template_weight_counts_from_a_tenth_of_the_prompts_fully_from_half() -> None:
    w = template_weight(np.array([0.0, 0.1, 0.3, 0.5, 0.9, np.nan]))
    assert w[0] == w[1] == 0.0 and 0.0 < w[2] < 1.0 and w[3] == w[4] == 1.0 and w[5] == 0.0


def test_other_links_still_add_up_beside_template_links() -> None:
    src, dst, w = _graph()
    label = np.zeros(10, dtype=np.int64)
    sus = np.ones(10)
    t = np.full(w.shape[0], 0.3)
    # a template link counted whole is the edge's combined weight, one counted not at all is
    # just the other links, which still add up over the edges
    whole = guilty_strength(src, dst, w, label, sus, template=(t, np.ones(10)))
    combined = guilty_strength(src, dst, 1.0 - (1.0 - w) * (1.0 - t), label, sus)
    assert np.allclose(whole, combined)
    none = guilty_strength(src, dst, w, label, sus, template=(t, np.zeros(10)))
    assert np.allclose(none, guilty_strength(src, dst, w, label, sus))
    assert none[3] > 1.0 - np.exp(-0.6)  # row 3's three card links add up


def test_template_weighting_keeps_what_the_community_added_beyond_the_links() -> None:
    # row 5 is tied to the fleet only by operator addresses that carve_cores added to the
    # community's strengths (no edge of the graph); the fleet (0-4) stamps a template
    own = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.2])
    a, b = np.triu_indices(5, k=1)
    t = np.full(a.shape[0], T_LINK)
    label = np.zeros(6, dtype=np.int64)
    clusters = cluster_scores(own, {0: np.arange(6)}, {0: T_LINK}, {0: 1.0})
    strength = _plain_strength(a, b, t, 6)
    strength_all = strength.copy()
    strength_all[5] = 0.98
    nothing = np.zeros_like(t)
    ties = TemplateTies(t, nothing, nothing, np.array([0.1] * 5 + [0.0]))
    args = (own, label, strength, clusters, (a, b, t), strength_all, np.ones(6))
    with_ties = lift_from_guilty(*args, template=ties)
    without = lift_from_guilty(*args)
    assert with_ties[5] == without[5] and with_ties[5] >= 0.5


def test_customers_tied_by_a_public_prompt_do_not_lift_each_other_in_a_fleets_cluster() -> None:
    # rows 0-3: a fleet that looks guilty alone; rows 4-9: customers that stamp one popular
    # system prompt (a strong specific link between each pair), merged into the fleet's
    # community by shared exits; row 9 (a red-team vendor) has some doubt of its own
    own = np.array([0.9, 0.92, 0.88, 0.95, 0.03, 0.03, 0.02, 0.03, 0.04, 0.21])
    fleet = [(0, 1), (0, 2), (1, 3), (2, 3)]
    a, b = np.triu_indices(6, k=1)
    customers = list(zip((a + 4).tolist(), (b + 4).tolist(), strict=True))
    pairs = fleet + customers
    src = np.array([p for p, _ in pairs])
    dst = np.array([q for _, q in pairs])
    w = np.array([0.6] * len(fleet) + [0.35] * len(customers))
    label = np.zeros(10, dtype=np.int64)
    clusters = cluster_scores(own, {0: np.arange(10)}, {0: 0.3})
    assert clusters[0].score >= 0.5
    strength = _plain_strength(src, dst, w, 10)
    # one first lift through the raw links makes the customers suspicious to each other, and
    # the vendor is accused through them
    first = lift(own, label, strength, clusters)
    once = guilty_strength(src, dst, w, label, np.clip(first / 0.25, 0.0, 1.0))
    assert lift(own, label, np.minimum(strength, once), clusters)[9] >= 0.5
    # judged first by their own scores, the customers lend each other little guilt
    final = lift_from_guilty(own, label, strength, clusters, (src, dst, w))
    assert (final[4:] < 0.5).all()


def test_collective_lift_needs_the_members_links_to_run_to_participants() -> None:
    own = np.full(3, 0.1)
    label = np.zeros(3, dtype=np.int64)
    clusters = {0: ClusterScore(0.98, 0.2, 0.3, 30, 1.0)}
    strength_all = np.full(3, 0.8)
    part = np.full(3, 0.8)
    # row 0: most of its link weight runs to fleet-mates that do the job; row 1: a customer
    # roaming shared exits, a third of whose link weight does; row 2: in between
    fleet = np.array([0.8, 0.3, 0.45])
    final = lift(own, label, np.zeros(3), clusters, strength_all, part, fleet)
    assert final[0] >= 0.5
    assert np.isclose(final[1], own[1])
    assert own[2] < final[2] < final[0]
    assert np.allclose(lift(own, label, np.zeros(3), clusters, strength_all, part)[1], final[0])


def test_customers_below_the_flag_line_do_not_make_each_other_guilty() -> None:
    # a red-team account (row 0, 0.74) makes the cluster suspicious; rows 1-6 are CI pipelines
    # at 0.13-0.20 tied to each other by a common fingerprint, cloud /24s and a public judge
    # prompt, and to row 0 by one weak link
    own = np.array([0.74, 0.13, 0.15, 0.2, 0.18, 0.14, 0.16])
    pairs = [(i, j) for i in range(1, 7) for j in range(i + 1, 7)] + [(0, 1)]
    src = np.array([a for a, _ in pairs])
    dst = np.array([b for _, b in pairs])
    w = np.array([0.3] * (len(pairs) - 1) + [0.05])
    label = np.zeros(7, dtype=np.int64)
    clusters = {0: ClusterScore(score=0.7, member_mean=0.3, cohesion=0.5, size=7)}
    final = lift_from_guilty(own, label, _plain_strength(src, dst, w, 7), clusters, (src, dst, w))
    assert (final[1:] < 0.5).all()
    # the same ties to members at the flag line lift the one that looks innocent markedly
    guilty = own.copy()
    guilty[2:] = 0.6
    lifted = lift_from_guilty(
        guilty, label, _plain_strength(src, dst, w, 7), clusters, (src, dst, w)
    )
    assert lifted[1] > final[1] + 0.15


def test_a_closed_member_of_a_cluster_of_concern_takes_its_score() -> None:
    # rows 0-3: a fleet of hobbyist-looking accounts whose links all run inside their cluster,
    # each doing two of the three behaviours; row 4: one of them doing only one; row 5: a
    # customer in the cluster with a third of its link weight outside it
    label = np.zeros(6, dtype=np.int64)
    clusters = {0: ClusterScore(0.55, 0.02, 0.4, 60, 0.5)}
    inside = np.array([1.0, 0.95, 0.92, 1.0, 1.0, 0.66])
    strength_all = np.ones(6)
    joint = np.array([0.6, 0.5, 0.9, 1.0, 0.2, 0.8])
    closed = closed_members(label, clusters, inside, strength_all, joint)
    assert closed.tolist() == [True, True, True, True, False, False]
    # loosely tied, or in a cluster below the flag line, or scored without collective evidence
    assert not closed_members(label, clusters, inside, np.full(6, 0.5), joint).any()
    below = {0: ClusterScore(0.45, 0.02, 0.4, 60, 0.5)}
    assert not closed_members(label, below, inside, strength_all, joint).any()
    plain = {0: ClusterScore(0.9, 0.02, 0.4, 60, 0.0)}
    assert not closed_members(label, plain, inside, strength_all, joint).any()
    # a cluster whose members look guilty alone is left to the lift: a customer whose links
    # happen to run into a sign-up farm is judged by its links to the guilty
    guilty = {0: ClusterScore(1.0, 0.48, 0.4, 60, 1.0)}
    assert not closed_members(label, guilty, inside, strength_all, joint).any()
    # a community of strangers most of whom do neither: nobody in it is a closed member, however
    # much of their link weight it holds
    strangers = np.array([0.6, 0.1, 0.0, 0.2, 0.0, 0.7])
    assert not closed_members(label, clusters, inside, strength_all, strangers).any()
    # an account in no cluster is nobody's closed member
    none = np.full(6, -1)
    assert not closed_members(none, clusters, inside, strength_all, joint).any()


def test_an_attacking_member_of_a_cluster_attacking_together_is_named() -> None:
    # rows 0-5 one cluster at 0.56 whose attack evidence is full; row 6 in no cluster
    label = np.array([0, 0, 0, 0, 0, 0, -1])
    clusters = {0: ClusterScore(0.56, 0.02, 0.35, 6, 1.0)}
    attack = {0: 1.0}
    inside = np.array([1.0, 1.0, 1.0, 0.95, 0.4, 1.0, 0.0])
    attacks = np.array([1.0, 0.6, 0.0, 1.0, 1.0, np.nan, 1.0])
    named = attacking_members(label, clusters, attack, inside, attacks)
    # 2 sends no attack, 4 has most of its links outside, 5 was not read, 6 is in no cluster
    assert named.tolist() == [True, True, False, True, False, False, False]
    assert not attacking_members(label, clusters, {0: 0.3}, inside, attacks).any()
    below = {0: ClusterScore(0.45, 0.02, 0.35, 6, 1.0)}
    assert not attacking_members(label, below, attack, inside, attacks).any()
