"""The batch audit: store queries → per-account features → detectors → network → verdicts.

Per-account features are aggregated in SQL inside the store (no Python per event) and arrive
as Arrow; detectors are pure functions over numpy columns. Prompt texts are deduplicated by a
hash and scored once with the content model; when an account sent more distinct prompts than
the sampling budget allows, a deterministic hash-ordered sample per account is scored and the
stats say so. Without prompt text (or without a content model) the audit runs in metadata-only
mode: content detectors return no evidence and every verdict says which were skipped.

With ``replay=True`` the audit is rerun on growing prefixes of the log (``replay_windows``
cut-offs evenly spaced in time) and ``first_flagged_at`` is the time of the account's last event
before the first cut-off at which it was flagged: what an hourly audit would have caught.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
import pyarrow as pa
import structlog

from distillguard.detect import DETECTORS
from distillguard.detect.behaviour.detectors import ContentAbuse
from distillguard.detect.behaviour.frame import AccountFrame
from distillguard.detect.behaviour.tasks import category_entropy, tag_many
from distillguard.detect.behaviour.timing import (
    gap_cv,
    hour_entropy,
    local_night_share,
    offsets_for,
)
from distillguard.detect.combine import (
    WEIGHTS,
    ClusterScore,
    TemplateTies,
    account_logits,
    attacking_members,
    closed_members,
    cluster_scores,
    lift_from_guilty,
    sigmoid,
)
from distillguard.detect.days import DAY_BY_DAY_FROM_S, DAY_S, combine_days, day_windows
from distillguard.detect.findings import Detector, Evidence
from distillguard.detect.network.collective import (
    Collective,
    aligned_participation,
    attacking,
    backed_chase,
    collective_evidence,
    could_move,
    fleet_share,
    harvest,
    participation,
)
from distillguard.detect.network.communities import (
    Communities,
    carve_cores,
    find_communities,
    split_communities,
)
from distillguard.detect.network.links import (
    KIND_WEIGHTS,
    LinkGraph,
    TemplateKeys,
    build_links,
    template_link_keys,
)
from distillguard.detect.overrides import find_override, rows_to_known_good
from distillguard.detect.prediction.prada import range_reference, stream_stats
from distillguard.detect.queries import (
    ACCOUNT_FEATURES_SQL,
    ACTIVE_BUCKETS_SQL,
    EMPTY_ACCOUNTS,
    HOUR_HISTOGRAM_SQL,
    LINK_KEYS_SQL,
    PREDICT_QUERIES_SQL,
    SIGNUP_ACCOUNTS_SQL,
    TEXT_SAMPLE_SQL,
)
from distillguard.detect.verdicts import (
    AccountVerdict,
    AuditResult,
    AuditStats,
    ClusterVerdict,
    FlagPath,
    KnownGood,
    Response,
    response_for,
)
from distillguard.identity.signup_risk import LinkKind, score_signups
from distillguard.settings import Settings

if TYPE_CHECKING:
    from distillguard.detect.replay import FirstFlag

# Communities at least this big whose score stays below the flag line are split (see
# audit_frame); set on tuning seed 1, where a ring of 8 sat in a community of 440.
SPLIT_MIN_SIZE = 100

__all__ = [
    "CONTENT_SIGNALS",
    "AuditOptions",
    "ContentScorer",
    "TemplateFn",
    "audit_frame",
    "audit_store",
]

log = structlog.get_logger(__name__)

CONTENT_SIGNALS = ("jailbreak", "injection", "extraction", "cot_elicitation", "rubric")
_SIGNAL_COLUMN = {
    "jailbreak": "c_share_jailbreak",
    "injection": "c_share_injection",
    "extraction": "c_share_extraction",
    "cot_elicitation": "c_share_cot",
    "rubric": "c_share_rubric",
}

TemplateFn = Callable[[str], str]


class ContentScorer(Protocol):
    """What the audit needs from C's ``ContentModel``: per-signal scores for many texts."""

    def score(self, texts: Sequence[str]) -> Any: ...


class _Connection(Protocol):
    def execute(self, query: str, parameters: Any = ...) -> Any: ...


