"""Replay a deployment over a log: when would distillguard, running as designed, have flagged
each account?

A deployment has four ways to flag an account, and the replay runs them all in time order
with the product's own code:

- **online**: the gateway's per-request scorer (``detect.online``: ``fold`` per request, the
  score recomputed when ``rescore_due`` says so) crosses the policy's online threshold
  (``PolicySettings.online_degrade_at``, where the gateway starts acting) at that request,
  its sequential tests taking the sibling prior from the accounts they flagged before
  (``online.SiblingMarks``; an account flagged by another path is still scored, as the gateway
  scores the requests it refuses, until a test has marked its siblings);
- **audit**: the periodic batch audit (``audit_frame`` on the log up to each cut-off,
  ``replay_windows`` evenly spaced, optionally only the ``replay_horizon_s`` before it) flags
  the account, or its cluster lifts it, in ``replay_confirm`` audits in a row (an audit of a
  partial log sees accounts with little history; asking a second audit to agree keeps a
  one-off false positive from reaching the enforcement list);
- **cluster link**: a request carries infrastructure that, at the last audit, only flagged
  clusters used (``detect.online.cluster_links``: payment instrument, sign-up device or burst,
  egress address, client fingerprint, org) and is caught at that request.

- **sign-up**: identity's sign-up risk (``identity.signup_risk.score_signups_as_of``), scored
  with only the sign-ups made up to the account's first request (a burst counts once its
  members exist), reaches ``signup_flag_at`` (``PolicySettings.signup_challenge_at``): the
  gateway challenges the account from that first request.

An account's first flag is the earliest of these. Accounts cleared by a known-good override
are never flagged by any path (the gateway honours the same list).

Cost: one pass over the events in time order in Python (the online fold, a dict lookup for the
links) plus one audit per window. The gateway scores every prompt with the content model; the
replay scores each distinct prompt once, up to ``online_texts_budget`` of them (beyond it a
deterministic hash sample, the other requests unscored, as a gateway that scores a sample of
prompts would: the stats say what share was scored). Scoring all of them costs about 50 us per
distinct prompt in batch (7-8 s for the 130-160 thousand of a 1,500-account tuning world), and
a sample understates the online path: with every prompt scored, the content test flags a
jailbreak campaign after a median 4-6 requests instead of 15-23.

Predict inputs are judged against the range of the predict inputs the last audit read
(``prediction.prada.range_reference``, every account weighing the same), what the gateway would
load from that audit. Before the first audit they are judged, as the gateway judges them while
its enforcement list has no reference, against the range of the predict inputs seen so far
(``prediction.prada.RunningReference``: every account weighing the same, from the time
``RUNNING_MIN_ACCOUNTS`` accounts have sent some); a deployment would have yesterday's audit,
the replay starts cold.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import structlog

from distillguard.detect import online
from distillguard.detect.engine import CONTENT_SIGNALS, ContentScorer, TemplateFn
from distillguard.detect.overrides import find_override
from distillguard.detect.prediction.prada import (
    PopulationStats,
    RunningReference,
    outside_range,
    range_reference,
)
from distillguard.detect.queries import _TEXT, PREDICT_QUERIES_SQL, events_until
from distillguard.detect.verdicts import FlagPath
from distillguard.identity.signup_risk import SignupRisk, score_signups_as_of

if TYPE_CHECKING:
    from distillguard.detect.engine import AuditOptions, _Scored

__all__ = [
    "AccountFacts",
    "FirstFlag",
    "ReplayOutcome",
    "account_facts",
    "predict_reference",
    "replay_deployment",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FirstFlag:
    """When (event time, epoch seconds) and how an account was first flagged, and why."""

    at: float
    by: FlagPath
    reason: str


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """First flags per account and what the replay did (counts per path, content sample)."""

    first: Mapping[str, FirstFlag]
    windows: int
    by_path: Mapping[str, int]
    content_share: float | None
    seconds: float
    notes: tuple[str, ...] = ()
    audit_seconds: float = 0.0


_EVENTS_SQL = """
SELECT account_id, epoch(ts) AS t, endpoint, model, prompt_tokens, completion_tokens,
       client_ip, asn, country, client_fingerprint, CAST(params AS VARCHAR) AS params,
       hash({text}) AS h, features
FROM events WHERE epoch(ts) > {lo!r} AND epoch(ts) <= {hi!r}
ORDER BY ts, request_id
"""

_ACCOUNTS_SQL = """
SELECT account_id, epoch(created_at) AS created_t, org_id, payment_fingerprint, signup_ip,
       signup_fingerprint, verification, plan, country
