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
    inside community c; ``graph`` the links these were summed over (``carve_cores`` adds the
    ties of operator addresses to the audit's graph; None where built by hand)."""

    label: np.ndarray
    strength: np.ndarray
    cohesion: dict[int, float]
    members: dict[int, np.ndarray]
    strength_all: np.ndarray = field(default_factory=lambda: np.zeros(0))
    graph: LinkGraph | None = None


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
    either: np.ndarray | None = None,
    min_joint: float = 0.5,
    min_size: int = 4,
    min_group_share: float = 0.5,
    min_own_share: float = 0.5,
    key_min_size: int = 10,
    key_min_either: float = 0.75,
    key_min_joint: float = 0.3,
    any_of: np.ndarray | None = None,
) -> Communities:
    """``comm`` with the accounts that send through a fleet's own rare addresses gathered with
    their fleet: joined to the community in ``keep`` they are tied to, or carved out as a *core*.

    ``joint[i]`` is an account's part in the collective behaviours taken together (e.g.
    ``min(chase, coverage)``, or the middle of three: at least two of them), ``either[i]`` its
    part in at least one (``max``; default ``joint``); an
    account *participates* where ``joint`` reaches ``min_joint``. ``keep`` are the communities
    whose collective behaviour already shows as a whole: their members stay where they are.

    **Operator addresses.** An address or subnet of ``graph.groups`` (shared by three to a few
    hundred accounts) at least ``min_group_share`` of whose users, and at least ``min_size``,
    participate. A low-and-slow fleet sends through the same commercial proxies and VPN exits
    as hundreds of customers, so modularity puts its accounts in big communities of strangers
    where they are a minority and the community's collective shares stay low; and an operator
    that sends only a trickle through its own egress leaves no link strong enough to survive
    the document-frequency weighting (one address shared by thirty accounts looks like a VPN
    exit). But a VPN exit's thirty users are strangers who mostly do neither, while the
    operator's address is used by its fleet, most of which does two of them (moving to a new
    release within a day, sweeping the task space, harvesting reasoning: a few percent of
    customers in the tuning worlds, researchers most).

    **Operator clients.** A client fingerprint of ``graph.key_groups`` at least
    ``key_min_either`` of whose users take part in at least one behaviour (``any_of``, default
    ``either``: the largest of the three) and
    ``key_min_joint``, and at least ``key_min_size``, in two. A fingerprint says more than an
    address (an operator can rent fresh home addresses for each account, not change the TLS
    stack its harvesting script runs on) but is shared by everybody on a popular client, so it
    counts only as far as its users behave alike: in the tuning worlds, whose 30 fingerprints
    are each shared by strangers and campaign accounts alike, no group with ten participants
    reaches 0.62 taking part in one behaviour; the 80 accounts of a distillation operator that
    share nothing else (``benchmarks.foreign``, diagnosis seed 1) reach 0.88, 45% in two.
    Non-operator fingerprints do not count towards the rare values an account uses. The test
    reads only the users outside the ``keep`` communities: a proxy fleet of 240 on a popular
    SDK made its fingerprint look like an operator's on hard evaluation seed 104 (without
    content, where sweeping and moving were all it read), and gathered 48 customers who share
    the SDK and moved to the new model into the fleet's cluster.

    **Anchored accounts.** Those that take part in at least one behaviour (``either``) and use
    operator addresses for at least ``min_own_share`` of the rare addresses they use. A fleet
    account sends mostly through its operator's few addresses; a customer that shares one
    exit of a commercial VPN with a fleet roams over a dozen others used by strangers, and is
    not anchored however much it happens to chase and sweep itself.

    Then, in order: (1) an anchored account outside the kept communities that shares operator
    addresses with their members joins the kept community it shares them with most (repeated,
    so one tied only to accounts that just joined follows them): a fleet whose collective
    behaviour already shows gathers the members modularity left among strangers; (2) the
    participants left, linked to each other directly (any link strong enough without its
    template part, ``graph.weight_untemplated``) or by operator addresses (the anchored ones),
    become a core where at least ``min_size`` are linked; (3) anchored accounts still outside
    join a core they share operator addresses with, as in (1). Operator addresses tie their
    anchored users with weight ``0.8 * share`` (the address link's alpha times how exclusively
    participants use it), which the strengths of the result include. A template alone does not
    gather a core: a researcher who sweeps tasks and asks for reasoning, as a fleet does, and
    stamps a wrapper worded like an operator's was carved into that operator's core and lifted
    by the template (hard tuning world 5); the lift already weighs template links on their own.
    """
    part = np.nan_to_num(joint) >= min_joint
    takes_part = part | (np.nan_to_num(either) >= min_joint) if either is not None else part
    any_part = takes_part if any_of is None else np.nan_to_num(any_of) >= min_joint
    kept = np.isin(comm.label, np.asarray(sorted(set(keep)), dtype=np.int64))
    n = graph.n_accounts
    n_rare = np.zeros(n)
    n_operator = np.zeros(n)
    operator: list[np.ndarray] = []
    for members in graph.groups:
        n_rare[members] += 1
        k = int(part[members].sum())
        if k >= min_size and k >= min_group_share * members.shape[0]:
            operator.append(members)
            n_operator[members] += 1
    for members in graph.key_groups:
        # judged on its users outside the fleets already shown: a fleet on a popular client
        # makes it look like an operator's to the strangers who share it
        free = members[~kept[members]]
        k = int(part[free].sum())
        if (
            k >= key_min_size
            and k >= key_min_joint * free.shape[0]
            and any_part[free].mean() >= key_min_either
        ):
            operator.append(members)
            n_rare[members] += 1
            n_operator[members] += 1
    anchored = takes_part & (n_operator > 0) & (n_operator >= min_own_share * n_rare)
    tied = [m[anchored[m]] for m in operator]
    label = comm.label.copy()
    home = np.where(kept, label, -1)
    _join(home, tied, ~kept & anchored)
    # (2) cores among the participants left
    rest = part & (home < 0)
    sel = rest[graph.src] & rest[graph.dst]
    if graph.weight_untemplated.shape[0] == sel.shape[0]:
        # build_links' min_weight: an edge kept only by its template part ties nobody here
        sel &= graph.weight_untemplated >= 0.2
    edges = [np.stack([graph.src[sel], graph.dst[sel]], axis=1)]
    for t in tied:
        t = t[rest[t]]
        if t.shape[0] >= 2:
            edges.append(np.stack([np.full(t.shape[0] - 1, t[0]), t[1:]], axis=1))
    pairs = np.concatenate(edges)
    nodes = np.flatnonzero(rest)
    local = np.full(n, -1, dtype=np.int64)
    local[nodes] = np.arange(nodes.shape[0])
    g = ig.Graph(n=nodes.shape[0], edges=local[pairs].tolist())
    offset = int(label.max()) + 1 if label.size else 0
    cores = np.full(n, -1, dtype=np.int64)
    for comp in g.connected_components():
        if len(comp) >= min_size:
            cores[nodes[np.asarray(comp, dtype=np.int64)]] = offset
            offset += 1
    # (3) anchored accounts still outside follow a core they share operator addresses with
    _join(cores, tied, anchored & (home < 0) & (cores < 0))
    moved = (home >= 0) & ~kept
    label = np.where(moved, home, np.where(cores >= 0, cores, label))
    if not (moved.any() or (cores >= 0).any()):
        return comm
    graph = _with_ties(graph, operator, tied, part)
    touched = np.flatnonzero(label >= 0)
    return _summarise(graph, touched, label[touched])