class _Store(Protocol):
    @property
    def con(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """Knobs of one audit run (defaults from ``Settings.detect``).

    Replay only: ``replay_windows`` periodic audits over the log, ``online_flag_at`` the online
    score at which the gateway acts (``Settings.gateway.policy.online_degrade_at``),
    ``online_texts_budget`` how many distinct prompts the replayed online scorer scores (the
    default covers every prompt of a 1,500-account day, as the gateway scores every prompt; a
    smaller budget scores a deterministic hash sample),
    ``replay_horizon_s`` how far back each periodic audit reads (None: the whole log so far),
    ``replay_confirm`` how many periodic audits in a row must flag an account,
    ``signup_flag_at`` the causal sign-up risk at which the gateway challenges an account from its
    first request (``Settings.gateway.policy.signup_challenge_at``; None: no sign-up path).

    ``day_by_day``: a log spanning more than ``days.DAY_BY_DAY_FROM_S`` is judged one UTC day at
    a time and the days combined (:func:`days.combine_days`); False audits it as one.
    """

    threshold: float = 0.5
    watch_from: float = 0.25
    texts_budget: int = 12_000
    max_texts_per_account: int = 120
    min_texts_per_account: int = 20
    predict_per_account: int = 400
    replay_windows: int = 24
    online_flag_at: float = 0.6
    online_texts_budget: int = 1_000_000
    replay_horizon_s: float | None = None
    replay_confirm: int = 1
    signup_flag_at: float | None = 0.5
    seed: int = 42
    overrides: tuple[KnownGood, ...] = ()
    detectors: tuple[Detector, ...] = field(default_factory=tuple)
    day_by_day: bool = True


def _signal(result: Any, name: str, n: int) -> np.ndarray:
    value = getattr(result, name, None)
    if value is None and isinstance(result, Mapping):
        value = result.get(name)
    if value is None:
        return np.full(n, np.nan)
    return np.asarray(value, dtype=np.float64)


@dataclass(slots=True)
class _ContentCache:
    """Scores and tags per text hash, kept across replay windows so each text is scored once."""

    scores: dict[int, np.ndarray] = field(default_factory=dict)
    tags: dict[int, np.ndarray] = field(default_factory=dict)
    templates: dict[int, str] = field(default_factory=dict)


def _fetch(con: Any, sql: str) -> pa.Table:
    return con.sql(sql).to_arrow_table()


def _has_table(con: Any, name: str) -> bool:
    row = con.sql(
        f"SELECT count(*) FROM information_schema.tables WHERE table_name = '{name}'"
    ).fetchall()[0]
    return bool(row and row[0])


def _accounts_relation(con: Any) -> str:
    if _has_table(con, "accounts"):
        row = con.sql("SELECT count(*) FROM accounts").fetchall()[0]
        if row and row[0]:
            return "accounts"
    return EMPTY_ACCOUNTS


def _content_features(
    con: Any,
    frame: AccountFrame,
    events: str,
    scorer: ContentScorer | None,
    template_fn: TemplateFn | None,
    opts: AuditOptions,
    cache: _ContentCache,
) -> tuple[int, bool, TemplateKeys]:
    """Fill the c_* columns. Returns (texts scored, sampled?, shared templates per account
    row)."""
    per_account = int(
        np.clip(
            opts.texts_budget // max(len(frame), 1),
            opts.min_texts_per_account,
            opts.max_texts_per_account,
        )
    )
    table = _fetch(con, TEXT_SAMPLE_SQL.format(events=events, per_account=per_account))
    if table.num_rows == 0:
        return 0, False, TemplateKeys({}, {})
    acc = np.asarray(table.column("account_id").to_pylist(), dtype=object)
    hashes = table.column("h").to_numpy(zero_copy_only=False).astype(np.uint64)
    counts = table.column("n").to_numpy(zero_copy_only=False).astype(np.float64)
    n_distinct = table.column("n_distinct").to_numpy(zero_copy_only=False)
    sampled = bool((n_distinct > per_account).any())
    texts = table.column("text").to_pylist()
    new_pos: dict[int, int] = {}
    for i, h in enumerate(hashes.tolist()):
        if h not in cache.tags and h not in new_pos:
            new_pos[h] = i
    if new_pos:
        idx = list(new_pos.values())
        new_texts = [texts[i] for i in idx]
        tags = tag_many(new_texts)
        sig = np.full((len(idx), len(CONTENT_SIGNALS)), np.nan)
        if scorer is not None:
            result = scorer.score(new_texts)
            for k, name in enumerate(CONTENT_SIGNALS):
                sig[:, k] = _signal(result, name, len(idx))
        for j, h in enumerate(new_pos):
            cache.tags[h] = tags[j]
            cache.scores[h] = sig[j]
            if template_fn is not None:
                cache.templates[h] = template_fn(new_texts[j])
    sig_rows = np.vstack([cache.scores[h] for h in hashes.tolist()])
    tag_rows = np.vstack([cache.tags[h] for h in hashes.tolist()])
    tmpl = [cache.templates.get(h) for h in hashes.tolist()]
    # Group rows by account (the query returns them sorted by account).
    bounds = np.flatnonzero(acc[1:] != acc[:-1]) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [acc.shape[0]]])
    ids: list[str] = []
    cols: dict[str, list[float]] = {c: [] for c in _SIGNAL_COLUMN.values()}
    extra: dict[str, list[float]] = {
        "c_n_texts": [],
        "c_distinct_total": [],
        "c_coverage_entropy": [],
        "c_n_categories": [],
        "c_top_template_share": [],
        "c_template_ratio": [],
    }
    top_templates = TemplateKeys({}, {})
    rows_of = frame.index_of([str(a) for a in acc[starts]]) if starts.size else np.zeros(0)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        w = counts[s:e]
        total = w.sum()
        ids.append(str(acc[s]))
        for j, name in enumerate(CONTENT_SIGNALS):
            v = sig_rows[s:e, j]
            cols[_SIGNAL_COLUMN[name]].append(
                float(((v >= COUNT_AT[name]) * w).sum() / total) if np.isfinite(v).all() else np.nan
            )
        cat = (tag_rows[s:e] * w[:, None]).sum(axis=0)
        share = cat[:-1] / max(total, 1.0)
        extra["c_n_texts"].append(float(e - s))
        extra["c_distinct_total"].append(float(n_distinct[s]))
        extra["c_coverage_entropy"].append(category_entropy(cat))
        extra["c_n_categories"].append(float((share >= 0.05).sum()))
        if template_fn is not None:
            t_counts: dict[str, float] = {}
            for t, c in zip(tmpl[s:e], w.tolist(), strict=True):
                if t is not None:
                    t_counts[t] = t_counts.get(t, 0.0) + c
            top = sorted(t_counts.items(), key=lambda kv: -kv[1])
            extra["c_top_template_share"].append(top[0][1] / total if top else np.nan)
            extra["c_template_ratio"].append(len(t_counts) / max(e - s, 1))
        else:
            extra["c_top_template_share"].append(np.nan)
            extra["c_template_ratio"].append(np.nan)
    if scorer is None:
        for c in cols:
            cols[c] = [np.nan] * len(ids)
    frame.put_many(ids, {**cols, **extra})
    if template_fn is not None:
        text_rows = np.repeat(np.asarray(rows_of, dtype=np.int64), ends - starts)
        # How surely each prompt is an attack (NaN unscored): a template made of attack texts is
        # a public one (see shared_templates), whoever sends it.
        attack = sig_rows[:, [CONTENT_SIGNALS.index(s) for s in _ATTACK_SIGNALS]].max(axis=1)
        top_templates = template_link_keys(text_rows, texts, frame.txt("org_id"), attack)
    return len(new_pos), sampled, top_templates