FROM {accounts}
"""

_EVENT_ORGS_SQL = "SELECT account_id, any_value(org_id) FROM events GROUP BY 1"

# Distinct prompt texts in the hash sample (``hash % 1_000_000 < cut``).
_SAMPLE_TEXTS_SQL = """
SELECT h, any_value(text) AS text FROM (
    SELECT hash({text}) AS h, {text} AS text FROM events
) WHERE text IS NOT NULL AND length(text) > 0 AND h % 1000000 < {cut}
GROUP BY h
"""

_DISTINCT_TEXTS_SQL = "SELECT count(DISTINCT hash({text})) FROM events WHERE {text} IS NOT NULL"


@dataclass(slots=True)
class _Account:
    state: online.OnlineState
    static_keys: tuple[online.LinkKey, ...]
    cleared: bool
    seen: bool = False
    audit_streak: int = 0
    signup: SignupRisk | None = None
    sibling: tuple[str, ...] = ()  # online.sibling_keys of its record
    marked: bool = False  # a sequential test flagged it: its sibling keys are marked


@dataclass(slots=True)
class _Content:
    """Per sampled text hash: the content signals and template id the gateway would attach."""

    scores: dict[int, dict[str, float]] = field(default_factory=dict)
    templates: dict[int, str | None] = field(default_factory=dict)


def _sample_content(
    con: Any,
    scorer: ContentScorer | None,
    template_fn: TemplateFn | None,
    budget: int,
) -> tuple[_Content, float | None]:
    from distillguard.detect.engine import _signal

    out = _Content()
    if scorer is None and template_fn is None:
        return out, None
    n_distinct = int(con.sql(_DISTINCT_TEXTS_SQL.format(text=_TEXT)).fetchall()[0][0] or 0)
    if n_distinct == 0:
        return out, None
    share = min(1.0, budget / n_distinct)
    cut = int(math.ceil(share * 1_000_000))
    table = con.sql(_SAMPLE_TEXTS_SQL.format(text=_TEXT, cut=cut)).to_arrow_table()
    hashes = [int(h) for h in table.column("h").to_pylist()]
    texts = [str(t) for t in table.column("text").to_pylist()]
    if scorer is not None and texts:
        result = scorer.score(texts)
        sig = np.stack([_signal(result, name, len(texts)) for name in CONTENT_SIGNALS], axis=1)
        for h, row in zip(hashes, sig.tolist(), strict=True):
            out.scores[h] = {
                name: float(v)
                for name, v in zip(CONTENT_SIGNALS, row, strict=True)
                if math.isfinite(v)
            }
    if template_fn is not None:
        for h, text in zip(hashes, texts, strict=True):
            out.templates[h] = template_fn(text)
    else:
        for h in hashes:
            out.templates[h] = None
    return out, len(hashes) / n_distinct


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What the store knows of an account that made a request: its record's fields (None where
    it has no record) and the organisation its events name when the record names none."""

    org: str | None
    created_t: float | None = None
    payment: str | None = None
    signup_ip: str | None = None
    signup_fp: str | None = None
    verification: str | None = None
    plan: str | None = None
    country: str | None = None

    def keys(self) -> tuple[online.LinkKey, ...]:
        return online.account_keys(
            self.org, self.payment, self.signup_ip, self.signup_fp, self.created_t
        )


def account_facts(con: Any, accounts_rel: str) -> dict[str, AccountFacts]:
    """Per account seen in ``events``, its :class:`AccountFacts` (the replay seeds states and
    link keys from them; the audit's enforcement links read the same keys)."""
    orgs = dict(con.sql(_EVENT_ORGS_SQL).fetchall())
    records = {
        r[0]: r for r in con.sql(_ACCOUNTS_SQL.format(accounts=accounts_rel)).fetchall() if r[0]
    }
    out: dict[str, AccountFacts] = {}
    for acc, event_org in orgs.items():
        rec = records.get(acc)
        if rec is None:
            out[acc] = AccountFacts(event_org)
            continue
        _, created_t, org, pay, s_ip, s_fp, verification, plan, country = rec
        out[acc] = AccountFacts(
            org or event_org,
            float(created_t) if created_t is not None else None,
            pay,
            s_ip,
            s_fp,
            verification,
            plan,
            country,
        )
    return out


_SIGNUPS_SQL = """
SELECT a.account_id, a.created_at, a.org_id, a.email_domain, a.payment_fingerprint,
       a.signup_ip, a.signup_fingerprint, a.country
FROM {accounts} a WHERE a.account_id IS NOT NULL AND a.created_at IS NOT NULL
"""