def _join(home: np.ndarray, tied: list[np.ndarray], free: np.ndarray, rounds: int = 5) -> None:
    """In place: each ``free`` account without a ``home`` (-1) that shares a group of ``tied``
    with accounts that have one takes the home it shares most (ties: the smaller), repeated
    ``rounds`` times so that it can follow accounts that joined in an earlier round."""
    for _ in range(rounds):
        votes: dict[int, dict[int, int]] = {}
        for t in tied:
            homes = home[t][home[t] >= 0]
            if homes.shape[0] == 0:
                continue
            hv, hc = np.unique(homes, return_counts=True)
            for x in t[(home[t] < 0) & free[t]].tolist():
                d = votes.setdefault(x, {})
                for h, c in zip(hv.tolist(), hc.tolist(), strict=True):
                    d[h] = d.get(h, 0) + c
        if not votes:
            return
        for x, d in votes.items():
            home[x] = max(d.items(), key=lambda kv: (kv[1], -kv[0]))[0]


def _with_ties(
    graph: LinkGraph, operator: list[np.ndarray], tied: list[np.ndarray], part: np.ndarray
) -> LinkGraph:
    """``graph`` plus an address tie of weight ``0.8 * share`` between the anchored users of
    each operator address (the stronger where a pair is linked already)."""
    n = graph.n_accounts
    keys_l: list[np.ndarray] = [graph.src * n + graph.dst]
    w_l: list[np.ndarray] = [graph.weight]
    spec_l: list[np.ndarray] = [graph.specific]
    for members, t in zip(operator, tied, strict=True):
        if t.shape[0] < 2:
            continue
        a, b = np.triu_indices(t.shape[0], k=1)
        keys_l.append(np.minimum(t[a], t[b]) * n + np.maximum(t[a], t[b]))
        w_l.append(np.full(a.shape[0], 0.8 * float(part[members].mean())))
        spec_l.append(np.zeros(a.shape[0]))
    if len(keys_l) == 1:
        return graph
    keys, w, spec = np.concatenate(keys_l), np.concatenate(w_l), np.concatenate(spec_l)
    order = np.lexsort((-w, keys))
    keys, w, spec = keys[order], w[order], spec[order]
    first = np.concatenate([[True], keys[1:] != keys[:-1]])
    keys, w, spec = keys[first], w[first], spec[first]
    return LinkGraph(
        n, keys // n, keys % n, w, spec, {}, graph.shared, graph.groups,
        key_groups=graph.key_groups,
    )  # fmt: skip


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
    return Communities(label, strength, cohesion, members, strength_all, graph)
