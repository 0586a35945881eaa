"""What a cluster's members do *together*: the evidence of a low-and-slow operation.

A low-and-slow campaign spreads one harvesting job over many aged, verified accounts, each near
the median customer's volume, so no single account looks like theft. What the operator cannot
hide is the job itself, which shows only across the members:

- **release chasing together**: the harvest moves to a newly released model within hours. One
  early adopter is common (about a third of customers try a new model on day one); most of a
  group of otherwise unrelated accounts doing it within a day is not;
- **coverage together**: each member sweeps the task space (code, maths, reasoning, tool use,
  writing, …) evenly, the shape of a distillation set rather than of one product's traffic.

A cluster can also **attack together**: most of its independent members slip jailbreak,
injection or extraction prompts the content model is sure of into otherwise ordinary traffic
(:func:`attacking`). One customer in twenty sends a sure-looking attack now and then (a code
paste, a role-play set-up); a group of unrelated accounts that mostly do is an operation spread
thin so that no account stands out. A red-team vendor's accounts share an org and count once.

A further behaviour, **harvesting reasoning** (:func:`harvest`: a share of the prompts asking for
step-by-step reasoning or rubric grading), shows before any release: together with the sweep it
lets the network stage carve a fleet out of a community of strangers hours before the release
chase (``communities.carve_cores``).

The share of a member's link weight that runs to cluster-mates taking part
(:func:`fleet_share`) tells a fleet member from a customer behind the same commercial VPN.

Members that share an ``org_id`` count as one independent account: colleagues move to a new
model together because their company switched, not because one operator drives them. The
evidence needs several independent members (``n_independent``), so two friends who both like
new models prove nothing.

A member's part in its cluster's collective behaviour (what the lift multiplies) is measured
against what the cluster does (:func:`aligned_participation`): a customer behind a shared VPN
exit who sweeps tasks like many people do takes little part in a cluster that, above all,
moved to the new release together, and is not lifted for it.

Coordination alone (a NAT, a card, a VPN exit) never convicts: this evidence is about
behaviour, and the links only say which accounts to look at together. What evades it: an
operator who keeps most accounts on the old model for days and gives each account a narrow
task slice; the per-account detectors and the infrastructure links remain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from distillguard.detect.behaviour.frame import AccountFrame, ramp

__all__ = [
    "Collective",
    "aligned_participation",
    "attacking",
    "backed_chase",
    "collective_evidence",
    "could_move",
    "fleet_share",
    "harvest",
    "participation",
]


@dataclass(frozen=True, slots=True)
class Collective:
    """One cluster's collective evidence: ``score`` in [0, 1], the share of its independent
    members that chased the release (``chase_share``) and swept the task space
    (``coverage_share``, NaN without prompt text), ``n_independent`` members after counting
    each org once, ``reasons`` in words, the share that attack (``attack_share``, NaN without
    prompt text or without the attack evidence) and the attack part of ``score``
    (``attack_score``)."""

    score: float
    chase_share: float
    coverage_share: float
    n_independent: int
    reasons: tuple[str, ...]
    attack_share: float = float("nan")
    attack_score: float = 0.0


def participation(frame: AccountFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per account, how much it takes part in the two collective behaviours, each in [0, 1].

    ``chase``: moved at least a sizeable part of its traffic to the newly released model within
    a day of the release (looser than the per-account release-chasing detector, which must stand
    alone). ``coverage``: prompts spread evenly over the task categories (NaN without text).
    """
    share = np.nan_to_num(frame.col("share_new_model_after"))
    hours = frame.col("hours_to_new_model")
    n_after = np.nan_to_num(frame.col("n_after_release"))
    fast = 1.0 - ramp(np.where(np.isfinite(hours), hours, 1e9), 12.0, 48.0)
    chase = ramp(share, 0.1, 0.4) * fast * ramp(n_after, 2.0, 8.0)
    ent = frame.col("c_coverage_entropy")
    coverage = ramp(ent, 0.6, 0.85) * ramp(np.nan_to_num(frame.col("c_n_texts")), 8.0, 20.0)
    coverage = np.where(np.isfinite(ent), coverage, np.nan)
    return chase, coverage