_FIRST_REQUEST_SQL = "SELECT account_id, min(epoch(ts)) FROM events GROUP BY 1"


def _signup_risks(con: Any, accounts_rel: str) -> dict[str, SignupRisk]:
    """Each account's sign-up risk as identity knew it at the account's first request: every
    account record (with or without traffic) is a sign-up the identity service saw."""
    table = con.sql(_SIGNUPS_SQL.format(accounts=accounts_rel)).to_arrow_table()
    if table.num_rows == 0:
        return {}
    first_request = {str(a): float(t) for a, t in con.sql(_FIRST_REQUEST_SQL).fetchall()}
    return score_signups_as_of(table, first_request)


def _accounts(con: Any, accounts_rel: str, opts: AuditOptions) -> dict[str, _Account]:
    out: dict[str, _Account] = {}
    risks = _signup_risks(con, accounts_rel) if opts.signup_flag_at is not None else {}
    facts = account_facts(con, accounts_rel)
    cleared = {
        acc: bool(opts.overrides) and find_override(opts.overrides, acc, f.org) is not None
        for acc, f in facts.items()
    }
    # A cleared account neither marks its siblings nor takes their prior: the gateway sends
    # the scorer no sibling keys for a known-good account.
    siblings = {
        acc: () if cleared[acc] else online.sibling_keys(f.keys()) for acc, f in facts.items()
    }
    carriers: dict[str, int] = {}
    for keys in siblings.values():
        for k in keys:
            carriers[k] = carriers.get(k, 0) + 1
    for acc, f in facts.items():
        state = online.initial_state(f.created_t, f.verification, f.plan, f.country)
        # Keys no other account of the log carries can neither give nor take a prior: the
        # replay drops them (the gateway keeps them, to the same effect), which spares it
        # scoring an account flagged by another path until it marks.
        shared = tuple(k for k in siblings[acc] if carriers[k] > 1)
        out[acc] = _Account(state, f.keys(), cleared[acc], signup=risks.get(acc), sibling=shared)
    return out


def _audited(cut: float, horizon_s: float | None) -> str:
    if horizon_s is None:
        return events_until(cut)
    return f"(SELECT * FROM events WHERE epoch(ts) > {cut - horizon_s!r} AND epoch(ts) <= {cut!r})"


def predict_reference(con: Any, relation: str, per_account: int) -> PopulationStats | None:
    """The range of predict inputs in ``relation`` (at most ``per_account`` per account, as
    the audit takes them): what the gateway judges each predict input against until the next
    audit. None when the relation holds no predict inputs."""
    rows = con.sql(PREDICT_QUERIES_SQL.format(events=relation, per_account=per_account))
    pairs = [(a, f) for a, f in rows.select("account_id, features").fetchall() if f]
    if not pairs:
        return None
    lengths: dict[int, int] = {}
    for _, f in pairs:
        lengths[len(f)] = lengths.get(len(f), 0) + 1
    dim = max(lengths.items(), key=lambda kv: (kv[1], kv[0]))[0]
    keep = [(a, f) for a, f in pairs if len(f) == dim]
    return range_reference(
        np.asarray([f for _, f in keep], dtype=np.float64),
        np.asarray([str(a) for a, _ in keep], dtype=object),
    )


def _params(raw: str | None) -> Mapping[str, Any] | None:
    if not raw:
        return None
    doc = orjson.loads(raw)
    return doc if isinstance(doc, dict) else None


