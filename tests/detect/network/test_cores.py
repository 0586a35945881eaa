"""Low-and-slow cores: accounts that each do both things a harvesting job does, linked to each
other inside a big community of strangers, are judged together; what a member takes part in is
measured against what its cluster does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from distillguard.detect.network.collective import Collective, aligned_participation
from distillguard.detect.network.communities import Communities, carve_cores
from distillguard.detect.network.links import LinkGraph
from tests.detect.worlds import exit_chain_pairs

N = 60
FLEET = np.arange(50, 56)


def _world() -> tuple[LinkGraph, Communities]:
    """60 accounts chained by shared exits into one community; six of them (the fleet) also
    linked to each other, and three loose participants among the strangers."""
    pairs = exit_chain_pairs(N, FLEET.tolist())
    graph = LinkGraph(
        n_accounts=N,
        src=np.array([p[0] for p in pairs]),
        dst=np.array([p[1] for p in pairs]),
        weight=np.full(len(pairs), 0.3),
        specific=np.zeros(len(pairs)),
    )
    comm = Communities(
        np.zeros(N, dtype=np.int64), np.zeros(N), {0: 0.3}, {0: np.arange(N)}, np.ones(N)
    )
    return graph, comm


def _unlinked(n: int, **groups: tuple[np.ndarray, ...]) -> LinkGraph:
    """``n`` accounts with no link, only the shared-value groups given (``groups``,
    ``key_groups``)."""
    empty = np.zeros(0, dtype=np.int64)
    return LinkGraph(n, empty, empty, np.zeros(0), np.zeros(0), **groups)  # type: ignore[arg-type]


def _joint() -> np.ndarray:
    joint = np.zeros(N)
    joint[FLEET] = 0.9
    joint[[3, 17, 31]] = 0.9  # customers who do both, not linked to each other
    return joint


def test_a_linked_group_doing_both_is_carved_out_of_a_community_of_strangers() -> None:
    graph, comm = _world()
    out = carve_cores(graph, comm, _joint())
    fleet_labels = set(out.label[FLEET].tolist())
    assert len(fleet_labels) == 1
    core = fleet_labels.pop()
    assert core >= 0
    assert set(np.flatnonzero(out.label == core).tolist()) <= set(FLEET.tolist()) | {3, 17, 31}
    assert (out.label[[i for i in range(N) if i not in FLEET]] != core).sum() >= N - 9


def test_no_core_below_min_size_or_in_kept_communities() -> None:
    graph, comm = _world()
    assert carve_cores(graph, comm, _joint(), min_size=10) is comm
    assert carve_cores(graph, comm, _joint(), keep=[0]) is comm


def test_a_member_tied_only_by_addresses_must_do_what_its_cluster_does() -> None:
    label = np.zeros(4, dtype=np.int64)
    chasing = {0: Collective(1.0, 0.95, 0.6, 4, ())}  # above all, moved to the new release
    chase = np.array([0.9, 0.9, 0.0, 0.0])
    coverage = np.array([0.8, 0.8, 0.8, 0.8])
    specific = np.array([0.0, 0.0, 0.0, 0.8])
    part = aligned_participation(label, chasing, chase, coverage, specific)
    assert part[0] > 0.8
    assert part[2] < 0.35  # swept tasks, as many customers do, but did not chase
    assert part[3] == 0.8  # tied by a card or a template: either behaviour counts


def test_in_a_cluster_that_does_both_either_behaviour_is_taking_part() -> None:
    label = np.zeros(3, dtype=np.int64)
    both = {0: Collective(1.0, 0.7, 0.95, 40, ())}  # chased the release *and* swept tasks
    chase = np.array([0.0, 0.9, 0.0])
    coverage = np.array([1.0, 0.0, 0.1])
    part = aligned_participation(label, both, chase, coverage, np.zeros(3))
    assert part[0] == 1.0  # swept the task space like the rest, kept to the old model
    assert part[1] == 0.9
    assert part[2] < 0.15  # did neither


def test_rare_address_dominated_by_participants_ties_them_into_a_core() -> None:
    """Six participants and one bystander share an operator address (too many for its link to
    survive); a VPN exit shared by four participants and eight strangers ties nobody."""
    n = 30
    operator = np.array([0, 1, 2, 3, 4, 5, 6])
    vpn = np.array([10, 11, 12, 13, 20, 21, 22, 23, 24, 25, 26, 27])
    graph = LinkGraph(
        n_accounts=n,
        src=np.array([20]),
        dst=np.array([21]),
        weight=np.array([0.3]),
        specific=np.zeros(1),
        groups=(operator, vpn),
    )
    comm = Communities(np.full(n, -1, dtype=np.int64), np.zeros(n), {}, {}, np.zeros(n))
    joint = np.zeros(n)
    joint[[0, 1, 2, 3, 4, 5, 10, 11, 12, 13]] = 0.8
    out = carve_cores(graph, comm, joint)
    core = out.label[0]
    assert core >= 0
    assert set(np.flatnonzero(out.label == core).tolist()) == {0, 1, 2, 3, 4, 5}
    assert (out.label[[10, 11, 12, 13]] < 0).all()
    assert (out.strength_all[:6] > 0.9).all()  # tied to five others at 0.8 * 6/7 each
    assert (out.strength[:6] == 0.0).all()  # an address is no specific link


def test_an_anchored_account_joins_the_shown_fleet_whose_operator_address_it_uses() -> None:
    """Accounts 0-5 are a community whose collective behaviour already shows (kept); 6 and 7
    take part too but sit in a community of strangers, tied to the fleet only by an operator
    address; 9 only sweeps tasks (one behaviour) and sends through that address alone; 8 shares
    it but does neither."""
    n = 20
    label = np.full(n, -1, dtype=np.int64)
    label[:6] = 0
    label[6:12] = 1
    graph = LinkGraph(
        n_accounts=n,
        src=np.array([0, 6, 7]),
        dst=np.array([1, 9, 10]),
        weight=np.array([0.9, 0.3, 0.3]),
        specific=np.zeros(3),
        groups=(np.array([2, 3, 4, 5, 6, 7, 8, 9]),),
    )
    comm = Communities(
        label, np.zeros(n), {0: 0.9, 1: 0.3}, {0: np.arange(6), 1: np.arange(6, 12)}, np.ones(n)
    )
    joint = np.zeros(n)
    joint[:8] = 0.8
    either = joint.copy()
    either[9] = 1.0
    out = carve_cores(graph, comm, joint, keep=[0], either=either)
    fleet = out.label[0]
    assert (out.label[[2, 3, 4, 5, 6, 7, 9]] == fleet).all()
    assert out.label[8] != fleet
    assert out.strength_all[6] > 0.9
    # Without ``either`` only the participants join.
    assert carve_cores(graph, comm, joint, keep=[0]).label[9] != fleet


def test_a_customer_roaming_shared_exits_is_not_anchored_by_one_operator_address() -> None:
    """Account 8 chases and sweeps like the fleet and shares its operator address, but sends
    through three other rare exits used by strangers: one exit of many, not its operator's."""
    n = 40
    label = np.full(n, -1, dtype=np.int64)
    label[:6] = 0
    operator = np.array([2, 3, 4, 5, 6, 7, 8])
    exits = tuple(np.array([8, *range(10 + 6 * k, 16 + 6 * k)]) for k in range(3))
    graph = LinkGraph(
        n_accounts=n,
        src=np.array([0]),
        dst=np.array([1]),
        weight=np.array([0.9]),
        specific=np.zeros(1),
        groups=(operator, *exits),
    )
    comm = Communities(label, np.zeros(n), {0: 0.9}, {0: np.arange(6)}, np.ones(n))
    joint = np.zeros(n)
    joint[:9] = 0.8
    out = carve_cores(graph, comm, joint, keep=[0])
    assert (out.label[[6, 7]] == out.label[0]).all()
    assert out.label[8] != out.label[0]


