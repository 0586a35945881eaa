"""Verdict combination: detector evidence → a calibrated score, cluster scores, the lift.

**Per account.** ``logit = BIAS + sum_d WEIGHTS[d] * evidence_d`` (evidence in [0, 1]; a
detector that could not judge contributes nothing), ``score = sigmoid(logit)``. The weights say
how much each kind of evidence means on its own; the bias is set so that no single detector at
full strength crosses the flag threshold (0.5) alone (PRADA on predict traffic comes closest, at
0.2 in metadata mode): theft takes two independent lines of evidence, e.g. reasoning elicitation
from a fresh unverified account. How the constants were set: a prior by hand from what each
behaviour means, then a non-negative, L2-regularised (1e-4) logistic fit of the per-account
evidence on the simulator's *tuning* seeds (1-3, benign accounts weighted 3x; content weights on
the accounts whose prompts were scored, metadata weights on a metadata-only audit of the same
worlds), then the mean of prior and fit rounded to one decimal, with the fit's two favourites
(release chasing and capability coverage, which it pushed to 8) capped at 4 before averaging,
since other people's traffic will not look like our simulator's. Release chasing was then set
by hand once the simulator had a launch crowd (``BenignConfig.launch_crowd``: 12% of everyday
customers move 70-100% of their traffic within 3 h of a release, as 72-77% of campaign accounts
do): moving fast is then about 7.6 times likelier for a campaign account than for a customer in
the tuning worlds (ln 2.0), about 1.5 times on the launch day of ``benchmarks/foreign.py``
(ln 0.4), no longer the near-proof the fit saw. 0.8 (content) and 0.2 (metadata) are the
highest of the values tried (3.3/3.4, 2, 1.5, 1.2, 1, 0.8, 0.5, 0.2, 0) at which no customer of
tuning seeds 1-4 is flagged through it; without content it costs up to 5 proxy-network
accounts of 240 a seed (seed 3: recall 0.985 -> 0.972), which look like a customer roaming a
VPN who flipped the model string. Where the fit had no data
(PRADA among accounts with prompt text) or gave nothing to a behaviour the simulator's campaigns
rarely show (reasoning parameters: asking for maximal reasoning at scale is what distillation
wants) the prior stands. Last refit after the synchrony and collective-evidence changes of the
network stage. Evaluation seeds (101 and up, see benchmarks/detect.py) were never looked at
while setting them. The score is calibrated for a population where roughly a quarter of accounts
are in campaigns (the tuning worlds); with a rarer threat the same score overstates the
probability, but the ranking holds.

**Per cluster.** ``cluster_logit = logit(q) + COORD_WEIGHT * cohesion + SIZE_WEIGHT *
log2(size)`` where ``q`` is the mean score of the more suspicious half of the members. The
members' behaviour drives it: a tight cluster of innocent-looking accounts (colleagues sharing
a company card or a NAT) keeps a low score, while coordination raises a cluster whose members
already look doubtful.

**Collective evidence** (detect/network/collective.py): what the members do together, the
trace of a low-and-slow operation whose accounts each look like a median customer: most of the
cluster's independent members (an org counts once) chasing a new release within a day, or
sweeping the task space evenly. It adds ``COLLECTIVE_WEIGHT * collective`` to the cluster logit
and opens the cluster score to clusters whose members look innocent one by one; coordination
alone (a NAT, a company card, a VPN exit) still leaves a cluster at its members' score.
``COLLECTIVE_WEIGHT`` and ``COLLECTIVE_LIFT_WEIGHT`` were set by hand on the tuning seeds (the
lowest values that lift a linked, participating member of a fully collective cluster over the
threshold from an own score of about 0.05), not fitted.

**Lift.** ``logit(final) = logit(own) + LIFT_WEIGHT * cluster_score * link`` (see
:func:`lift`): coordination evidence lifts members that look innocent alone, in proportion to how
strongly they are linked into a suspicious cluster. ``link`` is the member's specific link
strength (payment, device, sign-up, template, synchrony); in a cluster with collective evidence
it may instead be its strength over all links times its own part in the collective behaviour,
so a member behind the operator's proxies that also chased the release is lifted, and a stranger
who merely shared an exit is not. A member tied only by addresses must take part in what the
cluster does (``network.collective.aligned_participation``): sweeping tasks, as many customers
do, is no part in a cluster that above all chased the release. And most of its link weight must
run to cluster-mates that take part (``network.collective.fleet_share``, ``FLEET_SHARE``): a
customer roaming a commercial VPN shares one exit after another with strangers, so its many
weak address links add up to a strong tie into any fleet that uses the same VPN, and an early
adopter or a developer who sweeps tasks is then as much "part" of it as a fleet member. On the
hard tuning world 7 three customers (two developers, a privacy-VPN user) were flagged mid-day
that way, with 21-37% of their link weight running to participants; the fleet members that
the collective part lifts have a median 54-66% (a quarter of them under 42%). The price: a
fleet behind commercial proxies shared with strangers has members whose links run mostly to
strangers too (hard tuning world 7: four members at 4-34% lose the whole-log audit's flag,
though earlier audits flagged them). Exempting members that themselves do two of the three
things a harvesting job does was tried and dropped: researchers do too, and on hard tuning
world 5 a researcher, a red-team vendor and a new sign-up were lifted that way. Linked groups
of accounts that each do two of the three things a harvesting job does (chase the release,
sweep the task space, harvest reasoning) are carved out of big communities of strangers
(``network.communities.carve_cores``) and judged as clusters of their own; an account that
sends mostly through a fleet's own rare addresses and takes part in what it does joins the fleet.

**Guilt comes from guilty neighbours.** A big community holds a campaign and the strangers
modularity merged into it (a shared SDK fingerprint, a public system prompt); a stranger's links
inside it run to other strangers, not to the campaign. So the specific link strength that the
lift multiplies counts each link in proportion to how suspicious the member at its other end is,
from nothing at the watch line (``SUSPICIOUS_AT``) to fully at the flag line (``GUILTY_AT``)
(:func:`guilty_strength`), in two rounds: first
as suspicious as its own score says, then as its score after a lift through those links and
the collective part says. A fleet member whose fleet-mates are watched or flagged keeps its
whole link strength, a customer tied only to other customers of the community keeps little.
Judging the neighbours by a first lift through the raw links instead let customers who share
a popular system prompt (one stamped by 50-64 unrelated customers in the tuning worlds) lift
each other to the watch line inside a campaign's community, and then a red-team vendor, whose
attack prompts give it some doubt of its own, over the flag line through them (hard tuning
world 7).

**Template links count as much as the account carries the template.** A template stamped by
a fleet of fifty makes a link to each of them, so an account that shares it is tied to the
whole fleet at once. A fleet member wraps a good part of its prompts in it; a customer that
uses the same wording (a vendor's wrapper, a persona line from a prompt library) on the fewest
prompts that count as stamping at all is not tied by it: each account's template links, in the
specific and the collective part and in the first lift alike, count in proportion to the share
of its own sampled prompts that carry a template it stamps (:func:`template_weight`, nothing
up to a tenth, in full from half). Other kinds of links still add up over the edges. Counting a
template once per account whatever the fleet's size was tried and dropped: a low-and-slow
fleet's members each look like a median customer and are often tied by nothing but the fleet's
template, so a template counted once cannot lift them (a fifth of such a fleet lost on the
hard tuning world), and the same goes for not letting a template lift an account whose own
score is near zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from distillguard.detect.behaviour.frame import ramp
from distillguard.detect.findings import Evidence

__all__ = [
    "BIAS",
    "BIAS_METADATA",
    "CLOSED_INSIDE",
    "CLOSED_JOINT",
    "CLOSED_SHARE",
    "CLOSED_STRENGTH",
    "COLLECTIVE_LIFT_WEIGHT",
    "COLLECTIVE_WEIGHT",
    "CONTENT_DETECTORS",
    "COORD_WEIGHT",
    "FLEET_SHARE",
    "GUILTY_AT",
    "LIFT_WEIGHT",
    "SIZE_WEIGHT",
    "SUSPICIOUS_AT",
    "TEMPLATE_CARRY",
    "WEIGHTS",
    "WEIGHTS_METADATA",
    "ClusterScore",
    "account_logits",
    "closed_members",
    "cluster_scores",
    "guilty_strength",
    "lift",
    "lift_from_guilty",
    "sigmoid",
    "template_weight",
]

BIAS = -6.2
WEIGHTS: Mapping[str, float] = {
    "volume_shape": 1.4,
    "reasoning_params": 1.2,
    "elicitation": 2.6,
    "content_abuse": 1.3,
    "capability_coverage": 2.8,
    "template_concentration": 0.3,
    "timing_regularity": 1.3,
    "release_chasing": 0.8,
    "infra_diversity": 2.4,
    "identity_risk": 2.1,
    "prediction_extraction": 4.6,
}
BIAS_METADATA = -5.7
WEIGHTS_METADATA: Mapping[str, float] = {
    "volume_shape": 1.8,
    "reasoning_params": 1.4,
    "capability_coverage": 2.0,
    "timing_regularity": 1.6,
    "release_chasing": 0.2,
    "infra_diversity": 2.5,
    "identity_risk": 2.2,
    "prediction_extraction": 4.2,
}
CONTENT_DETECTORS = ("elicitation", "content_abuse", "template_concentration")
COORD_WEIGHT = 1.5
SIZE_WEIGHT = 0.25
LIFT_WEIGHT = 3.0
COLLECTIVE_WEIGHT = 3.0
COLLECTIVE_LIFT_WEIGHT = 6.0
# A linked member counts towards the lift of the members it is linked to from this score (the
# watch line of verdicts.response_for), fully from GUILTY_AT (the flag line). Counting fully
# from the watch line let customers at 0.13-0.20 (hourly CI eval pipelines tied by a common
# client fingerprint, reused cloud /24s and one public judge prompt, benchmarks/foreign.py) lift
# each other to 0.56-0.68 once one red-team account at 0.74 made their cluster suspicious.
SUSPICIOUS_AT = 0.25
GUILTY_AT = 0.5
# A member's template links count from this share of its own prompts carrying the template,
# fully from the second (template_weight): shared_templates counts an account as stamping a
# template from two prompts and a twentieth of its sample, which is a tenth of the usual
# twenty-prompt sample.
TEMPLATE_CARRY = (0.1, 0.5)
# The collective part of a member's lift counts from this share of its link weight running to
# participating members of its cluster (network.collective.fleet_share), fully from the second:
# hard tuning world 7, customers flagged through the collective part at 0.21-0.37, the fleet's
# members it lifts at a median 0.54-0.66.
FLEET_SHARE = (0.3, 0.6)
# A closed member of a cluster of concern (closed_members): at least CLOSED_INSIDE of its link
# weight runs inside its cluster, its links of any kind bind it at least CLOSED_STRENGTH, and it
# does two of the three things a harvesting job does at least CLOSED_JOINT. In the tuning worlds
# customers in a fleet's cluster keep a third or more of their link weight outside it (the
# exits and fingerprints they share with strangers); so did the seven customers of the one
# cluster of concern made only of customers (tuning seed 1, 1-17% of their weight inside).
CLOSED_INSIDE = 0.9
CLOSED_STRENGTH = 0.9
CLOSED_JOINT = 0.5
# ... in a cluster at least CLOSED_SHARE of whose members do two of the three: a fleet, not a
# community of strangers (over a week, metadata only, tuning world 2 made one of 763 accounts,
# scoring 0.97 on its release chase, in which every customer's links ran inside).
CLOSED_SHARE = 0.5
# An attacking member (attacking_members): its cluster's attack evidence and its own attacks at
# least this (network.collective: the cluster's attack share at 0.55 with six independent
# members or more; the member's sure attacks at a tenth of its prompts).
ATTACKING_AT = 0.5


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def account_logits(evidence: Mapping[str, Evidence], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The combined logit per account and, per account, whether content evidence was used.

    Accounts whose prompts were scored use ``BIAS``/``WEIGHTS``; the others (no prompt text,
    no content model, predict-only traffic) use ``BIAS_METADATA``/``WEIGHTS_METADATA``, fitted
    for the evidence that remains, so a score means the same in both modes.
    """
    has_content = np.zeros(n, dtype=bool)
    for name in CONTENT_DETECTORS:
        ev = evidence.get(name)
        if ev is not None:
            has_content |= np.isfinite(ev.scores)
    logit = np.where(has_content, BIAS, BIAS_METADATA).astype(np.float64)
    for name, ev in evidence.items():
        s = np.where(np.isfinite(ev.scores), ev.scores, 0.0)
        w = np.where(has_content, WEIGHTS.get(name, 0.0), WEIGHTS_METADATA.get(name, 0.0))
        logit += w * s
    return logit, has_content