def could_move(frame: AccountFrame) -> np.ndarray:
    """Per account, whether it sent anything before the release, and so could move to it.
    One first seen after the release starts on whatever model is new that day: a class told
    to try the new model in its lab (``benchmarks.foreign``) is no evidence of a fleet
    moving together (the network stage counts such a member as not moving in its cluster's
    chase share, while what a fleet member that starts late does alongside the rest still
    counts as its own part). True where the counts are missing (nothing to tell)."""
    n_events = frame.col("n_events")
    n_after = np.nan_to_num(frame.col("n_after_release"))
    return np.asarray(~np.isfinite(n_events) | (n_events - n_after >= 1))


def harvest(frame: AccountFrame) -> np.ndarray:
    """Per account, in [0, 1], how much its prompts harvest reasoning: the share that elicit
    step-by-step reasoning or grade against a rubric (``c_share_cot + c_share_rubric``), from a
    tenth, fully from three tenths, with at least a few prompts read (0 without text). Looser
    than the per-account elicitation detector, which must stand alone: a harvesting job keeps
    its reasoning requests to a share of each account's traffic, while most customers send
    none (in the tuning worlds under 3% of developers, VPN users and office NATs reach a
    tenth; researchers, who build such datasets, mostly do)."""
    share = np.nan_to_num(frame.col("c_share_cot")) + np.nan_to_num(frame.col("c_share_rubric"))
    return np.asarray(
        ramp(share, 0.1, 0.3) * ramp(np.nan_to_num(frame.col("c_n_texts")), 4.0, 10.0)
    )


def attacking(frame: AccountFrame) -> np.ndarray:
    """Per account, in [0, 1], how much it attacks: the shares of its prompts that the content
    model is sure are jailbreaks, injections or extraction asks (``c_share_*``, counted at
    ``engine.ATTACK_COUNT_AT``), summed, from a twentieth, fully from three twentieths, with at
    least a few prompts read; NaN where none was read. Looser than the content-abuse detector,
    which must stand alone: an operation spread over many accounts keeps each one's attacks to
    one prompt in seven or so, while most customers send none (in the tuning and foreign
    diagnosis worlds, no cluster of customers has a quarter of its independent members at a
    tenth)."""
    cols = [frame.col(c) for c in ("c_share_jailbreak", "c_share_injection", "c_share_extraction")]
    read = np.isfinite(cols[0])
    total = sum(np.nan_to_num(c) for c in cols)
    score = ramp(total, 0.05, 0.15) * ramp(np.nan_to_num(frame.col("c_n_texts")), 6.0, 12.0)
    return np.asarray(np.where(read, score, np.nan))


def _independent_mean(values: np.ndarray, orgs: np.ndarray) -> tuple[float, int]:
    """Mean over independent members: an org's members are averaged into one."""
    groups: dict[object, list[float]] = {}
    loners: list[float] = []
    for v, o in zip(values.tolist(), orgs.tolist(), strict=True):
        if o:
            groups.setdefault(o, []).append(v)
        else:
            loners.append(v)
    per = loners + [float(np.mean(g)) for g in groups.values()]
    return (float(np.mean(per)) if per else 0.0), len(per)