_ATTACK_SIGNALS = ("jailbreak", "injection", "extraction")
# The score from which a prompt counts towards an account's share of each signal. The attack
# heads count only prompts they are sure of: at 0.5 they fire on 18-40% of unseen Chatbot Arena
# prompts (code pastes, role-play set-ups, pasted documents; benchmarks/foreign.py, where that
# share put heavy coding users over the flag line), at 0.95 on 0-5% of them and on 92% of the
# dev attacks. The online scorer counts the same way (online.fold), so its shares equal these.
ATTACK_COUNT_AT = 0.95
COUNT_AT: Mapping[str, float] = {
    name: ATTACK_COUNT_AT if name in _ATTACK_SIGNALS else 0.5 for name in CONTENT_SIGNALS
}


def _predict_features(con: Any, frame: AccountFrame, events: str, opts: AuditOptions) -> None:
    table = _fetch(
        con, PREDICT_QUERIES_SQL.format(events=events, per_account=opts.predict_per_account)
    )
    if table.num_rows == 0:
        return
    acc = np.asarray(table.column("account_id").to_pylist(), dtype=object)
    feats = table.column("features").to_pylist()
    dims = {len(f) for f in feats}
    dim = max(dims, key=lambda d: sum(1 for f in feats if len(f) == d))
    keep = np.array([len(f) == dim for f in feats])
    x = np.asarray([f for f, k in zip(feats, keep, strict=True) if k], dtype=np.float64)
    acc = acc[keep]
    # Every account weighs the same: a campaign's heavy callers would otherwise be the population.
    pop = range_reference(x, acc)
    bounds = np.flatnonzero(acc[1:] != acc[:-1]) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [acc.shape[0]]])
    ids, n, w, ood, spread = [], [], [], [], []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        st = stream_stats(x[s:e], pop)
        ids.append(str(acc[s]))
        n.append(st.n_queries)
        w.append(st.prada_w)
        ood.append(st.ood_share)
        spread.append(st.spread_ratio)
    frame.put_many(
        ids,
        {"pred_n": n, "pred_prada_w": w, "pred_ood_share": ood, "pred_spread_ratio": spread},
    )


def _sparse_notes(frame: AccountFrame, no_accounts: bool) -> list[str]:
    """Say which behaviour detectors fell back to a weaker stand-in because the log lacks a
    field for everyone (the detectors give the per-account reason)."""
    notes: list[str] = []
    text = (
        1 - np.nan_to_num(frame.col("share_predict")) - np.nan_to_num(frame.col("share_embeddings"))
    )
    chat = frame.col("share_has_tokens")[text > 0.5]
    if chat.size and not (chat > 0).any():
        notes.append("no token counts: volume_shape judges request volume only, at half strength")
    if frame.has("share_has_asn") and not np.nanmax(frame.col("share_has_asn"), initial=0.0) > 0:
        notes.append(
            "no ASNs: infra_diversity counts networks as a third of the /24 (/48) prefixes"
        )
    if (
        no_accounts
        and frame.has("share_has_country")
        and not np.nanmax(frame.col("share_has_country"), initial=0.0) > 0
    ):
        notes.append("no countries: the night share is each account's quietest five hours")
    return notes


def _timing_features(con: Any, frame: AccountFrame, events: str) -> None:
    table = _fetch(con, HOUR_HISTOGRAM_SQL.format(events=events))
    hist = np.zeros((len(frame), 24))
    if table.num_rows:
        rows = frame.index_of(table.column("account_id").to_pylist())
        hours = table.column("hour").to_numpy(zero_copy_only=False).astype(np.int64)
        counts = table.column("n").to_numpy(zero_copy_only=False).astype(np.float64)
        np.add.at(hist, (rows, hours), counts)
    declared = frame.txt("declared_country")
    seen = frame.txt("main_country")
    country = np.array([d if d else s for d, s in zip(declared, seen, strict=True)], dtype=object)
    frame.num["night_share"] = local_night_share(hist, offsets_for(country))
    frame.num["hour_entropy"] = hour_entropy(hist)
    frame.num["gap_cv"] = gap_cv(frame.col("gap_mean"), frame.col("gap_std"))


