"""The account network: which accounts share infrastructure or behaviour, and how strongly.

Input is a list of (account, kind, value) link keys: a client address, a /24 + network + day, a
device fingerprint, a payment instrument, a sign-up device, a sign-up burst from one network or
a fresh e-mail domain (identity's ``score_signups`` groups), a prompt template.
Two accounts sharing a value are linked; the strength of a link is built so that a common value
says little:

- each shared value weighs ``df ** -0.75`` where ``df`` is how many accounts use it (an
  IDF-like weight), so a corporate NAT address, a popular VPN exit or a chat app's backend that
  hundreds of accounts share links each pair only weakly;
- addresses and subnets shared by more than ``max_df_infra`` accounts say nothing alone
  (they are public infrastructure, not an operator's);
- but two accounts whose *address sets* overlap (Jaccard, at least two shared addresses,
  values shared by up to ``max_df_overlap`` accounts) are linked however common each address
  is: a fleet sends through the operator's set of egress addresses, while strangers on a VPN
  share one or two exits out of dozens;
- per kind, the shared weights add up and saturate: ``1 - exp(-sum / tau)``; kinds combine as
  independent evidence ``1 - prod(1 - alpha_k * s_k)``;
- a prompt template (``detect.content.templates.shared_templates``: a rare template stamped by
  accounts of more than one org, which is what makes it rare already) weighs ``df ** -0.25``:
  one operator's template stamped across its whole fleet stays strong evidence however large the
  fleet, where a shared address would not (the lift weighs an account's template links by the
  share of its own prompts that carry the template: ``combine.template_weight``);
- within one organisation (same ``org_id``) payment, device, sign-up and template links count a
  third: colleagues sharing the company card or the team's in-house tool is expected;
- synchronised activity (in the spirit of SynchroTrap, Cao et al. 2014): for pairs already
  linked, the share of their active 5-minute buckets they have in common *beyond chance given
  the hours both were active* adds evidence (colleagues who keep the same office hours and two
  always-on services prove nothing; accounts driven in lock-step by one scheduler do).

Pure: numpy in, numpy out. Pairs are generated per value: all pairs up to ``max_pairs_df``
members, beyond that each member is chained to its next few neighbours, which keeps a large
campaign connected without a quadratic number of edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from distillguard.detect.behaviour.frame import ramp
from distillguard.detect.content.templates import carrying_shares, link_values, shared_templates

__all__ = [
    "KIND_WEIGHTS",
    "LinkGraph",
    "TemplateKeys",
    "build_links",
    "template_link_keys",
    "value_weight",
]

# alpha_k (how much one kind of link can say) and tau_k (summed shared weight for ~63%).
KIND_WEIGHTS: dict[str, tuple[float, float]] = {
    "payment": (0.9, 0.5),
    "signup_device": (0.8, 0.5),
    "device": (0.7, 0.7),
    "ip": (0.8, 1.0),
    "signup_burst": (0.6, 0.5),
    "signup_domain": (0.5, 0.5),
    "subnet": (0.4, 2.0),
    "template": (0.6, 0.4),
    "sync": (0.5, 1.0),
}
_ORG_DISCOUNTED = frozenset(
    {"payment", "device", "signup_device", "signup_burst", "signup_domain", "template"}
)
# How fast a value's weight falls with the number of accounts sharing it (value_weight).
_DF_EXPONENT: dict[str, float] = {"template": 0.25}
_INFRA = frozenset({"ip", "subnet"})


def value_weight(df: np.ndarray, exponent: float = 0.75) -> np.ndarray:
    """IDF-like weight of a value shared by ``df`` accounts: 0.59 for two, 0.18 for ten,
    0.08 for thirty. Steeper than log-IDF on purpose: a commercial VPN exit or proxy that
    dozens of strangers share must not tie them together."""
    return np.asarray(np.maximum(df, 1.0) ** -exponent)


@dataclass(frozen=True, slots=True)
class LinkGraph:
    """Weighted undirected edges between account rows (``src < dst``).

    ``weight`` in [0, 1]; ``specific`` the same combination without address and subnet links
    (which strangers share through public proxies and VPN exits): only these lift a member's
    score, while all links shape the clusters; ``by_kind`` the per-kind strength s_k of each
    edge (same order);
    ``specific_untemplated`` and ``weight_untemplated`` the specific and overall combinations
    without template links (a template is
    one piece of evidence however many accounts stamp it: the lift counts it once, see
    ``combine.guilty_strength``); ``template_share`` per account row, the share of its sampled
    prompts that carry a template it stamps (0 = none);
    ``shared`` per kind, the values each account shares with somebody (for evidence);
    ``groups`` the accounts behind each address or subnet shared by three to
    ``max_df_overlap`` accounts, however weak the links it makes (the rare infrastructure a
    fleet shares: ``communities.carve_cores`` asks whether its users behave as one job);
    ``key_groups`` the same for each client fingerprint shared by three to ``max_df_key``
    accounts (an operator's own TLS stack or SDK build, or a popular client: which, only what
    its users do tells).
    """

    n_accounts: int
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    specific: np.ndarray = field(default_factory=lambda: np.zeros(0))
    by_kind: dict[str, np.ndarray] = field(default_factory=dict)
    shared: dict[str, dict[int, tuple[str, ...]]] = field(default_factory=dict)
    groups: tuple[np.ndarray, ...] = ()
    specific_untemplated: np.ndarray = field(default_factory=lambda: np.zeros(0))
    template_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weight_untemplated: np.ndarray = field(default_factory=lambda: np.zeros(0))
    key_groups: tuple[np.ndarray, ...] = ()


def _pairs_for_group(members: np.ndarray, max_pairs_df: int, chain: int) -> np.ndarray:
    m = members.shape[0]
    if m <= max_pairs_df:
        a, b = np.triu_indices(m, k=1)
        return np.stack([members[a], members[b]], axis=1)
    out = []
    for step in range(1, chain + 1):
        out.append(np.stack([members[:-step], members[step:]], axis=1))
    return np.concatenate(out, axis=0)


_BUCKETS_PER_HOUR = 12  # active buckets are 5 minutes long


def _sync_excess(
    src: np.ndarray, dst: np.ndarray, active_buckets: dict[int, np.ndarray]
) -> np.ndarray:
    """Per pair, how much more often both accounts were active in the same 5-minute bucket
    than chance *within the hours both were active*, as a share of what lock-step would give:
    ``(shared - expected) / (min(n_a, n_b) - expected)``, 1 for lock-step, about 0 by chance.

    The null model places each account's active buckets at random inside each of its active
    hours, so two people who both work office hours (or two always-on services) score about 0:
    sharing the same hours is what humans do; sharing the same minutes, hour after hour, is
    what one scheduler driving many accounts does.
    """
    hours: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    out = np.zeros(src.shape[0])
    for idx, (a, b) in enumerate(zip(src.tolist(), dst.tolist(), strict=True)):
        qa = active_buckets.get(a)
        qb = active_buckets.get(b)
        if qa is None or qb is None or qa.shape[0] < 6 or qb.shape[0] < 6:
            continue
        for r, q in ((a, qa), (b, qb)):
            if r not in hours:
                hours[r] = np.unique(q // _BUCKETS_PER_HOUR, return_counts=True)
        (ha, ca), (hb, cb) = hours[a], hours[b]
        _, ia, ib = np.intersect1d(ha, hb, assume_unique=True, return_indices=True)
        if ia.shape[0] == 0:
            continue
        expected = float((ca[ia] * cb[ib]).sum()) / _BUCKETS_PER_HOUR
        inter = np.intersect1d(qa, qb, assume_unique=True).shape[0]
        most = min(qa.shape[0], qb.shape[0])
        room = most - expected
        # When chance alone already explains most of the overlap (busy accounts), the rest
        # proves nothing.
        # A handful of shared buckets is what two strangers rotated onto the same proxy exit at
        # the same time share: lock-step needs many shared buckets, well beyond chance.
        if room >= max(3.0, 0.25 * most) and inter - expected >= max(6.0, 3.0 * expected**0.5):
            out[idx] = (inter - expected) / room
    return out


def build_links(
    account_rows: np.ndarray,
    kinds: np.ndarray,
    values: np.ndarray,
    n_accounts: int,
    orgs: np.ndarray | None = None,
    active_buckets: dict[int, np.ndarray] | None = None,
    template_share: Mapping[int, float] | None = None,
    *,
    max_df_infra: int = 50,
    max_df_overlap: int = 200,
    max_df_key: int = 5000,
    max_pairs_df: int = 60,
    chain: int = 4,
    min_weight: float = 0.2,
) -> LinkGraph:
    """Build the weighted account graph from link keys.

    ``account_rows`` are row indices into the account frame; ``orgs`` the org_id per account row
    (or None); ``active_buckets`` per row the sorted 5-minute buckets it was active in;
    ``template_share`` per row the share of its prompts that carry its template
    (``template_link_keys``). Edges weaker than ``min_weight`` are dropped.
    """
    n = n_accounts
    share = np.zeros(n)
    for r, v in (template_share or {}).items():
        share[int(r)] = float(v)
    per_kind: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    ip_jaccard: tuple[np.ndarray, np.ndarray] | None = None
    shared: dict[str, dict[int, tuple[str, ...]]] = {}
    groups: list[np.ndarray] = []
    key_groups: list[np.ndarray] = []
    kinds = np.asarray(kinds, dtype=object)
    values = np.asarray(values, dtype=object)
    account_rows = np.asarray(account_rows, dtype=np.int64)
    for kind in KIND_WEIGHTS:
        if kind == "sync":
            continue
        sel = kinds == kind
        if not sel.any():
            continue
        rows = account_rows[sel]
        uniq, inv = np.unique(values[sel].astype(str), return_inverse=True)
        order = np.argsort(inv, kind="stable")
        inv_sorted = inv[order]
        rows_sorted = rows[order]
        bounds = np.flatnonzero(np.diff(inv_sorted)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [inv_sorted.shape[0]]])
        key_parts: list[np.ndarray] = []
        weight_parts: list[np.ndarray] = []
        kind_shared: dict[int, list[str]] = {}
        overlap = kind == "ip"
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if e - s < 2:
                continue
            members = np.unique(rows_sorted[s:e])
            df = members.shape[0]
            too_common = kind in _INFRA and df > max_df_infra
            if overlap and 3 <= df <= max_df_overlap:
                groups.append(members)
            if kind == "device" and 3 <= df <= max_df_key:
                key_groups.append(members)
            if df < 2 or (too_common and not (overlap and df <= max_df_overlap)):
                continue
            pairs = _pairs_for_group(
                members, max(max_pairs_df, max_df_overlap if overlap else 0), chain
            )
            key_parts.append(pairs[:, 0] * n + pairs[:, 1])
            # A value too common to say anything alone still counts towards the address-set
            # overlap below (an operator's egress shared by its whole fleet).
            exponent = _DF_EXPONENT.get(kind, 0.75)
            w = 0.0 if too_common else float(value_weight(np.array([df]), exponent)[0])
            weight_parts.append(np.full(pairs.shape[0], w))
            label = str(uniq[inv_sorted[s]])
            for m in members[:200].tolist():
                lst = kind_shared.setdefault(m, [])
                if len(lst) < 5:
                    lst.append(label)
        if key_parts:
            keys_k, inv_k = np.unique(np.concatenate(key_parts), return_inverse=True)
            per_kind[kind] = (keys_k, np.bincount(inv_k, weights=np.concatenate(weight_parts)))
            if overlap:
                n_values = np.bincount(rows, minlength=n).astype(np.float64)
                both = np.bincount(inv_k).astype(np.float64)
                a, b = keys_k // n, keys_k % n
                jac = both / np.maximum(n_values[a] + n_values[b] - both, 1.0)
                # One shared address is a NAT or a VPN exit; a fleet shares a set of them.
                ip_jaccard = (keys_k, np.where(both >= 2, jac, 0.0))
        shared[kind] = {k: tuple(v) for k, v in kind_shared.items()}

    if not per_kind:
        empty = np.zeros(0, dtype=np.int64)
        return LinkGraph(
            n,
            empty,
            empty,
            np.zeros(0),
            np.zeros(0),
            {},
            shared,
            tuple(groups),
            np.zeros(0),
            share,
            np.zeros(0),
            tuple(key_groups),
        )
    keys_arr = np.unique(np.concatenate([k for k, _ in per_kind.values()]))
    src = keys_arr // n
    dst = keys_arr % n
    same_org = np.zeros(keys_arr.shape[0], dtype=bool)
    if orgs is not None:
        o = np.asarray(orgs, dtype=object)
        same_org = np.array(
            [o[a] is not None and o[a] == o[b] for a, b in zip(src, dst, strict=True)], dtype=bool
        )
    keep_prob = np.ones(keys_arr.shape[0])
    by_kind: dict[str, np.ndarray] = {}
    for kind, (alpha, tau) in KIND_WEIGHTS.items():
        if kind not in per_kind:
            continue
        keys_k, sums_k = per_kind[kind]
        s = np.zeros(keys_arr.shape[0])
        s[np.searchsorted(keys_arr, keys_k)] = sums_k
        strength = 1.0 - np.exp(-s / tau)
        if kind == "ip" and ip_jaccard is not None:
            jac = np.zeros(keys_arr.shape[0])
            jac[np.searchsorted(keys_arr, ip_jaccard[0])] = ip_jaccard[1]
            strength = np.maximum(strength, ramp(jac, 0.1, 0.4))
        if kind in _ORG_DISCOUNTED:
            strength = np.where(same_org, strength / 3.0, strength)
        by_kind[kind] = strength
        keep_prob *= 1.0 - alpha * strength
    if active_buckets:
        sync = _sync_excess(src, dst, active_buckets)
        strength = ramp(sync, 0.25, 0.6)
        by_kind["sync"] = strength
        keep_prob *= 1.0 - KIND_WEIGHTS["sync"][0] * strength
    weight = 1.0 - keep_prob
    keep_all_untemplated = keep_prob.copy()
    if "template" in by_kind:
        keep_all_untemplated /= 1.0 - KIND_WEIGHTS["template"][0] * by_kind["template"]
    keep_untemplated = np.ones(keys_arr.shape[0])
    for kind, strength in by_kind.items():
        if kind not in _INFRA and kind != "template":
            keep_untemplated *= 1.0 - KIND_WEIGHTS[kind][0] * strength
    keep_specific = keep_untemplated.copy()
    if "template" in by_kind:
        keep_specific *= 1.0 - KIND_WEIGHTS["template"][0] * by_kind["template"]
    keep = weight >= min_weight
    return LinkGraph(
        n,
        src[keep],
        dst[keep],
        weight[keep],
        (1.0 - keep_specific)[keep],
        {k: v[keep] for k, v in by_kind.items()},
        shared,
        tuple(groups),
        (1.0 - keep_untemplated)[keep],
        share,
        (1.0 - keep_all_untemplated)[keep],
        tuple(key_groups),
    )


@dataclass(frozen=True, slots=True)
class TemplateKeys:
    """Per account row, the template link values it stamps and the share of its sampled
    prompts that carry one of them (``templates.carrying_shares``)."""

    values: dict[int, list[str]]
    share: dict[int, float]


def template_link_keys(
    rows: np.ndarray, texts: list[str], orgs: np.ndarray, attack: np.ndarray | None = None
) -> TemplateKeys:
    """Per account row, the rare templates it stamps (``shared_templates`` over the sampled
    prompts; ``rows[i]`` the account row of ``texts[i]``, ``orgs`` the org per account row,
    ``attack`` how surely each prompt is an attack, so that templates made of public attack
    texts are left out), as link values that read as evidence:
    ``tpl:<key> (<n> accounts) "<sample>"``, and how much of its traffic carries one."""
    org_of = {int(r): orgs[int(r)] for r in np.unique(rows).tolist()}
    found = shared_templates(rows.tolist(), texts, org_of, attack=attack)
    return TemplateKeys(
        {int(r): v for r, v in link_values(found).items()},
        {int(r): v for r, v in carrying_shares(found).items()},
    )