def test_participants_left_after_joining_form_a_core_and_anchored_sweepers_follow_it() -> None:
    """No community shows yet: five participants on one operator address become a core, and an
    account on that address alone that only sweeps follows them."""
    n = 12
    comm = Communities(np.full(n, -1, dtype=np.int64), np.zeros(n), {}, {}, np.zeros(n))
    graph = _unlinked(n, groups=(np.arange(7),))
    joint = np.zeros(n)
    joint[:5] = 0.9
    either = joint.copy()
    either[5] = 0.9
    out = carve_cores(graph, comm, joint, either=either)
    core = out.label[0]
    assert core >= 0
    assert set(np.flatnonzero(out.label == core).tolist()) == {0, 1, 2, 3, 4, 5}


def test_participants_tied_only_by_a_template_form_no_core() -> None:
    graph, comm = _world()
    fleet_edge = np.isin(graph.src, FLEET) & np.isin(graph.dst, FLEET)
    # the fleet's edges are all template (nothing left without it), the others addresses
    untemplated = np.where(fleet_edge, 0.0, graph.weight)
    tied = replace(graph, weight_untemplated=untemplated)
    assert (carve_cores(tied, comm, _joint()).label[FLEET] == 0).all()
    kept = replace(graph, weight_untemplated=np.where(fleet_edge, 0.3, graph.weight))
    assert len(set(carve_cores(kept, comm, _joint()).label[FLEET].tolist()) - {0}) == 1