# identity's sign-up groups that become network links; shared devices and cards are linked
# from the account records directly (LINK_KEYS_SQL).
_SIGNUP_LINK_KIND = {
    LinkKind.NETWORK: "signup_burst",
    LinkKind.ASN: "signup_burst",
    LinkKind.EMAIL_DOMAIN: "signup_domain",
}


def _signup_link_keys(
    con: Any, frame: AccountFrame, events: str, accounts: str
) -> tuple[list[int], list[str], list[str]]:
    """(row, kind, value) link keys from identity's sign-up risk groups: bursts of sign-ups
    from one network or AS within an hour, fresh e-mail domains signing up in bursts."""
    if accounts == EMPTY_ACCOUNTS:
        return [], [], []
    table = _fetch(con, SIGNUP_ACCOUNTS_SQL.format(events=events, accounts=accounts))
    if table.num_rows < 2:
        return [], [], []
    result = score_signups(table)
    rows: list[int] = []
    kinds: list[str] = []
    values: list[str] = []
    for g in result.groups:
        kind = _SIGNUP_LINK_KIND.get(g.kind)
        if kind is None:
            continue
        pos = frame.index_of(g.members)
        rows.extend(int(p) for p in pos.tolist())
        kinds.extend([kind] * len(g.members))
        values.extend([f"{g.kind}:{g.key}"] * len(g.members))
    return rows, kinds, values


def _network(
    con: Any,
    frame: AccountFrame,
    events: str,
    accounts: str,
    top_templates: TemplateKeys,
) -> tuple[LinkGraph, Communities]:
    keys = _fetch(con, LINK_KEYS_SQL.format(events=events, accounts=accounts))
    rows = frame.index_of(keys.column("account_id").to_pylist())
    kinds = np.asarray(keys.column("kind").to_pylist(), dtype=object)
    values = np.asarray(keys.column("value").to_pylist(), dtype=object)
    t_rows = [r for r, ts in top_templates.values.items() for _ in ts]
    t_vals = [t for ts in top_templates.values.values() for t in ts]
    if t_rows:
        rows = np.concatenate([rows, np.asarray(t_rows, dtype=np.int64)])
        kinds = np.concatenate([kinds, np.full(len(t_rows), "template", dtype=object)])
        values = np.concatenate([values, np.asarray(t_vals, dtype=object)])
    s_rows, s_kinds, s_vals = _signup_link_keys(con, frame, events, accounts)
    if s_rows:
        rows = np.concatenate([rows, np.asarray(s_rows, dtype=np.int64)])
        kinds = np.concatenate([kinds, np.asarray(s_kinds, dtype=object)])
        values = np.concatenate([values, np.asarray(s_vals, dtype=object)])
    buckets_tab = _fetch(con, ACTIVE_BUCKETS_SQL.format(events=events))
    b_rows = frame.index_of(buckets_tab.column("account_id").to_pylist())
    b_q = buckets_tab.column("q").to_numpy(zero_copy_only=False)
    buckets: dict[int, np.ndarray] = {}
    if b_rows.size:
        bounds = np.flatnonzero(np.diff(b_rows)) + 1
        for s, e in zip(
            np.concatenate([[0], bounds]).tolist(),
            np.concatenate([bounds, [b_rows.shape[0]]]).tolist(),
            strict=True,
        ):
            buckets[int(b_rows[s])] = np.asarray(b_q[s:e])
    graph = build_links(
        rows,
        kinds,
        values,
        len(frame),
        orgs=frame.txt("org_id"),
        active_buckets=buckets,
        template_share=top_templates.share,
    )
    return graph, find_communities(graph)


_KIND_OF = {
    "prediction_extraction": "prediction_extraction",
    "content_abuse": "jailbreak_extraction",
    "elicitation": "distillation",
    "reasoning_params": "distillation",
    "capability_coverage": "distillation",
    "volume_shape": "distillation",
    "template_concentration": "distillation",
    "release_chasing": "distillation",
}


class NetworkOutcome(NamedTuple):
    """What the network stage decided: the final communities, their collective evidence and
    scores, the members' scores after the lift, and which members took their cluster's score as
    closed members (``combine.closed_members``)."""

    comm: Communities
    collective: dict[int, Collective]
    clusters: dict[int, ClusterScore]
    final: np.ndarray
    closed: np.ndarray
    attackers: np.ndarray