def replay_deployment(
    con: Any,
    accounts_rel: str,
    opts: AuditOptions,
    scorer: ContentScorer | None,
    template_fn: TemplateFn | None,
    audit_at: Callable[[str], _Scored | None],
) -> ReplayOutcome:
    """Run the online path, the periodic audit and the cluster links over ``events`` in time
    order (see the module docstring). ``audit_at(relation)`` audits the events of a relation
    (the log up to a cut-off, or the ``replay_horizon_s`` before it)."""
    started = time.perf_counter()
    row = con.sql("SELECT min(epoch(ts)), max(epoch(ts)) FROM events").fetchall()[0]
    if not row or row[0] is None:
        return ReplayOutcome({}, 0, {}, None, 0.0)
    t0, t1 = float(row[0]), float(row[1])
    accounts = _accounts(con, accounts_rel, opts)
    content, content_share = _sample_content(con, scorer, template_fn, opts.online_texts_budget)
    first: dict[str, FirstFlag] = {}
    carriers: dict[online.LinkKey, set[str]] = {}
    links = online.ClusterLinks()
    step = max((t1 - t0) / max(opts.replay_windows, 1), 1.0)
    cuts = [c for c in (t0 + k * step for k in range(1, max(opts.replay_windows, 1))) if c < t1]
    lo = t0 - 1.0
    audit_s = 0.0
    reference: PopulationStats | None = None
    running = RunningReference()
    marks = online.SiblingMarks()
    for hi in [*cuts, t1]:
        _online_window(
            con, lo, hi, accounts, content, carriers, links, first, opts, reference, running, marks
        )
        if hi < t1:
            t_audit = time.perf_counter()
            audited = _audited(hi, opts.replay_horizon_s)
            sc = audit_at(audited)
            if sc is not None:
                links = _audit_window(sc, opts, accounts, carriers, first)
            reference = predict_reference(con, audited, opts.predict_per_account) or reference
            audit_s += time.perf_counter() - t_audit
        lo = hi
    windows = len(cuts)
    by_path: dict[str, int] = {}
    for f in first.values():
        by_path[str(f.by)] = by_path.get(str(f.by), 0) + 1
    seconds = time.perf_counter() - started
    log.info(
        "replay.finished",
        windows=windows,
        seconds=round(seconds, 1),
        audit_seconds=round(audit_s, 1),
        **by_path,
    )
    notes: list[str] = []
    if content_share is not None and content_share < 1.0:
        notes.append(
            f"replay: the online scorer saw content signals for a {content_share:.0%} hash "
            "sample of the distinct prompts"
        )
    return ReplayOutcome(
        first, windows, by_path, content_share, seconds, tuple(notes), audit_seconds=audit_s
    )


def _online_window(
    con: Any,
    lo: float,
    hi: float,
    accounts: dict[str, _Account],
    content: _Content,
    carriers: dict[online.LinkKey, set[str]],
    links: online.ClusterLinks,
    first: dict[str, FirstFlag],
    opts: AuditOptions,
    reference: PopulationStats | None,
    running: RunningReference,
    marks: online.SiblingMarks,
) -> None:
    """The gateway's per-request path for the events in (lo, hi]; predict inputs are judged
    against ``reference``, the range of the last audit's predict inputs, or before the first
    audit against ``running``, the range of the predict inputs seen so far. ``marks`` are the
    sibling keys of accounts a sequential test flagged so far.

    An account flagged by any path is still scored, as the gateway scores the requests it
    refuses, until a sequential test marks its sibling keys (only then is it done with: its
    first flag is known and it has nothing more to tell its siblings)."""
    table = con.sql(_EVENTS_SQL.format(text=_TEXT, lo=lo, hi=hi)).to_arrow_table()
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    due: list[tuple[str, float, online.OnlineState]] = []
    scores_by_h = content.scores
    templates_by_h = content.templates
    for i, acc in enumerate(cols["account_id"]):
        t = float(cols["t"][i])
        keys = [
            k
            for k in online.request_keys(cols["client_ip"][i], cols["client_fingerprint"][i])
            if k[0] in online.LINK_KINDS
        ]
        for k in keys:
            carriers.setdefault(k, set()).add(acc)
        feats = cols["features"][i]
        ref = reference
        if reference is None and feats and cols["endpoint"][i] == "predict":
            # Before the first audit: the range of what the gateway has seen so far, every
            # account weighing the same (judged before this input joins it).
            ref = running.current()
            running.add(str(acc), np.asarray(feats, dtype=np.float64))
        a = accounts.get(acc)
        if a is None:
            continue
        if not a.seen:
            # The account record's keys count from the account's first request: the gateway
            # meets an account when it first calls.
            a.seen = True
            for k in a.static_keys:
                carriers.setdefault(k, set()).add(acc)
        if a.cleared:
            continue
        if acc not in first:
            _first_request_paths(acc, a, t, keys, links, first, opts)
        if acc in first and (a.marked or not a.sibling):
            continue
        h = cols["h"][i]
        outside = (
            outside_range(np.asarray(feats, dtype=np.float64), ref)
            if ref is not None and feats and cols["endpoint"][i] == "predict"
            else None
        )
        obs = online.Observation(
            ts=t,
            endpoint=cols["endpoint"][i],
            model=cols["model"][i],
            prompt_tokens=cols["prompt_tokens"][i],
            completion_tokens=cols["completion_tokens"][i],
            content=scores_by_h.get(h) if h is not None else None,
            template_id=templates_by_h.get(h) if h is not None else None,
            client_ip=cols["client_ip"][i],
            asn=cols["asn"][i],
            params=_params(cols["params"][i]),
            country=cols["country"][i],
            client_fingerprint=cols["client_fingerprint"][i],
            text_key=str(h) if h is not None else None,
            predict_outside=outside,
        )
        a.state = online.fold(a.state, obs)
        if online.rescore_due(a.state, obs):
            due.append((acc, t, a.state))
    if not due:
        return
    states = [s for _, _, s in due]
    behaviour, identity = online.score_parts(states)
    # The tests without and with the sibling prior, vectorised; which one applies to a due
    # state depends on the marks made before it, so they are read in time order below.
    plain = np.logical_or(*online.tests_passed(states, identity))
    with_prior = np.logical_or(
        *online.tests_passed(states, identity, np.full(len(states), online.SIBLING_PRIOR))
    )
    for (acc, t, state), b, p0, p1 in zip(
        due, behaviour.tolist(), plain.tolist(), with_prior.tolist(), strict=True
    ):
        a = accounts[acc]
        sibling = bool(a.sibling) and marks.prior(acc, a.sibling) > 0.0
        passed = p1 if sibling else p0
        if passed and not a.marked:
            marks.mark(acc, a.sibling)
            a.marked = True
        score = max(b, online.ABUSE_SCORE) if passed else b
        if score < opts.online_flag_at:
            continue
        old = first.get(acc)
        if old is None or t < old.at:
            first[acc] = FirstFlag(
                t,
                FlagPath.ONLINE,
                f"first flagged by the online scorer: score {score:.2f} after {state.n} requests"
                + (" (prior from a flagged sibling)" if sibling and passed else ""),
            )