def test_a_client_fingerprint_whose_users_do_the_job_ties_them_into_a_core() -> None:
    """Sixteen accounts share nothing but an operator's TLS stack, and all sweep or harvest,
    most both; 40 users of a popular client include as many who do both, among strangers
    who do neither. Only the operator's fingerprint gathers a core."""
    n = 60
    operator = np.arange(0, 16)
    popular = np.arange(16, 56)
    graph = _unlinked(n, key_groups=(operator, popular))
    comm = Communities(np.full(n, -1, dtype=np.int64), np.zeros(n), {}, {}, np.zeros(n))
    joint = np.zeros(n)
    joint[operator[:11]] = 0.8  # two of the three behaviours
    joint[popular[:12]] = 0.8
    any_of = joint.copy()
    any_of[operator[11:]] = 0.7  # the rest of the fleet sweeps only
    out = carve_cores(graph, comm, joint, any_of=any_of)
    core = out.label[0]
    assert core >= 0
    assert set(np.flatnonzero(out.label == core).tolist()) == set(operator[:11].tolist())
    assert (out.label[popular] < 0).all()
    assert (out.strength_all[operator[:11]] > 0.9).all()
    # Fewer than key_min_size participants: a handful of friends on one niche client.
    assert carve_cores(graph, comm, joint, any_of=any_of, key_min_size=12) is comm
    # Seen taking part in nothing else, a third of the fleet looks like bystanders.
    assert carve_cores(graph, comm, joint) is comm


def test_a_popular_client_a_shown_fleet_runs_on_gathers_none_of_its_other_users() -> None:
    """A fleet already shown as a whole (community 0) runs on a popular client; the client's
    other users sweep or move to the new model as customers do. Judged on those others, the
    client is nobody's operator stack."""
    n = 80
    fleet = np.arange(0, 40)
    client = np.arange(0, 70)  # the fleet and 30 customers
    graph = _unlinked(n, key_groups=(client,))
    label = np.full(n, -1, dtype=np.int64)
    label[fleet] = 0
    comm = Communities(label, np.zeros(n), {0: 0.5}, {0: fleet}, np.zeros(n))
    joint = np.zeros(n)
    joint[fleet] = 0.9
    joint[40:52] = 0.8  # customers who both sweep and moved
    any_of = joint.copy()
    any_of[52:60] = 0.6  # the other ten do neither
    assert carve_cores(graph, comm, joint, keep=[0], any_of=any_of) is comm
    # Not yet shown, the same fleet makes the client its operator stack.
    out = carve_cores(graph, comm, joint, any_of=any_of)
    assert out is not comm