def network_stage(
    frame: AccountFrame, own: np.ndarray, graph: LinkGraph, comm: Communities
) -> NetworkOutcome:
    """From the link graph and its communities to the final scores: split big innocent-looking
    communities, carve low-and-slow cores out of communities of strangers, score each cluster
    (its members, cohesion, size and collective behaviour), lift the members and give closed
    members their cluster's score. Pure."""
    orgs = frame.txt("org_id")
    chase, coverage = participation(frame)
    harvesting = harvest(frame)
    # What a chasing member moves to the new model for: to sweep or harvest it, or to attack
    # it (the content-abuse detector's own evidence). NaN where the content model read none
    # of its prompts (a metadata-only audit): the chase then counts alone.
    abuse = np.nan_to_num(ContentAbuse().evaluate(frame).scores)
    purpose = np.where(np.isfinite(frame.col("c_share_cot")), np.fmax(harvesting, abuse), np.nan)
    # A cluster's chase is collective evidence only as far as its chasers' prompts show what
    # they moved for: a class on one campus network told to try the new model in a session
    # moves together too (benchmarks.foreign, held-out seed 12: 29 students, cluster score
    # 0.81, members lifted from 0.03-0.05 to 0.67-0.81), and a member not active before the
    # release did not move (the class had not been). It still counts among the members: a
    # share over the movers alone let four movers among forty newcomers make a cluster chase.
    backed = np.where(could_move(frame), backed_chase(chase, coverage, purpose), 0.0)
    attacks = attacking(frame)
    collective = collective_evidence(comm.members, orgs, backed, coverage, harvesting, attacks)
    clusters = cluster_scores(
        own, comm.members, comm.cohesion, {c: v.score for c, v in collective.items()}
    )
    # A big community that does not look suspicious as a whole may hide a small ring that
    # modularity merged into it (a shared exit address is enough); split it on its own
    # subgraph so the ring is judged by its own members, not by the strangers around it.
    big = [c for c, cs in clusters.items() if cs.size >= SPLIT_MIN_SIZE and cs.score < 0.5]
    if big:
        comm = split_communities(graph, comm, big)
        collective = collective_evidence(comm.members, orgs, backed, coverage, harvesting, attacks)
        clusters = cluster_scores(
            own, comm.members, comm.cohesion, {c: v.score for c, v in collective.items()}
        )
    # A low-and-slow fleet hides in big communities of strangers (shared commercial proxies):
    # carve out linked groups whose members each do two of the three things a harvesting job
    # does (chase the release, sweep the task space, harvest reasoning), and gather the
    # accounts that send mostly through the fleet's own addresses and take part in the
    # release chase or the sweep. Before any release, sweeping and harvesting together are what
    # shows: on the hard tuning world 7 a core of 12 of the fleet forms at the audit 10 hours
    # into the day, where chasing and sweeping first flagged members 14 hours in, most from 18.
    shown = [c for c, v in collective.items() if v.score >= 0.5]
    cov = np.nan_to_num(coverage)
    joint = np.median(np.stack([chase, cov, harvesting]), axis=0)
    comm = carve_cores(
        graph,
        comm,
        joint,
        shown,
        either=np.fmax(chase, cov),
        any_of=np.fmax(np.fmax(chase, cov), harvesting),
    )
    collective = collective_evidence(comm.members, orgs, backed, coverage, harvesting, attacks)
    clusters = cluster_scores(
        own, comm.members, comm.cohesion, {c: v.score for c, v in collective.items()}
    )
    # Each link lifts in proportion to how suspicious the member at its other end is: a
    # customer that modularity merged into a campaign's community is linked to other customers.
    # The collective part lifts a member whose links run mostly to cluster-mates that take part.
    # A member's template links count in proportion to how much of its own traffic carries
    # the template: one template makes a link to every account that stamps it.
    tpl = graph.by_kind.get("template")
    part = aligned_participation(
        comm.label, collective, chase, coverage, comm.strength, harvesting=purpose, attacks=attacks
    )
    tied = comm.graph if comm.graph is not None else graph
    final = lift_from_guilty(
        own,
        comm.label,
        comm.strength,
        clusters,
        (graph.src, graph.dst, graph.specific),
        strength_all=comm.strength_all,
        participation=part,
        fleet=fleet_share(tied.src, tied.dst, tied.weight, comm.label, part),
        template=None
        if tpl is None
        else TemplateTies(
            KIND_WEIGHTS["template"][0] * tpl,
            graph.specific_untemplated,
            graph.weight_untemplated,
            graph.template_share,
        ),
    )
    # A fleet whose members each look like a hobbyist stays below the line through the lift
    # however closed it is; a member with no world outside a cluster of concern, doing what the
    # cluster does, takes the cluster's score (combine.closed_members).
    inside = fleet_share(tied.src, tied.dst, tied.weight, comm.label, np.ones(len(frame)))
    closed = closed_members(
        comm.label,
        clusters,
        inside,
        comm.strength_all,
        np.median(np.stack([backed, cov, harvesting]), axis=0),
    )
    # Likewise a member of a cluster attacking together that attacks itself, whose links are
    # shared addresses too weak for the lift (combine.attacking_members).
    attackers = (
        attacking_members(
            comm.label,
            clusters,
            {c: v.attack_score for c, v in collective.items()},
            inside,
            attacks,
        )
        & ~closed
    )
    cs = np.array([clusters[c].score if c >= 0 else 0.0 for c in comm.label.tolist()])
    final = np.where(closed | attackers, np.maximum(final, cs), final)
    return NetworkOutcome(comm, collective, clusters, final, closed, attackers)