@dataclass(frozen=True, slots=True)
class ClusterScore:
    """One cluster's score and what drove it."""

    score: float
    member_mean: float
    cohesion: float
    size: int
    collective: float = 0.0


def cluster_scores(
    own: np.ndarray,
    members: Mapping[int, np.ndarray],
    cohesion: Mapping[int, float],
    collective: Mapping[int, float] | None = None,
) -> dict[int, ClusterScore]:
    """Per cluster: its score from the members' own scores, how tightly they are linked, its
    size, and the collective evidence (``collective[c]`` in [0, 1], absent = 0)."""
    out: dict[int, ClusterScore] = {}
    for c, rows in members.items():
        p = np.sort(own[rows])[::-1]
        top = p[: max(1, (p.shape[0] + 1) // 2)]
        q = float(np.clip(top.mean(), 1e-4, 1 - 1e-4))
        coh = float(cohesion.get(c, 0.0))
        col = float(collective.get(c, 0.0)) if collective is not None else 0.0
        logit = (
            np.log(q / (1 - q))
            + COORD_WEIGHT * coh
            + SIZE_WEIGHT * np.log2(p.shape[0])
            + COLLECTIVE_WEIGHT * col
        )
        # Coordination only lifts a cluster whose members already look doubtful, alone or
        # together: a cluster of innocent-looking accounts that do nothing suspicious together
        # keeps the score its members earned.
        score = float(sigmoid(np.array(logit))) if q >= 0.2 or col > 0 else q
        out[c] = ClusterScore(score, q, coh, int(p.shape[0]), col)
    return out


def lift(
    own: np.ndarray,
    label: np.ndarray,
    strength: np.ndarray,
    clusters: Mapping[int, ClusterScore],
    strength_all: np.ndarray | None = None,
    participation: np.ndarray | None = None,
    fleet: np.ndarray | None = None,
) -> np.ndarray:
    """Final per-account scores after the cluster lift (never lower than ``own``).

    In logit space: ``logit(final) = logit(own) + LIFT_WEIGHT * cluster_score * link`` for
    members of clusters scoring at least 0.5, ``link`` the specific link ``strength``; in a
    cluster with collective evidence, at least ``strength_all * participation`` (the member's
    links of any kind times its part in the collective behaviour, both in [0, 1]), times
    ``ramp(fleet, *FLEET_SHARE)`` where ``fleet`` (the share of its link weight that runs to
    participating cluster-mates) is given. Additive, so
    the lift is proportional: a member with some doubt of its own (0.3) linked tightly into a
    campaign is flagged, while an innocent-looking account (0.03) that merely shares a VPN exit
    with one stays below the line.
    """
    cs = np.array([clusters[c].score if c >= 0 else 0.0 for c in label.tolist()])
    boost = LIFT_WEIGHT * np.clip(strength, 0.0, 1.0)
    part = np.clip(np.nan_to_num(participation), 0.0, 1.0) if participation is not None else None
    if strength_all is not None and part is not None:
        col = np.array([clusters[c].collective if c >= 0 else 0.0 for c in label.tolist()])
        joint = np.clip(strength_all, 0.0, 1.0) * part
        if fleet is not None:
            joint = joint * ramp(np.nan_to_num(fleet), *FLEET_SHARE)
        boost = np.maximum(boost, COLLECTIVE_LIFT_WEIGHT * col * joint)
    boost = np.where(cs >= 0.5, cs, 0.0) * boost
    p = np.clip(own, 1e-6, 1 - 1e-6)
    lifted = sigmoid(np.log(p / (1 - p)) + boost)
    return np.asarray(np.maximum(own, lifted))


def closed_members(
    label: np.ndarray,
    clusters: Mapping[int, ClusterScore],
    inside: np.ndarray,
    strength_all: np.ndarray,
    joint: np.ndarray,
) -> np.ndarray:
    """Per account, whether it is a *closed member* of a cluster of concern, which then takes
    the cluster's score (the network stage keeps the larger of it and the lifted score).

    The cluster scores at least ``GUILTY_AT`` with collective evidence (``collective`` > 0) while
    its members look innocent alone (``member_mean``, the mean own score of its more suspicious
    half, below ``SUSPICIOUS_AT``: where members look guilty alone, the lift judges the others
    by their links to them; a researcher whose links all ran into a sign-up farm's cluster at an
    audit of half a day took the cluster's score 1.0 in tuning world 3 without this);
    ``inside[i]``, the share of the member's link weight that runs to cluster-mates
    (``network.collective.fleet_share`` with every member counted), is at least
    ``CLOSED_INSIDE``; ``strength_all[i]`` is at least ``CLOSED_STRENGTH``; and ``joint[i]``, its
    part in two of the three collective behaviours (the middle of chase, sweep and harvest), at
    least ``CLOSED_JOINT``, as it is for at least ``CLOSED_SHARE`` of the cluster's members.

    :func:`lift` multiplies the cluster's score, its collective evidence and the member's part,
    which is right for a member with a world outside its cluster, and leaves a fleet whose every
    account looks like a hobbyist (own scores near 0.02) below the line however closed it is: a
    distillation operator that shares nothing but its client stack across eighty home
    addresses (``benchmarks.foreign``) formed a cluster of concern at 0.51-0.59 and none of its
    members reached 0.2. A customer that modularity merged into a fleet's cluster mostly has
    links outside it."""
    cs = np.array([clusters[c].score if c >= 0 else 0.0 for c in label.tolist()])
    col = np.array([clusters[c].collective if c >= 0 else 0.0 for c in label.tolist()])
    alone = np.array([clusters[c].member_mean if c >= 0 else 1.0 for c in label.tolist()])
    inc = label >= 0
    joins = np.asarray(np.nan_to_num(joint) >= CLOSED_JOINT, dtype=np.float64)
    size = np.bincount(label[inc], minlength=1).astype(np.float64)
    doing = np.bincount(label[inc], weights=joins[inc], minlength=1)
    fleet = np.where(inc, (doing / np.maximum(size, 1.0))[np.where(inc, label, 0)], 0.0)
    return np.asarray(
        (fleet >= CLOSED_SHARE)
        & (alone < SUSPICIOUS_AT)
        & (cs >= GUILTY_AT)
        & (col > 0.0)
        & (np.nan_to_num(inside) >= CLOSED_INSIDE)
        & (np.nan_to_num(strength_all) >= CLOSED_STRENGTH)
        & (np.nan_to_num(joint) >= CLOSED_JOINT)
    )


def attacking_members(
    label: np.ndarray,
    clusters: Mapping[int, ClusterScore],
    attack_score: Mapping[int, float],
    inside: np.ndarray,
    attacks: np.ndarray,
) -> np.ndarray:
    """Per account, whether it is an *attacking member* of a cluster that attacks together,
    which then takes the cluster's score (as :func:`closed_members` do).

    The cluster scores at least ``GUILTY_AT`` and its attack evidence (``attack_score[c]``,
    ``network.collective.collective_evidence``) is at least ``ATTACKING_AT``; the member attacks
    itself (``attacks[i]``, ``network.collective.attacking``, at least ``ATTACKING_AT``) and at
    least ``CLOSED_INSIDE`` of its link weight runs to cluster-mates (``inside``).

    Twelve aged, phone-verified accounts that slip a jailbreak or an extraction ask into one
    request in seven through a shared residential proxy pool (``benchmarks.foreign``) own
    scores of 0.00-0.07: age and verification speak for each, and a seventh of its prompts is
    not enough alone. Their cluster scored 0.56 on attacking together, and the lift, which
    multiplies the cluster's score, its evidence and the member's part and link strength,
    raised none above 0.1: their links are shared addresses, weak one by one. Unlike the
    harvesting behaviours, each attacking member's own prompts are evidence the content model
    is sure of, so no link strength is asked."""
    cs = np.array([clusters[c].score if c >= 0 else 0.0 for c in label.tolist()])
    part = np.array([attack_score.get(c, 0.0) if c >= 0 else 0.0 for c in label.tolist()])
    return np.asarray(
        (cs >= GUILTY_AT)
        & (part >= ATTACKING_AT)
        & (np.nan_to_num(attacks) >= ATTACKING_AT)
        & (np.nan_to_num(inside) >= CLOSED_INSIDE)
    )


@dataclass(frozen=True, slots=True)
class TemplateTies:
    """Template links kept apart from the others, so that the lift can weigh each account's
    template links by how much of its own traffic carries the template
    (``network.links.LinkGraph``): per edge, ``edge`` the template link's part of the edge's
    weight (``alpha * s``), ``specific`` and ``weight`` the edge's specific and overall weight
    without it; per account, ``share`` the share of its prompts that carry a template it
    stamps."""

    edge: np.ndarray
    specific: np.ndarray
    weight: np.ndarray
    share: np.ndarray


def template_weight(share: np.ndarray) -> np.ndarray:
    """How much an account's template links may say about it, in [0, 1], from the share of its
    own sampled prompts that carry a template it stamps (``TEMPLATE_CARRY``): an operator wraps
    a good part of its harvest in its template, a customer who pasted a vendor's wrapper or a
    persona line into a few prompts carries it on the fewest that count as stamping at all."""
    return np.asarray(ramp(np.nan_to_num(share), *TEMPLATE_CARRY))


def guilty_strength(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    label: np.ndarray,
    suspicion: np.ndarray,
    tau: float = 1.0,
    template: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Per account, its link strength to the *suspicious* members of its own cluster:
    ``1 - exp(-sum_j weight_ij * suspicion_j / tau)`` over the edges ``(src, dst, weight)``
    inside its cluster (``label``, -1 = none), ``suspicion`` in [0, 1] per account (its score
    after a first lift). With ``suspicion`` all ones this is the community's plain link
    strength (``network.communities``, tau 1), so it never exceeds it.

    ``template`` = (per edge, the template link's part of the edge's weight; per account, how
    much its template links may say, :func:`template_weight`) weighs template links apart, with
    ``weight`` then the edges' weight *without* them: for account ``i`` an edge counts
    ``1 - (1 - w_ij) * (1 - t_ij * template_i)``, which is ``w`` with the template link whole
    (``template_i`` 1) and without it (0)."""
    n = label.shape[0]
    inside = (label[src] == label[dst]) & (label[src] >= 0)
    s, d, w = src[inside], dst[inside], weight[inside]
    sus = np.clip(np.nan_to_num(suspicion), 0.0, 1.0)
    deg = np.zeros(n)
    if template is None:
        np.add.at(deg, s, w * sus[d])
        np.add.at(deg, d, w * sus[s])
    else:
        t = np.clip(template[0][inside], 0.0, 1.0)
        tw = np.clip(template[1], 0.0, 1.0)
        np.add.at(deg, s, (1.0 - (1.0 - w) * (1.0 - t * tw[s])) * sus[d])
        np.add.at(deg, d, (1.0 - (1.0 - w) * (1.0 - t * tw[d])) * sus[s])
    return np.asarray(1.0 - np.exp(-deg / tau))


def _less_template(
    strength: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    label: np.ndarray,
    untemplated: np.ndarray,
    edge: np.ndarray,
    weight: np.ndarray,
) -> np.ndarray:
    """A community strength (``1 - exp(-sum of edge weights)``) with each account's template
    links counted at its template ``weight``: the part ``(1 - u) * t * (1 - weight_i)`` of
    each edge inside its cluster taken out of the sum, whatever else the community added
    (``communities.carve_cores`` ties anchored accounts by operator addresses)."""
    inside = (label[src] == label[dst]) & (label[src] >= 0)
    s, d = src[inside], dst[inside]
    u = np.clip(untemplated[inside], 0.0, 1.0)
    t = np.clip(edge[inside], 0.0, 1.0)
    tw = np.clip(weight, 0.0, 1.0)
    n = label.shape[0]
    full = np.zeros(n)
    np.add.at(full, s, 1.0 - (1.0 - u) * (1.0 - t))
    np.add.at(full, d, 1.0 - (1.0 - u) * (1.0 - t))
    excess = np.zeros(n)
    np.add.at(excess, s, (1.0 - u) * t * (1.0 - tw[s]))
    np.add.at(excess, d, (1.0 - u) * t * (1.0 - tw[d]))
    # a saturated strength (1.0 in floating point) no longer says its sum: the links' own is
    # the least it was
    deg = np.maximum(-np.log1p(-np.clip(strength, 0.0, 1.0 - 1e-16)), full)
    out = 1.0 - np.exp(-np.maximum(deg - excess, 0.0))
    return np.asarray(np.where(excess > 0, np.minimum(out, strength), strength))


def lift_from_guilty(
    own: np.ndarray,
    label: np.ndarray,
    strength: np.ndarray,
    clusters: Mapping[int, ClusterScore],
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    strength_all: np.ndarray | None = None,
    participation: np.ndarray | None = None,
    template: TemplateTies | None = None,
    fleet: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`lift` with each member's specific ``strength`` counted only towards suspicious
    members (a member counts from ``SUSPICIOUS_AT``, fully from ``GUILTY_AT``), with
    :func:`guilty_strength` over ``edges`` (src, dst, specific weight) in place of
    ``strength``, in two rounds: the neighbours judged by their own scores, then by their
    scores after a lift with the first round's strengths. The collective part
    (``strength_all * participation``, gated by ``fleet``) is unchanged: it
    already asks the member to take part in what the cluster does.

    ``template`` (:class:`TemplateTies`) weighs each member's template links, in both parts
    and in the first lift, by the share of its own prompts that carry its template
    (:func:`template_weight`): a template that a fleet of fifty stamps makes fifty links, and
    a customer that carries it on a few prompts must not be tied to the fleet by all fifty."""
    if template is not None:
        tw = (template.edge, template_weight(template.share))
        src, dst = edges[0], edges[1]
        strength = _less_template(strength, src, dst, label, template.specific, *tw)
        if strength_all is not None:
            strength_all = _less_template(strength_all, src, dst, label, template.weight, *tw)
        edges = (src, dst, template.specific)
    ties = None if template is None else tw
    guilty = strength
    for suspect in (own, None):
        # the first round: a neighbour is as suspicious as its own score says; the second: as
        # its score after the first round says
        if suspect is None:
            suspect = lift(own, label, guilty, clusters, strength_all, participation, fleet)
        suspicion = ramp(suspect, SUSPICIOUS_AT, GUILTY_AT)
        guilty = np.minimum(strength, guilty_strength(*edges, label, suspicion, template=ties))
    return lift(own, label, guilty, clusters, strength_all, participation, fleet)
