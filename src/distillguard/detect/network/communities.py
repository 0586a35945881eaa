"""Communities of linked accounts (Leiden on the weighted link graph).

Leiden (Traag et al. 2019, https://doi.org/10.1038/s41598-019-41695-z) optimises modularity on
the weighted graph with a fixed seed, so a rerun on the same log gives the same clusters. Only
communities of two or more accounts are clusters; an account linked to nobody has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import igraph as ig
import leidenalg
import numpy as np

from distillguard.detect.network.links import LinkGraph

__all__ = ["Communities", "carve_cores", "find_communities", "split_communities"]


@dataclass(frozen=True, slots=True)
class Communities:
    """``label[i]`` the community of account row i (-1 = in no cluster); ``strength[i]`` the
    account's summed *specific* link weight (payment, device, sign-up, template, synchrony; not
    shared addresses) to other members of its community, saturated to [0, 1]; ``strength_all``
    the same over all links (addresses included); ``cohesion[c]`` the mean weight of the edges
    inside community c."""

    label: np.ndarray
    strength: np.ndarray
    cohesion: dict[int, float]
    members: dict[int, np.ndarray]
    strength_all: np.ndarray = field(default_factory=lambda: np.zeros(0))


def find_communities(graph: LinkGraph, seed: int = 42) -> Communities:
    n = graph.n_accounts
    if graph.src.shape[0] == 0:
        return Communities(np.full(n, -1, dtype=np.int64), np.zeros(n), {}, {}, np.zeros(n))
    touched = np.unique(np.concatenate([graph.src, graph.dst]))
    return _summarise(graph, touched, _leiden(graph, touched, seed))


def split_communities(
    graph: LinkGraph, comm: Communities, which: Iterable[int], seed: int = 42
) -> Communities:
    """``comm`` with each community in ``which`` replaced by the communities Leiden finds in
    its own subgraph.

    Modularity has a resolution limit (Fortunato & Barthelemy 2007): a small ring weakly
    linked into a big community of strangers (a shared exit address is enough) is merged into
    it, and the big community's score, set by strangers, tells nothing about the ring. On the
    community's own subgraph the null model is that community alone, so the ring stands out.
    """
    chosen = sorted(set(which))
    if not chosen:
        return comm
    label = comm.label.copy()
    inner = np.zeros(graph.n_accounts, dtype=bool)
    for c in chosen:
        inner[comm.members[c]] = True
    keep = inner[graph.src] & inner[graph.dst] & (label[graph.src] == label[graph.dst])
    offset = int(label.max()) + 1
    for c in chosen:
        rows = comm.members[c]
        sel = keep & (label[graph.src] == c)
        sub_src, sub_dst, sub_w = graph.src[sel], graph.dst[sel], graph.weight[sel]
        memb = _leiden_edges(rows, sub_src, sub_dst, sub_w, seed)
        label[rows] = memb + offset
        offset += int(memb.max()) + 1
    touched = np.flatnonzero(label >= 0)
    return _summarise(graph, touched, label[touched])


def carve_cores(
    graph: LinkGraph,
    comm: Communities,
    joint: np.ndarray,
    keep: Iterable[int] = (),
    min_joint: float = 0.5,
    min_size: int = 4,
    min_group_share: float = 0.5,
) -> Communities:
    """``comm`` with each *core* made a community of its own: a connected group of at least
    ``min_size`` accounts whose ``joint[i]`` (an account's part in *both* collective
    behaviours, e.g. ``min(chase, coverage)``) reaches ``min_joint``, tied to each other by
    direct links (of any kind) or by *rare infrastructure they dominate*: an address or subnet
    of ``graph.groups`` (shared by three to a few hundred accounts) at least
    ``min_group_share`` of whose users take part, which ties its participants together with
    weight ``0.8 * share`` (the address link's alpha times how exclusively harvesters use it).
    Members of the communities in ``keep`` (those whose collective behaviour already shows as
    a whole) stay where they are.

    A low-and-slow fleet sends through the same commercial proxies and VPN exits as hundreds
    of customers, so modularity puts its accounts in big communities of strangers where they
    are a minority and the community's collective shares stay low. Doing both things a
    harvesting job does (moving to a new release within a day *and* sweeping the task space) is
    rare among customers (a few percent in the tuning worlds, researchers most); several such
    accounts linked to each other are the job showing through. An operator that sends only a
    trickle through its own egress addresses leaves no link strong enough to survive the
    document-frequency weighting (one address shared by thirty accounts looks like a VPN exit),
    but a VPN exit's thirty users are strangers who mostly do neither, while the operator's
    address is used by its fleet alone.
    """
    part_any = np.nan_to_num(joint) >= min_joint
    kept = np.isin(comm.label, np.asarray(sorted(set(keep)), dtype=np.int64))
    part = part_any & ~kept
    n = graph.n_accounts
    sel = part[graph.src] & part[graph.dst]
    g_keys: list[np.ndarray] = []
    g_weights: list[np.ndarray] = []
    for members in graph.groups:
        share = float(part_any[members].mean())
        tied = members[part[members]]
        if tied.shape[0] < min_size or share < min_group_share:
            continue
        a, b = np.triu_indices(tied.shape[0], k=1)
        g_keys.append(np.minimum(tied[a], tied[b]) * n + np.maximum(tied[a], tied[b]))
        g_weights.append(np.full(a.shape[0], 0.8 * share))
    if not sel.any() and not g_keys:
        return comm
    src, dst, weight, specific = graph.src, graph.dst, graph.weight, graph.specific
    if g_keys:
        # Add the infrastructure ties (the stronger where a pair is linked already).
        keys = np.concatenate([src * n + dst, *g_keys])
        w = np.concatenate([weight, *g_weights])
        spec = np.concatenate([specific, *(np.zeros(k.shape[0]) for k in g_keys)])
        order = np.lexsort((-w, keys))
        keys, w, spec = keys[order], w[order], spec[order]
        first = np.concatenate([[True], keys[1:] != keys[:-1]])
        keys, weight, specific = keys[first], w[first], spec[first]
        src, dst = keys // n, keys % n
        graph = LinkGraph(n, src, dst, weight, specific, {}, graph.shared, graph.groups)
        sel = part[src] & part[dst]
    nodes = np.flatnonzero(part)
    local = np.full(n, -1, dtype=np.int64)
    local[nodes] = np.arange(nodes.shape[0])
    g = ig.Graph(
        n=nodes.shape[0],
        edges=list(zip(local[src[sel]].tolist(), local[dst[sel]].tolist(), strict=True)),
    )
    label = comm.label.copy()
    offset = int(label.max()) + 1 if label.size else 0
    carved = False
    for comp in g.connected_components():
        if len(comp) < min_size:
            continue
        label[nodes[np.asarray(comp)]] = offset
        offset += 1
        carved = True
    if not carved:
        return comm
    touched = np.flatnonzero(label >= 0)
    return _summarise(graph, touched, label[touched])


def _leiden(graph: LinkGraph, touched: np.ndarray, seed: int) -> np.ndarray:
    return _leiden_edges(touched, graph.src, graph.dst, graph.weight, seed)


def _leiden_edges(
    nodes: np.ndarray, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, seed: int
) -> np.ndarray:
    """Leiden membership of ``nodes`` (sorted account rows) on the edges given."""
    local = {int(a): i for i, a in enumerate(nodes.tolist())}
    edges = [(local[int(a)], local[int(b)]) for a, b in zip(src, dst, strict=True)]
    g = ig.Graph(n=nodes.shape[0], edges=edges)
    g.es["weight"] = weight.tolist()
    part = leidenalg.find_partition(
        g, leidenalg.ModularityVertexPartition, weights="weight", seed=seed, n_iterations=-1
    )
    return np.asarray(part.membership, dtype=np.int64)


def _summarise(graph: LinkGraph, touched: np.ndarray, memb: np.ndarray) -> Communities:
    """Communities from the membership ``memb`` of the rows ``touched``: clusters of two or
    more, strengths, cohesion."""
    n = graph.n_accounts
    label = np.full(n, -1, dtype=np.int64)
    _, memb = np.unique(memb, return_inverse=True)
    sizes = np.bincount(memb)
    # Renumber clusters of size >= 2 by descending size, then by smallest member (stable ids).
    order = sorted(
        (c for c in range(sizes.shape[0]) if sizes[c] >= 2),
        key=lambda c: (-int(sizes[c]), int(touched[memb == c].min())),
    )
    renum = {c: k for k, c in enumerate(order)}
    for loc, c in enumerate(memb.tolist()):
        if c in renum:
            label[touched[loc]] = renum[c]
    same = label[graph.src] == label[graph.dst]
    inside = same & (label[graph.src] >= 0)
    deg = np.zeros(n)
    np.add.at(deg, graph.src[inside], graph.specific[inside])
    np.add.at(deg, graph.dst[inside], graph.specific[inside])
    strength = 1.0 - np.exp(-deg / 1.0)
    deg_all = np.zeros(n)
    np.add.at(deg_all, graph.src[inside], graph.weight[inside])
    np.add.at(deg_all, graph.dst[inside], graph.weight[inside])
    strength_all = 1.0 - np.exp(-deg_all / 1.0)
    cohesion: dict[int, float] = {}
    members: dict[int, np.ndarray] = {}
    for c in range(len(order)):
        members[c] = np.flatnonzero(label == c)
        w = graph.weight[inside & (label[graph.src] == c)]
        cohesion[c] = float(w.mean()) if w.size else 0.0
    return Communities(label, strength, cohesion, members, strength_all)