@dataclass(frozen=True, slots=True)
class _Scored:
    frame: AccountFrame
    evidence: dict[str, Evidence]
    own: np.ndarray
    final: np.ndarray
    graph: Any
    comm: Any
    clusters: dict[int, Any]
    override: list[KnownGood | None]
    texts_scored: int
    sampled: bool
    content_available: bool
    notes: tuple[str, ...]
    collective: dict[int, Collective] = field(default_factory=dict)
    closed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    attackers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def audit_frame(
    con: Any,
    events: str,
    accounts: str,
    opts: AuditOptions,
    scorer: ContentScorer | None,
    template_fn: TemplateFn | None,
    cache: _ContentCache | None = None,
) -> _Scored | None:
    """Score every account of ``events`` (a relation name or subquery); None when empty."""
    cache = cache if cache is not None else _ContentCache()
    table = _fetch(con, ACCOUNT_FEATURES_SQL.format(events=events, accounts=accounts))
    if table.num_rows == 0:
        return None
    frame = AccountFrame.from_arrow(table)
    _timing_features(con, frame, events)
    notes: list[str] = []
    has_text = bool(np.nan_to_num(frame.col("share_has_text")).max() > 0)
    texts_scored, sampled = 0, False
    top_templates = TemplateKeys({}, {})
    if has_text:
        texts_scored, sampled, top_templates = _content_features(
            con, frame, events, scorer, template_fn, opts, cache
        )
        if sampled:
            notes.append(
                "content sampled: up to a fixed number of distinct prompts per account were "
                "scored (deterministic hash order)"
            )
    content_available = has_text and scorer is not None
    if not has_text:
        notes.append("metadata-only: the log holds no prompt text")
    elif scorer is None:
        notes.append("metadata-only content signals: no content model was loaded")
    if template_fn is None and has_text:
        notes.append("template fingerprints unavailable: template detector skipped")
    if accounts == EMPTY_ACCOUNTS:
        notes.append("no account records: identity and sign-up evidence skipped")
    notes.extend(_sparse_notes(frame, accounts == EMPTY_ACCOUNTS))
    _predict_features(con, frame, events, opts)
    detectors = opts.detectors or DETECTORS
    evidence: dict[str, Evidence] = {}
    for det in detectors:
        ev = det.evaluate(frame)
        if det.content and not np.isfinite(ev.scores).any():
            ev = Evidence(
                det.name,
                np.full(len(frame), np.nan),
                tuple(() for _ in range(len(frame))),
                skipped="no prompt content" if not has_text else "no content model",
            )
        evidence[det.name] = ev
    logit, _ = account_logits(evidence, len(frame))
    own = sigmoid(logit)
    graph, comm = _network(con, frame, events, accounts, top_templates)
    orgs = frame.txt("org_id")
    comm, collective, clusters, final, closed, attackers = network_stage(frame, own, graph, comm)
    override = [
        find_override(opts.overrides, str(a), o) if opts.overrides else None
        for a, o in zip(frame.ids, orgs, strict=True)
    ]
    return _Scored(
        frame,
        evidence,
        own,
        final,
        graph,
        comm,
        clusters,
        override,
        texts_scored,
        sampled,
        content_available,
        tuple(notes),
        collective,
        closed,
        attackers,
    )


def _from_epoch(t: float) -> datetime:
    return datetime.fromtimestamp(float(t), tz=UTC)


def _account_kind(i: int, evidence: Mapping[str, Evidence]) -> str:
    best, best_v = "coordinated_accounts", 0.3
    for name, kind in _KIND_OF.items():
        ev = evidence.get(name)
        if ev is None:
            continue
        v = float(np.nan_to_num(ev.scores[i]))
        if name == "prediction_extraction":
            v *= 2.0
        if name == "content_abuse":
            v *= 1.5
        if v > best_v:
            best, best_v = kind, v
    return best


def _cluster_id(c: int) -> str:
    return f"C{c + 1:04d}"