def collective_evidence(
    members: Mapping[int, np.ndarray],
    orgs: np.ndarray,
    chase: np.ndarray,
    coverage: np.ndarray,
    harvesting: np.ndarray | None = None,
    attacks: np.ndarray | None = None,
) -> dict[int, Collective]:
    """Per cluster, how strongly its independent members behave like one harvesting job, or,
    with ``attacks`` (per account, :func:`attacking`), like one attacking operation.

    ``score = max(ramp(chase_share, 0.35, 0.6), ramp(coverage_share, 0.55, 0.8),
    ramp(joint_share, 0.4, 0.7)) * ramp(n_independent, 4, 10)``: in the tuning worlds clusters
    of customers stay below a fifth chasing and half sweeping (under 0.45 for both even when a
    few campaign accounts joined them), operated groups reach 0.6 to 1 chasing and 0.85 to 0.97
    sweeping. ``joint_share`` (with ``harvesting``, per account :func:`harvest`) is the share
    doing two of the three (chase, sweep, harvest reasoning): a tenth of customers at most in
    any tuning-world fingerprint group, 61% of the core of a distillation operator whose
    accounts each sweep or harvest but only a quarter moved to the new release
    (``benchmarks.foreign``, diagnosis seed 1).

    The attack part, ``ramp(attack_share, 0.4, 0.7) * ramp(n_independent, 3, 6)`` over the
    members whose prompts were read (an attack at 0.5 or more counting), asks for fewer
    members: an attack the content model is sure of is evidence in itself, where a chase or a
    sweep is what customers do too. In the tuning worlds (seeds 1-3) and the foreign diagnosis
    worlds (seeds 1-3) customers' clusters reach at most 0.06 and 0.25 (a CI harness beside a
    red-team vendor, one org); attacking operations 0.55-1.
    """
    out: dict[int, Collective] = {}
    orgs = np.asarray(orgs, dtype=object)
    joint = None
    if harvesting is not None:
        both = np.stack([chase, np.nan_to_num(coverage), np.nan_to_num(harvesting)])
        joint = (np.median(both, axis=0) >= 0.5).astype(np.float64)
    for c, rows in members.items():
        o = orgs[rows]
        chase_share, n_ind = _independent_mean(chase[rows], o)
        cov = coverage[rows]
        has_cov = np.isfinite(cov)
        cov_share = _independent_mean(cov[has_cov], o[has_cov])[0] if has_cov.sum() >= 4 else np.nan
        joint_share = (
            _independent_mean(joint[rows][has_cov], o[has_cov])[0]
            if joint is not None and has_cov.sum() >= 4
            else np.nan
        )
        enough = float(ramp(float(n_ind), 4.0, 10.0))
        parts = [float(ramp(chase_share, 0.35, 0.6))]
        if np.isfinite(cov_share):
            parts.append(float(ramp(cov_share, 0.55, 0.8)))
        if np.isfinite(joint_share):
            parts.append(float(ramp(joint_share, 0.4, 0.7)))
        score = max(parts) * enough
        att_share, att_part = np.nan, 0.0
        if attacks is not None:
            read = np.isfinite(attacks[rows])
            if read.any():
                att_share, n_att = _independent_mean(
                    (attacks[rows][read] >= 0.5).astype(np.float64), o[read]
                )
                att_part = float(ramp(att_share, 0.4, 0.7) * ramp(float(n_att), 3.0, 6.0))
        reasons: list[str] = []
        if score > 0:
            bits = [f"{100 * chase_share:.0f}% moved to the new model within a day"]
            if np.isfinite(cov_share):
                bits.append(f"{100 * cov_share:.0f}% sweep the task categories evenly")
            if np.isfinite(joint_share):
                bits.append(f"{100 * joint_share:.0f}% do two of: move, sweep, harvest reasoning")
            reasons.append(
                f"collective behaviour of {n_ind} independent members: " + "; ".join(bits)
            )
        if att_part > 0:
            reasons.append(
                f"attacking together: {100 * att_share:.0f}% of its independent members slip "
                "jailbreak, injection or extraction prompts into their traffic"
            )
        out[c] = Collective(
            max(score, att_part),
            chase_share,
            float(cov_share),
            n_ind,
            tuple(reasons),
            att_share,
            att_part,
        )
    return out


def backed_chase(chase: np.ndarray, coverage: np.ndarray, purpose: np.ndarray) -> np.ndarray:
    """Per account, its release chase as far as its prompts show what it moved for: at most the
    larger of its sweep (``coverage``) and ``purpose`` (in [0, 1]: :func:`harvest`, or what
    else a fleet moves for, such as attacks). Where ``purpose`` is NaN (the content model read
    none of its prompts) the chase counts alone: nothing else can be read.

    Moving to a new release within hours is what a launch crowd of customers does too, and a
    class or a team told to try the new model moves together; a harvesting fleet moves to
    harvest the new model, and its members' prompts show it."""
    read = np.isfinite(purpose)
    backing = np.fmax(np.nan_to_num(coverage), np.nan_to_num(purpose))
    return np.asarray(np.where(read, np.fmin(chase, backing), chase))