def _first_request_paths(
    acc: str,
    a: _Account,
    t: float,
    keys: list[online.LinkKey],
    links: online.ClusterLinks,
    first: dict[str, FirstFlag],
    opts: AuditOptions,
) -> None:
    """The paths that judge a request before the scorer: sign-up risk (at the account's first
    request) and the enforcement list's cluster links."""
    risk = a.signup
    if risk is not None and opts.signup_flag_at is not None:
        a.signup = None  # judged once, at the account's first request
        if risk.score >= opts.signup_flag_at:
            first[acc] = FirstFlag(
                t,
                FlagPath.SIGNUP,
                f"first flagged by its sign-up risk {risk.score:.2f} at its first request ("
                + "; ".join(risk.reasons)
                + ")",
            )
            return
    hit = links.match((*keys, *a.static_keys))
    if hit is not None:
        cluster, (kind, _) = hit
        first[acc] = FirstFlag(
            t,
            FlagPath.CLUSTER_LINK,
            f"first flagged by the enforcement list: its {kind} is one only flagged cluster "
            f"{cluster} used",
        )


def _audit_window(
    sc: _Scored,
    opts: AuditOptions,
    accounts: dict[str, _Account],
    carriers: dict[online.LinkKey, set[str]],
    first: dict[str, FirstFlag],
) -> online.ClusterLinks:
    """Flags from the audit at this cut-off, and the cluster links its enforcement list gives."""
    from distillguard.detect.engine import _cluster_id

    ids = [str(a) for a in sc.frame.ids.tolist()]
    last = sc.frame.col("last_t")
    flagged_rows = (sc.final >= opts.threshold) & np.array([o is None for o in sc.override])
    in_frame = set(ids)
    for acc, known in accounts.items():
        if acc not in in_frame:
            known.audit_streak = 0
    confirm = max(opts.replay_confirm, 1)
    for i, acc in enumerate(ids):
        a = accounts.get(acc)
        if a is None:
            continue
        a.audit_streak = a.audit_streak + 1 if flagged_rows[i] else 0
        if acc in first or a.audit_streak < confirm:
            continue
        label = int(sc.comm.label[i])
        lifted = label >= 0 and sc.final[i] > sc.own[i] + 1e-9
        first[acc] = FirstFlag(
            float(last[i]),
            FlagPath.AUDIT,
            f"first flagged by the periodic audit: score {sc.final[i]:.2f}"
            + (f" (lifted by cluster {_cluster_id(label)})" if lifted else "")
            + (f", flagged by {confirm} audits in a row" if confirm > 1 else ""),
        )
    flagged_clusters: dict[str, list[str]] = {}
    for c, rows in sc.comm.members.items():
        cs = sc.clusters[c]
        if cs.score >= opts.threshold and flagged_rows[rows].any():
            flagged_clusters[_cluster_id(c)] = [ids[r] for r in rows.tolist()]
    if not flagged_clusters:
        return online.ClusterLinks()
    flagged = {a for a in first if not accounts.get(a, _CLEARED).cleared}
    return online.cluster_links(flagged_clusters, carriers, flagged)


_CLEARED = _Account(online.OnlineState(), (), True)