def _build_result(
    sc: _Scored,
    opts: AuditOptions,
    started: datetime,
    first_flagged: Mapping[str, FirstFlag] | None,
    replay: bool,
    n_events: int,
) -> AuditResult:
    frame, ev = sc.frame, sc.evidence
    n = len(frame)
    n_events_acc = np.nan_to_num(frame.col("n_events"))
    flagged = (sc.final >= opts.threshold) & np.array([o is None for o in sc.override])
    skipped = sorted(name for name, e in ev.items() if e.skipped)
    cluster_verdicts: list[ClusterVerdict] = []
    kinds = [_account_kind(i, ev) if flagged[i] else None for i in range(n)]
    # Clusters suspicious as a whole with no member flagged: their members are watched.
    review: set[int] = set()
    for c, rows in sorted(sc.comm.members.items()):
        cs = sc.clusters[c]
        c_flag = bool(cs.score >= opts.threshold and flagged[rows].any())
        if cs.score >= opts.threshold and not c_flag:
            review.add(c)
        member_kinds = [k for k in (kinds[r] for r in rows.tolist()) if k]
        kind = max(set(member_kinds), key=member_kinds.count) if member_kinds else "benign"
        shared: dict[str, tuple[str, ...]] = {}
        for link_kind, per_row in sc.graph.shared.items():
            vals: dict[str, int] = {}
            for r in rows.tolist():
                for v in per_row.get(r, ()):
                    vals[v] = vals.get(v, 0) + 1
            common = [v for v, k in sorted(vals.items(), key=lambda kv: -kv[1]) if k >= 2]
            if common:
                shared[link_kind] = tuple(common[:5])
        evidence_lines = [
            f"{len(rows)} accounts linked by {', '.join(sorted(shared)) or 'shared behaviour'}; "
            f"mean link weight {cs.cohesion:.2f}",
            f"members' own scores: suspicious half averages {cs.member_mean:.2f}; "
            f"cluster score {cs.score:.2f}",
            f"{int(flagged[rows].sum())} of {len(rows)} members flagged",
        ]
        if "template" in shared:
            evidence_lines.append(
                f"prompt template stamped across members: {shared['template'][0]}"
            )
        if c in sc.collective:
            evidence_lines.extend(sc.collective[c].reasons)
        resp = response_for(cs.score, c_flag, opts.watch_from)
        if c_flag and cs.score >= 0.95 and len(rows) >= 3:
            resp = Response.SUSPEND
        cluster_verdicts.append(
            ClusterVerdict(
                cluster_id=_cluster_id(c),
                members=tuple(sorted(str(frame.ids[r]) for r in rows.tolist())),
                score=float(cs.score),
                kind=kind if c_flag else "benign",
                evidence=tuple(evidence_lines),
                shared=shared,
                response=resp,
                flagged=c_flag,
                n_events=int(n_events_acc[rows].sum()),
            )
        )
    verdicts: list[AccountVerdict] = []
    for i in range(n):
        acc_id = str(frame.ids[i])
        label = int(sc.comm.label[i])
        score = float(np.clip(sc.final[i], 0.0, 1.0))
        reasons: list[str] = []
        override = sc.override[i]
        if override is not None:
            reasons.append(f"known-good (cleared by {override.who}: {override.why})")
        contrib = sorted(
            (
                (WEIGHTS.get(name, 0.0) * float(np.nan_to_num(e.scores[i])), e.reasons[i])
                for name, e in ev.items()
            ),
            key=lambda t: -t[0],
        )
        for _, rs in contrib:
            reasons.extend(rs)
        if label >= 0 and sc.closed.shape[0] == n and sc.closed[i]:
            cs = sc.clusters[label]
            reasons.append(
                f"closed member of cluster {_cluster_id(label)} ({cs.size} accounts, cluster "
                f"score {cs.score:.2f} from what its members do together, each looking innocent "
                f"alone): its links run inside the cluster and it does two of those things; own "
                f"score {sc.own[i]:.2f} raised to the cluster's"
            )
        elif label >= 0 and sc.attackers.shape[0] == n and sc.attackers[i]:
            cs = sc.clusters[label]
            reasons.append(
                f"attacking member of cluster {_cluster_id(label)} ({cs.size} accounts, cluster "
                f"score {cs.score:.2f}, most of its independent members slipping jailbreak, "
                "injection or extraction prompts into their traffic): its links run inside the "
                f"cluster and it attacks too; own score {sc.own[i]:.2f} raised to the cluster's"
            )
        elif label >= 0 and sc.final[i] > sc.own[i] + 1e-9:
            cs = sc.clusters[label]
            reasons.append(
                f"linked into cluster {_cluster_id(label)} ({cs.size} accounts, cluster score "
                f"{cs.score:.2f}); own score {sc.own[i]:.2f} lifted to {score:.2f}"
            )
        elif label in review:
            cs = sc.clusters[label]
            reasons.append(
                f"member of cluster {_cluster_id(label)} ({cs.size} accounts), to review: the "
                f"cluster scores {cs.score:.2f} as a whole, no member is flagged"
            )
        elif label >= 0:
            reasons.append(
                f"member of cluster {_cluster_id(label)} ({sc.clusters[label].size} accounts)"
            )
        if skipped:
            reasons.append(f"not evaluated (no prompt content): {', '.join(skipped)}")
        is_flagged = bool(flagged[i])
        resp = (
            Response.NONE
            if override is not None
            else response_for(score, is_flagged, opts.watch_from)
        )
        if resp is Response.NONE and override is None and label in review:
            resp = Response.WATCH
        first = first_flagged.get(acc_id) if (replay and first_flagged is not None) else None
        ffa = _from_epoch(first.at) if first is not None else None
        by = first.by if first is not None else None
        if replay and is_flagged and first is None:
            ffa = _from_epoch(frame.col("last_t")[i])
            by = FlagPath.AUDIT
            reasons.append("first flagged by the audit of the whole log")
        elif first is not None:
            reasons.append(first.reason)
        verdicts.append(
            AccountVerdict(
                account_id=acc_id,
                score=score,
                flagged=is_flagged,
                cluster_id=_cluster_id(label) if label >= 0 else None,
                reasons=tuple(reasons),
                first_flagged_at=ffa,
                response=resp,
                features=frame.row(i),
                kind=kinds[i],
                org_id=frame.txt("org_id")[i],
                n_events=int(n_events_acc[i]),
                override=override,
                first_flagged_by=by,
            )
        )
    verdicts.sort(key=lambda v: (-v.score, v.account_id))
    n_flagged = int(flagged.sum())
    susp_events = float(n_events_acc[flagged].sum())
    t0 = frame.col("period_start")
    t1 = frame.col("period_end")
    stats = AuditStats(
        n_events=n_events,
        n_accounts=n,
        n_flagged=n_flagged,
        suspicious_event_share=susp_events / max(n_events, 1),
        content_available=sc.content_available,
        started=started,
        finished=datetime.now(UTC),
        threshold=opts.threshold,
        n_clusters=len(cluster_verdicts),
        n_flagged_clusters=sum(1 for c in cluster_verdicts if c.flagged),
        replay=replay,
        content_texts_scored=sc.texts_scored,
        content_sampled=sc.sampled,
        period_start=_from_epoch(t0[0]) if n and np.isfinite(t0[0]) else None,
        period_end=_from_epoch(t1[0]) if n and np.isfinite(t1[0]) else None,
        notes=sc.notes,
        overrides=opts.overrides,
        detectors=tuple(ev),
    )
    return AuditResult(tuple(verdicts), tuple(cluster_verdicts), stats)