def aligned_participation(
    label: np.ndarray,
    collective: Mapping[int, Collective],
    chase: np.ndarray,
    coverage: np.ndarray,
    specific: np.ndarray | None = None,
    harvesting: np.ndarray | None = None,
    attacks: np.ndarray | None = None,
) -> np.ndarray:
    """Per account, its part in what its cluster does together, in [0, 1].

    A member tied to its cluster by strong specific links (``specific[i]`` > 0.5: a card, a device,
    a template) takes part through either behaviour (the larger of chase and coverage). A member
    tied only by shared addresses must do what the cluster does: the larger of its chase and
    coverage, each weighted by how clearly the cluster does it (the weights the cluster's own
    shares earn in :func:`collective_evidence`, ``ramp(chase_share, 0.35, 0.6)`` and
    ``ramp(coverage_share, 0.55, 0.8)``, relative to the larger). So a customer behind a shared
    VPN exit who sweeps tasks, as many do, takes little part in a cluster that above all moved
    to the new release together, while in a cluster that does both, a member that sweeps like
    the rest but kept to the old model (an operator moves only part of its fleet) takes full
    part. Outside clusters with collective evidence: the larger of the two.

    With ``harvesting`` (per account, in [0, 1]: :func:`harvest`, or what else the prompts
    show a fleet moves for, such as attacks) an address-only member whose prompts were read
    takes part in a chase only as far as it also sweeps or harvests: moving to a new
    release is what a launch crowd of customers does too (``BenignConfig.launch_crowd``: a
    tenth of everyday customers within three hours), and a customer of that crowd behind the
    VPN exits a proxy fleet uses was lifted into the fleet for it alone (tuning seed 3 and
    hard 7 with the crowd: three customers at own scores 0.02-0.20 lifted to 0.60-0.65). A
    harvesting fleet moves to harvest the new model; its members' prompts show it. Where the
    content model read none of a member's prompts (NaN ``harvesting``) the chase counts alone:
    nothing else can be read.

    With ``attacks`` (per account, :func:`attacking`), attacking is a third thing a cluster
    does, weighted as ``collective_evidence`` weighs the cluster's attack share."""
    cov = np.nan_to_num(coverage)
    tied = np.fmax(chase, cov)
    if harvesting is not None:
        chase = backed_chase(chase, coverage, harvesting)
    out = np.fmax(chase, cov)
    att = np.nan_to_num(attacks) if attacks is not None else np.zeros_like(cov)
    for c, v in collective.items():
        w_chase = float(ramp(v.chase_share, 0.35, 0.6))
        w_cov = float(ramp(v.coverage_share, 0.55, 0.8)) if np.isfinite(v.coverage_share) else 0.0
        w_att = float(ramp(v.attack_share, 0.4, 0.7)) if np.isfinite(v.attack_share) else 0.0
        if w_chase + w_cov + w_att <= 0:
            continue
        rows = label == c
        out[rows] = np.fmax(
            np.fmax(w_chase * chase[rows], w_cov * cov[rows]), w_att * att[rows]
        ) / max(w_chase, w_cov, w_att)
    if specific is not None:
        out = np.where(np.nan_to_num(specific) > 0.5, tied, out)
    return np.asarray(out)


def fleet_share(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    label: np.ndarray,
    part: np.ndarray,
) -> np.ndarray:
    """Per account, the share of its link weight that runs to members of its own cluster that
    take part in what the cluster does: ``sum_j w_ij * part_j`` over the edges inside its
    cluster divided by ``sum_j w_ij`` over all its edges (``part`` per account, e.g.
    :func:`aligned_participation`; 0 for an account without links).

    A fleet account sends through its operator's egress, so most of its links run to
    fleet-mates, and they do the job. A customer behind a commercial VPN or proxy that a fleet
    also uses shares one exit after another with strangers who mostly do neither: its links
    are many, and only the few to the fleet lead to participants. Summed, both can be strong
    ties into the fleet's cluster; the share tells them apart."""
    n = label.shape[0]
    p = np.clip(np.nan_to_num(part), 0.0, 1.0)
    w = np.clip(weight, 0.0, 1.0)
    inside = (label[src] == label[dst]) & (label[src] >= 0)
    total = np.zeros(n)
    np.add.at(total, src, w)
    np.add.at(total, dst, w)
    toward = np.zeros(n)
    np.add.at(toward, src, np.where(inside, w * p[dst], 0.0))
    np.add.at(toward, dst, np.where(inside, w * p[src], 0.0))
    return np.asarray(np.where(total > 0, toward / np.maximum(total, 1e-12), 0.0))
