"""A small ring merged into a big community of strangers is judged by its own members."""

from __future__ import annotations

import numpy as np

from distillguard.detect.combine import cluster_scores, lift
from distillguard.detect.network.communities import Communities, split_communities
from distillguard.detect.network.links import LinkGraph

N_STRANGERS = 150
RING = np.arange(N_STRANGERS, N_STRANGERS + 8)


def _world() -> tuple[LinkGraph, Communities]:
    """150 strangers chained by shared exit addresses (weak, not specific), and a ring of 8
    sharing a payment card and a device (strong, specific) whose exit is one of theirs."""
    rng = np.random.default_rng(7)
    edges: dict[tuple[int, int], tuple[float, float]] = {}
    for a in range(N_STRANGERS):
        for b in rng.choice(N_STRANGERS, size=3, replace=False).tolist():
            if a != b:
                edges[(min(a, b), max(a, b))] = (0.2, 0.0)
    for i, a in enumerate(RING.tolist()):
        for b in RING[i + 1 :].tolist():
            edges[(a, b)] = (0.9, 0.9)
        edges[(int(rng.integers(N_STRANGERS)), a)] = (0.2, 0.0)
    pairs = sorted(edges)
    graph = LinkGraph(
        n_accounts=N_STRANGERS + RING.shape[0],
        src=np.array([p[0] for p in pairs]),
        dst=np.array([p[1] for p in pairs]),
        weight=np.array([edges[p][0] for p in pairs]),
        specific=np.array([edges[p][1] for p in pairs]),
    )
    n = graph.n_accounts
    # What modularity did on the full graph: everybody in one community.
    merged = Communities(
        np.zeros(n, dtype=np.int64), np.ones(n), {0: 0.2}, {0: np.arange(n)}, np.ones(n)
    )
    return graph, merged


def test_split_separates_the_ring_from_the_strangers() -> None:
    graph, merged = _world()
    comm = split_communities(graph, merged, [0])
    ring_labels = set(comm.label[RING].tolist())
    assert len(ring_labels) == 1
    (ring_label,) = ring_labels
    assert ring_label >= 0
    assert not (comm.label[:N_STRANGERS] == ring_label).any()
    assert (comm.strength[RING] > 0.9).all()


def test_ring_is_lifted_only_after_the_split_and_nobody_is_lowered() -> None:
    graph, merged = _world()
    own = np.full(graph.n_accounts, 0.02)
    own[RING] = np.linspace(0.3, 0.45, RING.shape[0])
    before = lift(own, merged.label, merged.strength, cluster_scores(own, merged.members, {0: 0.2}))
    assert (before[RING] < 0.5).all()
    comm = split_communities(graph, merged, [0])
    after = lift(own, comm.label, comm.strength, cluster_scores(own, comm.members, comm.cohesion))
    assert (after[RING] >= 0.5).all()
    assert (after[:N_STRANGERS] < 0.5).all()
    assert (after >= own).all() and (before >= own).all()


def test_split_of_nothing_is_the_identity() -> None:
    graph, merged = _world()
    assert split_communities(graph, merged, []) is merged