def _store_overrides(con: Any) -> tuple[KnownGood, ...]:
    if not _has_table(con, "known_good"):
        return ()
    table = _fetch(con, "SELECT * FROM known_good")
    return rows_to_known_good(table.to_pylist(), "store table known_good")


def audit_store(
    store: _Store,
    settings: Settings | None = None,
    replay: bool = False,
    overrides: Sequence[KnownGood] = (),
    content: ContentScorer | None = None,
    templates: TemplateFn | None = None,
    options: AuditOptions | None = None,
) -> AuditResult:
    """Audit every account in the store's ``events``.

    ``content`` is a loaded content model (None = metadata-only content signals); ``templates``
    the template-id function. ``overrides`` and a ``known_good`` table in the store are both
    honoured. Raises nothing for missing content or account records: the result's notes say
    what was skipped.
    """
    started = datetime.now(UTC)
    t_start = time.perf_counter()
    con = store.con
    opts = options or AuditOptions()
    if settings is not None:
        opts = AuditOptions(
            **{
                **{f: getattr(opts, f) for f in opts.__dataclass_fields__},
                "threshold": settings.detect.flag_threshold,
                "online_flag_at": settings.gateway.policy.online_degrade_at,
                "signup_flag_at": settings.gateway.policy.signup_challenge_at,
            }
        )
    all_overrides = tuple(overrides) + _store_overrides(con)
    opts = AuditOptions(
        **{**{f: getattr(opts, f) for f in opts.__dataclass_fields__}, "overrides": all_overrides}
    )
    accounts = _accounts_relation(con)
    row = con.sql("SELECT count(*), min(epoch(ts)), max(epoch(ts)) FROM events").fetchall()[0]
    n_events = int(row[0]) if row else 0
    cache = _ContentCache()
    first_flagged: dict[str, FirstFlag] = {}
    replay_notes: tuple[str, ...] = ()
    t0, t1 = (float(row[1]), float(row[2])) if n_events else (0.0, 0.0)
    by_day = opts.day_by_day and t1 - t0 > DAY_BY_DAY_FROM_S
    if by_day and opts.replay_horizon_s is None:
        # A deployment that judges a day at a time audits the last day as it goes.
        opts = replace(opts, replay_horizon_s=DAY_S)
    if replay and n_events:
        # Imported here: the replay drives the online scorer, which imports this module.
        from distillguard.detect.replay import replay_deployment

        outcome = replay_deployment(
            con,
            accounts,
            opts,
            content,
            templates,
            lambda rel: audit_frame(con, rel, accounts, opts, content, templates, cache),
        )
        first_flagged = dict(outcome.first)
        replay_notes = (
            f"replay: {outcome.windows} periodic audits plus the online scorer and cluster "
            f"links in time order ({outcome.seconds:.0f} s); first flags by path: "
            + ", ".join(f"{k} {v}" for k, v in sorted(outcome.by_path.items())),
            *outcome.notes,
        )
    if by_day:
        result = _audit_days(
            con, accounts, opts, content, templates, cache, (t0, t1), n_events, started,
            (first_flagged, replay, replay_notes),
        )  # fmt: skip
        _log_finished(result, replay, t_start)
        return result
    sc = audit_frame(con, "events", accounts, opts, content, templates, cache)
    if sc is None:
        now = datetime.now(UTC)
        return AuditResult(
            (),
            (),
            AuditStats(
                0,
                0,
                0,
                0.0,
                False,
                started,
                now,
                opts.threshold,
                replay=replay,
                notes=("the store holds no events",),
                overrides=opts.overrides,
            ),
        )
    if replay_notes:
        sc = replace(sc, notes=(*sc.notes, *replay_notes))
    result = _build_result(sc, opts, started, first_flagged, replay, n_events)
    _log_finished(result, replay, t_start)
    return result


def _log_finished(result: AuditResult, replay: bool, t_start: float) -> None:
    log.info(
        "audit.finished",
        accounts=result.stats.n_accounts,
        flagged=result.stats.n_flagged,
        clusters=result.stats.n_clusters,
        replay=replay,
        elapsed_ms=round(1000 * (time.perf_counter() - t_start)),
    )


def _audit_days(
    con: Any,
    accounts: str,
    opts: AuditOptions,
    content: ContentScorer | None,
    templates: TemplateFn | None,
    cache: _ContentCache,
    span: tuple[float, float],
    n_events: int,
    started: datetime,
    replayed: tuple[Mapping[str, FirstFlag], bool, tuple[str, ...]],
) -> AuditResult:
    """Audit each UTC day of the log on its own and combine the days (module ``days``).
    ``replayed``: the replay's first flags, whether it ran, and its notes."""
    first_flagged, replay, replay_notes = replayed
    results: list[tuple[str, AuditResult]] = []
    for date, lo, hi in day_windows(*span):
        rel = (
            f"(SELECT * FROM events WHERE ts >= to_timestamp({lo!r}) AND ts < to_timestamp({hi!r}))"
        )
        sc = audit_frame(con, rel, accounts, opts, content, templates, cache)
        if sc is None:
            continue
        n_day = int(np.nan_to_num(sc.frame.col("n_events")).sum())
        results.append((date, _build_result(sc, opts, started, first_flagged, replay, n_day)))
    return combine_days(results, n_events, started, replay_notes)
