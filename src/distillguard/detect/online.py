"""The online scorer: the batch behaviour detectors, updated one request at a time.

The gateway keeps one :class:`OnlineState` per account (in process or in Redis, via
``to_bytes``/``from_bytes``) and calls :func:`update` per request. The state holds the same
running aggregates the audit computes in SQL (counts, shares, Welford gap statistics over the
same gaps, distinct addresses), turns them into a one-row :class:`AccountFrame` and runs the
*same* registered detectors and the *same* combination as the audit, so an account's online score
equals its batch score before the network stage (a test replays one against the other).

What the online scorer cannot see: the account network (clusters come from the audit's
enforcement list), release chasing (needs the whole population), capability coverage (needs the
prompt text, which the gateway does not keep per account) and PRADA's distance test (needs
each account's past input vectors; the coverage half runs online, below).
Distinct-value counts are exact up to :data:`MAX_DISTINCT` values and saturate there.

One rule is online only, a sequential test for content abuse (:func:`abuse_llr`): the batch
combination needs more than content to flag (red-team vendors and eval harnesses send the same
prompts), which leaves a fresh, weakly verified account free to send jailbreaks until the next
audit. Wald's sequential probability ratio test on the account's scored prompts, "share of
prompts the content model is sure are jailbreak / injection / extraction (score at least
``ABUSE_STRONG_AT``) is the campaign rate" against "it is the benign base rate", acts as soon as
the log-likelihood ratio reaches ``ABUSE_LLR_AT`` (a false alarm rate of about 1/10,000 per
benign account under the base rate), and only on accounts whose identity evidence (the
``identity_risk`` detector: account age, verification tier, plan) is at least
``ABUSE_IDENTITY_AT``, with a higher bound below ``ABUSE_IDENTITY_FULL`` (:func:`abuse_bound`);
an established or verified customer's content is left to the audit. A
sent-again prompt that already counted as a hit is not new evidence and is skipped (a user
retrying the request the content model disliked). A passing test lifts the score to
``ABUSE_SCORE`` (the policy challenges, i.e. asks to verify).

A second sequential test watches ``predict`` calls (:func:`predict_llr`): the share of an
account's inputs outside the population's range (``Observation.predict_outside``, judged by the
caller against the last audit's ``prediction.prada.range_reference``, or before there is one
against a ``prediction.prada.RunningReference`` of the inputs seen so far), customer rate against
extraction-sweep rate, same bound, no identity gate (the rates separate established customers
too), lifting the score to ``ABUSE_SCORE`` as well (the policy challenges a weakly verified
account and degrades a verified one's outputs).

Both tests take a prior from the account's siblings (:class:`SiblingMarks`): once a test has
flagged an account, every other account carrying its payment instrument or sign-up device
(``SIBLING_KINDS``, from the account records) starts its tests ``SIBLING_PRIOR`` nearer the
bound (prior odds a hundred times higher), and the content test judges it even below the
identity gate, at the bound of the most established account (the gate keeps an established
customer's jailbreaks out of the test; a card or device a caught sock-puppet used says the
identity is not what it seems). The gateway marks the keys at the moment of the flag, the replay
at the request that flagged.

``update`` is ``fold`` (the aggregates) then, when ``rescore_due``, ``score_state``; a replay of
many accounts (``detect.replay``) folds the same way and scores the due states together with
``score_many``, which gives the same numbers. :func:`cluster_links` is the per-request side of
the enforcement list's clusters: infrastructure only flagged clusters used, so that a new account
presenting it is caught at its first request.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import orjson

from distillguard.detect import DETECTORS
from distillguard.detect.behaviour.frame import AccountFrame
from distillguard.detect.combine import account_logits, sigmoid
from distillguard.detect.engine import CONTENT_SIGNALS, COUNT_AT
from distillguard.detect.findings import Evidence

__all__ = [
    "ABUSE_BASE_RATE",
    "ABUSE_CAMPAIGN_RATE",
    "ABUSE_IDENTITY_AT",
    "ABUSE_IDENTITY_FULL",
    "ABUSE_LLR_AT",
    "ABUSE_LLR_EXTRA",
    "ABUSE_SCORE",
    "ABUSE_STRONG_AT",
    "MAX_DISTINCT",
    "PREDICT_BASE_RATE",
    "PREDICT_CAMPAIGN_RATE",
    "PREDICT_MIN_QUERIES",
    "RESCORE_ALWAYS_UNTIL",
    "RESCORE_EVERY",
    "SIBLING_KINDS",
    "SIBLING_PRIOR",
    "ClusterLinks",
    "LinkKey",
    "Observation",
    "OnlineScore",
    "OnlineState",
    "SiblingMarks",
    "abuse_bound",
    "abuse_llr",
    "account_keys",
    "cluster_links",
    "fold",
    "initial_state",
    "link_hash",
    "link_hashes",
    "predict_llr",
    "request_keys",
    "rescore_due",
    "score_many",
    "score_parts",
    "score_state",
    "sibling_keys",
    "state_frame",
    "states_frame",
    "tests_passed",
    "update",
]

MAX_DISTINCT = 64
# Scoring runs the full detector set (about a millisecond); the aggregates are updated on every
# request but the score is recomputed on each of an account's first requests, then every
# RESCORE_EVERY requests and on every request with a content hit. A score is at most that many
# requests stale; the maths is the batch maths.
RESCORE_ALWAYS_UNTIL = 32
RESCORE_EVERY = 8
_MAX_TEMPLATES = 32
_GAP_CAP_S = 21600.0  # gaps of six hours or more are sleep, not cadence (as in the batch SQL)
_SKIP_ONLINE = frozenset({"release_chasing", "capability_coverage", "prediction_extraction"})
_ABUSE_SIGNALS = ("jailbreak", "injection", "extraction")
# The sequential test counts only hits the content model is sure of. Its middling scores are not
# evidence: on tuning seeds 1-3 a jailbreak campaign's prompts score 0.5-0.95 about as often
# (5%) as a new sign-up's (4%), and they cluster on some benign users (a non-English system
# prompt on every request scored 0.5-0.9 on jailbreak: two new sign-ups of seed 1 passed the
# old test, 0.5 cut against a 5% base rate, once every prompt was scored). At 0.95 a campaign's
# share is about half, a new sign-up's about 1% (pooled; the look-alikes that translate or
# quote a jailbreak) and other benign kinds' 0.0-0.5%; 1% against 40% puts the 1/10,000
# bound at three sure hits with up to two other prompts between them.
ABUSE_STRONG_AT = 0.95
ABUSE_BASE_RATE = 0.01
ABUSE_CAMPAIGN_RATE = 0.4
ABUSE_LLR_AT = math.log(10_000.0)
# The identity gate slides: from ABUSE_IDENTITY_FULL up (new, weakly verified: a fresh email
# or anonymous sign-up) the bound is ABUSE_LLR_AT; between ABUSE_IDENTITY_AT and it (a
# phone-verified prepaid account a week or two old, an older email one) the bound rises by up
# to ABUSE_LLR_EXTRA (a 100 times lower prior, about one more sure hit), and below it
# (established or verified customers: red-team vendors, security teams) content is left to the
# audit. A flat 0.6 gate left a jailbreak campaign's phone-verified accounts (identity 0.49-0.58
# on tuning seeds 1-2) unjudged until an audit, a tenth of the campaign's requests.
ABUSE_IDENTITY_AT = 0.45
ABUSE_IDENTITY_FULL = 0.6
ABUSE_LLR_EXTRA = math.log(100.0)
ABUSE_SCORE = 0.9
# The second online test is the coverage half of the prediction test (prediction.prada), one
# query at a time: the share of an account's predict inputs outside the population's range
# (six robust standard deviations from its median, every account weighing the same). On tuning
# seeds 1-3, against the first hour's range, prediction customers send 0-13% such inputs
# (median 1-3%), extraction sweeps 30-43%; 12% against 35% with the same 1/10,000 bound
# flags a sweep after about 60 queries (the audit needs 20-60 queries and an audit to come
# round). Judged from PREDICT_MIN_QUERIES on, PRADA's own minimum.
PREDICT_BASE_RATE = 0.12
PREDICT_CAMPAIGN_RATE = 0.35
PREDICT_MIN_QUERIES = 20
# The sibling prior (module docstring). Only a payment instrument and a sign-up device mark: an
# organisation, a sign-up burst (an office signing up behind one NAT) or an egress address
# holds honest strangers too. A hundredfold prior is ABUSE_LLR_EXTRA: an established sibling
# needs the evidence a fresh one needs without it, a fresh sibling about one sure hit less.
# On tuning seeds 1-2 a jailbreak campaign's accounts share a card three by three and a
# prediction sweep's four by four; no benign account shares a card or device with one.
SIBLING_KINDS = frozenset({"payment", "signup_device"})
SIBLING_PRIOR = math.log(100.0)
_SIGNAL_COLUMN = {
    "jailbreak": "c_share_jailbreak",
    "injection": "c_share_injection",
    "extraction": "c_share_extraction",
    "cot_elicitation": "c_share_cot",
    "rubric": "c_share_rubric",
}


@dataclass(frozen=True, slots=True)
class Observation:
    """One request as the gateway sees it. ``content`` maps C's signal names to scores in
    [0, 1] (None when content is not scored); ``params`` the request parameters as sent;
    ``text_key`` identifies the prompt text (a hash; equal texts, equal keys), None when
    unknown; ``predict_outside`` whether a predict call's input lies outside the population's
    range (``prediction.prada.outside_range`` against the last audit's reference), None when
    not judged (no reference yet, not a predict call)."""

    ts: float
    endpoint: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    content: Mapping[str, float] | None
    template_id: str | None
    client_ip: str
    asn: int | None
    params: Mapping[str, Any] | None = None
    country: str | None = None
    client_fingerprint: str | None = None
    text_key: str | None = None
    predict_outside: bool | None = None


@dataclass(frozen=True, slots=True)
class OnlineScore:
    """The account's score in [0, 1] after this request, with the evidence behind it;
    ``test_passed``: a sequential test flagged the account (what marks its siblings)."""

    score: float
    reasons: tuple[str, ...]
    test_passed: bool = False


_SET_FIELDS = (
    "ips", "subnets", "asns", "countries", "fingerprints", "abuse_keys",
    "day_subnets", "day_asns", "day_countries", "day_fingerprints",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OnlineState:
    """Running per-account aggregates; immutable, replaced by every update."""

    n: int = 0
    sum_pt: float = 0.0
    sum_ct: float = 0.0
    n_has_ct: int = 0
    n_long: int = 0
    n_reasoning_high: int = 0
    n_logprobs: int = 0
    n_multi: int = 0
    n_max_large: int = 0
    n_predict: int = 0
    first_t: float | None = None
    last_t: float | None = None
    gap_n: int = 0
    gap_mean: float = 0.0
    gap_m2: float = 0.0
    n_subsecond: int = 0
    active_hours: int = 0
    last_hour: int | None = None
    hist24: tuple[int, ...] = (0,) * 24
    ips: frozenset[str] = frozenset()
    subnets: frozenset[str] = frozenset()
    asns: frozenset[int] = frozenset()
    countries: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()
    n_content: int = 0
    content_hits: tuple[int, ...] = (0,) * len(CONTENT_SIGNALS)
    templates: tuple[tuple[str, int], ...] = ()
    n_templated: int = 0
    n_abuse: int = 0
    n_tested: int = 0
    abuse_keys: frozenset[str] = frozenset()
    n_pred_judged: int = 0
    n_pred_outside: int = 0
    created_t: float | None = None
    verification: str | None = None
    plan: str | None = None
    country: str | None = None
    last_score: float = 0.0
    last_reasons: tuple[str, ...] = ()
    # The current UTC day's volume and spread, and the last active day's before it (requests,
    # subnets, networks, countries, fingerprints): a long-lived account is judged on its
    # typical day, as the audit judges a log longer than a day (behaviour.detectors._typical).
    day: int | None = None
    day_n: int = 0
    day_subnets: frozenset[str] = frozenset()
    day_asns: frozenset[int] = frozenset()
    day_countries: frozenset[str] = frozenset()
    day_fingerprints: frozenset[str] = frozenset()
    prev_day: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    def to_bytes(self) -> bytes:
        d = asdict(self)
        for k in _SET_FIELDS:
            d[k] = sorted(d[k])
        return orjson.dumps(d)

    @classmethod
    def from_bytes(cls, data: bytes) -> OnlineState:
        d = orjson.loads(data)
        for k in _SET_FIELDS:
            if k in d:  # a state written before the field existed takes its default
                d[k] = frozenset(int(a) for a in d[k]) if k.endswith("asns") else frozenset(d[k])
        if "prev_day" in d:
            d["prev_day"] = tuple(d["prev_day"])
        d["hist24"] = tuple(d["hist24"])
        d["content_hits"] = tuple(d["content_hits"])
        d["templates"] = tuple((str(t), int(c)) for t, c in d["templates"])
        d["last_reasons"] = tuple(d["last_reasons"])
        return cls(**d)


def initial_state(
    created_at_epoch_s: float | None = None,
    verification: str | None = None,
    plan: str | None = None,
    country: str | None = None,
) -> OnlineState:
    """A fresh state; pass the account record's fields when known (identity evidence)."""
    return OnlineState(
        created_t=created_at_epoch_s, verification=verification, plan=plan, country=country
    )


def _subnet(ip: str) -> str:
    if ":" in ip:
        return ":".join(ip.split(":")[:3])
    parts = ip.split(".")
    return ".".join(parts[:3]) if len(parts) == 4 else ip


def _add(s: frozenset[Any], v: Any) -> frozenset[Any]:
    if v is None or v == "" or v in s or len(s) >= MAX_DISTINCT:
        return s
    return s | {v}


def _num(params: Mapping[str, Any] | None, key: str, default: float) -> float:
    if not params or params.get(key) is None:
        return default
    try:
        return float(params[key])
    except (TypeError, ValueError):
        return default


def fold(state: OnlineState, obs: Observation) -> OnlineState:
    """Fold one request into the running aggregates, without scoring (see :func:`update`).
    Observations must arrive in time order per account (the gateway sees them that way)."""
    p = obs.params or {}
    ct = obs.completion_tokens
    effort = str(p.get("reasoning_effort") or "").lower()
    logprobs = str(p.get("logprobs")).lower() == "true" or _num(p, "top_logprobs", 0.0) > 0
    gap_n, gap_mean, gap_m2, n_sub = state.gap_n, state.gap_mean, state.gap_m2, state.n_subsecond
    if state.last_t is not None:
        gap = obs.ts - state.last_t
        if gap < _GAP_CAP_S:
            gap_n += 1
            delta = gap - gap_mean
            gap_mean += delta / gap_n
            gap_m2 += delta * (gap - gap_mean)
            n_sub += int(gap < 1.0)
    hour = math.floor(obs.ts / 3600)
    hist = list(state.hist24)
    hist[int(math.floor((obs.ts % 86400) / 3600))] += 1
    hits = state.content_hits
    n_content = state.n_content
    n_abuse, n_tested, abuse_keys = state.n_abuse, state.n_tested, state.abuse_keys
    if obs.content is not None:
        n_content += 1
        hits = tuple(
            h + int(float(obs.content.get(name, 0.0)) >= COUNT_AT[name])
            for h, name in zip(hits, CONTENT_SIGNALS, strict=True)
        )
        sure = any(float(obs.content.get(name, 0.0)) >= ABUSE_STRONG_AT for name in _ABUSE_SIGNALS)
        # A sure hit sent again is the same evidence again (retries, a user pasting the prompt
        # the content model disliked once more): it counts once.
        if not (sure and obs.text_key is not None and obs.text_key in abuse_keys):
            n_tested += 1
            n_abuse += int(sure)
            if sure:
                abuse_keys = _add(abuse_keys, obs.text_key)
    subnet = _subnet(obs.client_ip)
    day = math.floor(obs.ts / 86400)
    today = state
    if state.day is not None and day != state.day:
        today = replace(
            state,
            day_n=0,
            day_subnets=frozenset(),
            day_asns=frozenset(),
            day_countries=frozenset(),
            day_fingerprints=frozenset(),
            prev_day=(
                state.day_n,
                len(state.day_subnets),
                len(state.day_asns),
                len(state.day_countries),
                len(state.day_fingerprints),
            ),
        )
    templates = state.templates
    n_templated = state.n_templated
    if obs.template_id is not None:
        n_templated += 1
        counts = dict(templates)
        if obs.template_id in counts or len(counts) < _MAX_TEMPLATES:
            counts[obs.template_id] = counts.get(obs.template_id, 0) + 1
        templates = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return replace(
        state,
        n=state.n + 1,
        sum_pt=state.sum_pt + float(obs.prompt_tokens or 0),
        sum_ct=state.sum_ct + float(ct or 0),
        n_has_ct=state.n_has_ct + int(ct is not None),
        n_long=state.n_long + int((ct or 0) >= 1000),
        n_reasoning_high=state.n_reasoning_high + int(effort in ("high", "max", "maximum")),
        n_logprobs=state.n_logprobs + int(logprobs),
        n_multi=state.n_multi + int(_num(p, "n", 1.0) > 1),
        n_max_large=state.n_max_large + int(_num(p, "max_tokens", 0.0) >= 4000),
        n_predict=state.n_predict + int(obs.endpoint == "predict"),
        n_pred_judged=state.n_pred_judged + int(obs.predict_outside is not None),
        n_pred_outside=state.n_pred_outside + int(obs.predict_outside is True),
        first_t=obs.ts if state.first_t is None else state.first_t,
        last_t=obs.ts,
        gap_n=gap_n,
        gap_mean=gap_mean,
        gap_m2=gap_m2,
        n_subsecond=n_sub,
        active_hours=state.active_hours + int(hour != state.last_hour),
        last_hour=hour,
        hist24=tuple(hist),
        ips=_add(state.ips, obs.client_ip),
        subnets=_add(state.subnets, subnet),
        asns=_add(state.asns, obs.asn),
        countries=_add(state.countries, obs.country),
        fingerprints=_add(state.fingerprints, obs.client_fingerprint),
        n_content=n_content,
        content_hits=hits,
        n_abuse=n_abuse,
        n_tested=n_tested,
        abuse_keys=abuse_keys,
        templates=templates,
        n_templated=n_templated,
        day=day,
        day_n=today.day_n + 1,
        day_subnets=_add(today.day_subnets, subnet),
        day_asns=_add(today.day_asns, obs.asn),
        day_countries=_add(today.day_countries, obs.country),
        day_fingerprints=_add(today.day_fingerprints, obs.client_fingerprint),
        prev_day=today.prev_day,
    )


def _content_hit(obs: Observation) -> bool:
    return obs.content is not None and any(
        float(obs.content.get(name, 0.0)) >= 0.5 for name in CONTENT_SIGNALS
    )


def rescore_due(state: OnlineState, obs: Observation) -> bool:
    """Whether the scorer recomputes the score after ``obs`` was folded into ``state``: on each
    of an account's first requests, every RESCORE_EVERY requests, on every content hit and on
    every predict input outside the population's range (the evidence the tests count)."""
    return (
        state.n <= RESCORE_ALWAYS_UNTIL
        or state.n % RESCORE_EVERY == 0
        or _content_hit(obs)
        or obs.predict_outside is True
    )


def update(
    state: OnlineState, obs: Observation, prior: float = 0.0
) -> tuple[OnlineState, OnlineScore]:
    """Fold one request into the state and score the account (see RESCORE_EVERY); ``prior`` is
    its sibling prior (:meth:`SiblingMarks.prior`). Observations must arrive in time order per
    account (the gateway sees them that way)."""
    new = fold(state, obs)
    if rescore_due(new, obs):
        scored = score_state(new, prior)
        new = replace(new, last_score=scored.score, last_reasons=scored.reasons)
        return new, scored
    return new, OnlineScore(new.last_score, new.last_reasons)


def _features(state: OnlineState) -> dict[str, float]:
    n = max(state.n, 1)
    num: dict[str, float] = {
        "n_events": float(state.n),
        "active_hours": float(state.active_hours),
        "mean_prompt_tokens": state.sum_pt / n,
        "mean_completion_tokens": state.sum_ct / n,
        "share_long_completion": state.n_long / n,
        "share_reasoning_high": state.n_reasoning_high / n,
        "share_logprobs": state.n_logprobs / n,
        "share_multi_choice": state.n_multi / n,
        "share_max_tokens_large": state.n_max_large / n,
        "share_predict": state.n_predict / n,
        "n_ips": float(len(state.ips)),
        "n_subnets": float(len(state.subnets)),
        "n_asns": float(len(state.asns)),
        "n_countries": float(len(state.countries)),
        "n_fingerprints": float(len(state.fingerprints)),
        "first_t": float(state.first_t) if state.first_t is not None else math.nan,
        "last_t": float(state.last_t) if state.last_t is not None else math.nan,
        "gap_mean": state.gap_mean if state.gap_n else 0.0,
        "gap_std": math.sqrt(state.gap_m2 / state.gap_n) if state.gap_n else 0.0,
        "n_gaps": float(state.gap_n),
        "share_subsecond_gaps": state.n_subsecond / state.gap_n if state.gap_n else 0.0,
        "created_t": state.created_t if state.created_t is not None else math.nan,
        # an account's typical day: the larger of today so far and its last active day before
        "span_days": (
            (state.last_t - state.first_t) / 86400.0
            if state.first_t is not None and state.last_t is not None
            else math.nan
        ),
        "day_events": float(max(state.day_n, state.prev_day[0])),
        "day_subnets": float(max(len(state.day_subnets), state.prev_day[1])),
        "day_asns": float(max(len(state.day_asns), state.prev_day[2])),
        "day_countries": float(max(len(state.day_countries), state.prev_day[3])),
        "day_fingerprints": float(max(len(state.day_fingerprints), state.prev_day[4])),
    }
    if state.n_content:
        for name, hits in zip(CONTENT_SIGNALS, state.content_hits, strict=True):
            num[_SIGNAL_COLUMN[name]] = hits / state.n_content
    if state.n_templated >= 1 and state.templates:
        num["c_top_template_share"] = state.templates[0][1] / state.n_templated
        num["c_n_texts"] = float(state.n_templated)
        num["c_template_ratio"] = len(state.templates) / state.n_templated
    return num


def states_frame(states: Sequence[OnlineState]) -> AccountFrame:
    """The feature frame the batch detectors read, one row per state (a feature a state cannot
    give yet, e.g. content shares before any scored prompt, is NaN in its row)."""
    from distillguard.detect.behaviour.timing import gap_cv, local_night_share, offsets_for

    rows = [_features(s) for s in states]
    names = dict.fromkeys(k for r in rows for k in r)
    frame = AccountFrame(
        ids=np.asarray([f"account{i}" for i in range(len(states))], dtype=object),
        num={
            k: np.fromiter((r.get(k, math.nan) for r in rows), np.float64, len(rows)) for k in names
        },
        text={
            "verification": np.asarray([s.verification for s in states], dtype=object),
            "plan": np.asarray([s.plan for s in states], dtype=object),
        },
    )
    hist = np.asarray([s.hist24 for s in states], dtype=np.float64).reshape(len(states), 24)
    frame.num["night_share"] = local_night_share(
        hist, offsets_for(np.asarray([s.country for s in states], dtype=object))
    )
    frame.num["gap_cv"] = gap_cv(frame.col("gap_mean"), frame.col("gap_std"))
    return frame


def state_frame(state: OnlineState) -> AccountFrame:
    """The one-row feature frame the batch detectors read, from the running aggregates."""
    from distillguard.detect.behaviour.timing import gap_cv, local_night_share, offsets_for

    num = _features(state)
    frame = AccountFrame(
        ids=np.asarray(["account"], dtype=object),
        num={k: np.asarray([v], dtype=np.float64) for k, v in num.items()},
        text={
            "verification": np.asarray([state.verification], dtype=object),
            "plan": np.asarray([state.plan], dtype=object),
        },
    )
    hist = np.asarray([state.hist24], dtype=np.float64)
    frame.num["night_share"] = local_night_share(
        hist, offsets_for(np.asarray([state.country], dtype=object))
    )
    frame.num["gap_cv"] = gap_cv(frame.col("gap_mean"), frame.col("gap_std"))
    return frame


def _evidence(frame: AccountFrame) -> dict[str, Evidence]:
    return {d.name: d.evaluate(frame) for d in DETECTORS if d.name not in _SKIP_ONLINE}


def abuse_llr(n_abuse: np.ndarray, n_tested: np.ndarray) -> np.ndarray:
    """Log-likelihood ratio of ``n_abuse`` sure jailbreak / injection / extraction hits among
    ``n_tested`` counted prompts: campaign rate against benign base rate (see the module
    docstring). Grows by about 3.7 per hit and falls by about 0.5 per other prompt."""
    k = np.asarray(n_abuse, dtype=np.float64)
    n = np.asarray(n_tested, dtype=np.float64)
    p0, p1 = ABUSE_BASE_RATE, ABUSE_CAMPAIGN_RATE
    return np.asarray(
        k * math.log(p1 / p0) + (n - k) * math.log((1.0 - p1) / (1.0 - p0)), dtype=np.float64
    )


def predict_llr(n_outside: np.ndarray, n_judged: np.ndarray) -> np.ndarray:
    """Log-likelihood ratio of ``n_outside`` predict inputs outside the population's range
    among ``n_judged``: extraction rate against the customers' rate. Grows by about 1.07 per
    input outside, falls by about 0.30 per input inside."""
    k = np.asarray(n_outside, dtype=np.float64)
    n = np.asarray(n_judged, dtype=np.float64)
    p0, p1 = PREDICT_BASE_RATE, PREDICT_CAMPAIGN_RATE
    return np.asarray(
        k * math.log(p1 / p0) + (n - k) * math.log((1.0 - p1) / (1.0 - p0)), dtype=np.float64
    )


def _identity(evidence: Mapping[str, Evidence], n: int) -> np.ndarray:
    ident = evidence.get("identity_risk")
    return np.full(n, np.nan) if ident is None else np.asarray(ident.scores, dtype=np.float64)


def tests_passed(
    states: Sequence[OnlineState],
    identity_risk: np.ndarray,
    priors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether the content test and the predict test flag each state, given its identity risk
    (the ``identity_risk`` detector's score, NaN without an account record) and its sibling
    prior (log prior odds, 0 without a flagged sibling; see SIBLING_PRIOR)."""
    n = len(states)
    prior = np.zeros(n) if priors is None else np.asarray(priors, dtype=np.float64)
    risk = np.asarray(identity_risk, dtype=np.float64)
    risk = np.where(np.isfinite(risk), risk, 0.0)
    llr = abuse_llr(
        np.fromiter((s.n_abuse for s in states), np.float64, n),
        np.fromiter((s.n_tested for s in states), np.float64, n),
    )
    gate = (risk >= ABUSE_IDENTITY_AT) | (prior > 0.0)
    content = gate & (llr + prior >= abuse_bound(risk))
    judged = np.fromiter((s.n_pred_judged for s in states), np.float64, n)
    pllr = predict_llr(np.fromiter((s.n_pred_outside for s in states), np.float64, n), judged)
    predict = (pllr + prior >= ABUSE_LLR_AT) & (judged >= PREDICT_MIN_QUERIES)
    return np.asarray(content, dtype=bool), np.asarray(predict, dtype=bool)


def abuse_bound(identity_risk: np.ndarray) -> np.ndarray:
    """The log-likelihood ratio the content test needs at this identity risk (see
    ABUSE_IDENTITY_FULL): ABUSE_LLR_AT for a new weak account, up to ABUSE_LLR_EXTRA more
    towards the gate and below it (where only an account with a flagged sibling is judged)."""
    below = (ABUSE_IDENTITY_FULL - np.asarray(identity_risk, dtype=np.float64)) / (
        ABUSE_IDENTITY_FULL - ABUSE_IDENTITY_AT
    )
    return np.asarray(ABUSE_LLR_AT + ABUSE_LLR_EXTRA * np.clip(below, 0.0, 1.0), dtype=np.float64)


_SIBLING_WHY = " (prior: an account on its payment instrument or sign-up device was flagged)"


def score_state(state: OnlineState, prior: float = 0.0) -> OnlineScore:
    """Score the account from its state (same detectors and weights as the audit, then the
    online sequential tests for content abuse and predict sweeps, with the sibling
    ``prior``)."""
    frame = state_frame(state)
    evidence = _evidence(frame)
    logit, _ = account_logits(evidence, 1)
    score = float(sigmoid(logit)[0])
    reasons: list[str] = []
    for ev in evidence.values():
        reasons.extend(ev.reasons[0])
    content, predict = tests_passed([state], _identity(evidence, 1), np.asarray([prior]))
    sibling = _SIBLING_WHY if prior > 0.0 else ""
    if content[0] and score < ABUSE_SCORE:
        score = ABUSE_SCORE
        llr = float(abuse_llr(np.asarray([state.n_abuse]), np.asarray([state.n_tested]))[0])
        reasons.append(
            f"sequential test: {state.n_abuse} of {state.n_tested} scored prompts surely "
            f"jailbreak, injection or extraction (log-likelihood ratio {llr:.1f} against a "
            f"{ABUSE_BASE_RATE:.0%} benign rate)"
            + (sibling or " on a new, weakly verified account")
        )
    if predict[0] and score < ABUSE_SCORE:
        score = ABUSE_SCORE
        llr = float(
            predict_llr(np.asarray([state.n_pred_outside]), np.asarray([state.n_pred_judged]))[0]
        )
        reasons.append(
            f"sequential test: {state.n_pred_outside} of {state.n_pred_judged} predict inputs "
            f"outside the range real clients send (log-likelihood ratio {llr:.1f} against a "
            f"{PREDICT_BASE_RATE:.0%} rate for a customer)" + sibling
        )
    return OnlineScore(score, tuple(reasons), bool(content[0] or predict[0]))


def score_parts(states: Sequence[OnlineState]) -> tuple[np.ndarray, np.ndarray]:
    """Each state's behaviour score (the audit's detectors and combination, before the
    sequential tests) and identity risk (NaN without an account record), in one vectorised
    pass: with :func:`tests_passed` what :func:`score_many` combines."""
    if not states:
        return np.zeros(0), np.zeros(0)
    evidence = _evidence(states_frame(states))
    logit, _ = account_logits(evidence, len(states))
    return np.asarray(sigmoid(logit), dtype=np.float64), _identity(evidence, len(states))


def score_many(states: Sequence[OnlineState], priors: np.ndarray | None = None) -> np.ndarray:
    """The score of each state, as :func:`score_state` gives it with the same ``priors``, in
    one vectorised pass (the detectors work on columns)."""
    behaviour, risk = score_parts(states)
    if not states:
        return behaviour
    content, predict = tests_passed(states, risk, priors)
    return np.where(content | predict, np.maximum(behaviour, ABUSE_SCORE), behaviour)


def sibling_keys(keys: Iterable[LinkKey]) -> tuple[str, ...]:
    """The keys of an account's record that the sibling prior reads (SIBLING_KINDS), hashed as
    the enforcement list hashes link keys (:func:`link_hash`)."""
    return tuple(sorted(link_hash(k) for k in keys if k[0] in SIBLING_KINDS))


class SiblingMarks:
    """Sibling keys (:func:`sibling_keys`) of accounts a sequential test flagged, each with the
    first account that marked it. :meth:`prior` is a dict lookup per key (request path);
    at ``max_keys`` the marks start again from empty (bounded memory, as the scorer's states)."""

    def __init__(self, max_keys: int = 1_000_000) -> None:
        self._by: dict[str, str] = {}
        self._new: list[tuple[str, str]] = []
        self.max_keys = max_keys

    def __len__(self) -> int:
        return len(self._by)

    def prior(self, account_id: str, keys: Iterable[str]) -> float:
        """SIBLING_PRIOR when another account marked one of ``keys``, else 0."""
        for k in keys:
            marker = self._by.get(k)
            if marker is not None and marker != account_id:
                return SIBLING_PRIOR
        return 0.0

    def mark(self, account_id: str, keys: Iterable[str]) -> None:
        """A sequential test flagged ``account_id``: mark its keys (a key keeps its first
        marker)."""
        for k in keys:
            if k not in self._by:
                if len(self._by) >= self.max_keys:
                    self._by.clear()
                self._by[k] = account_id
                self._new.append((k, account_id))

    def learn(self, key: str, account_id: str) -> None:
        """A mark made elsewhere (another gateway's scorer, via Redis)."""
        if key not in self._by and len(self._by) < self.max_keys:
            self._by[key] = account_id

    def drain_new(self) -> list[tuple[str, str]]:
        """The ``(key, account)`` marks made here since the last call (to share them)."""
        out, self._new = self._new, []
        return out


LinkKey = tuple[str, str]
"""(kind, value) of a piece of infrastructure the gateway sees on a request: ``ip`` (egress
address), ``device`` (client fingerprint), and from the account record ``payment``,
``signup_device``, ``signup_burst`` (sign-up /24 and hour) and ``org``."""


# Egress addresses do not link by default: proxy and VPN exits a campaign used are handed to
# strangers afterwards, and on the tuning worlds an address rule caught one campaign account
# for every forty-odd benign ones (privacy-VPN users, developers, corporate NAT).
LINK_KINDS = frozenset({"payment", "signup_device", "signup_burst", "device", "org"})


def account_keys(
    org_id: str | None = None,
    payment_fingerprint: str | None = None,
    signup_ip: str | None = None,
    signup_fingerprint: str | None = None,
    created_at_epoch_s: float | None = None,
) -> tuple[LinkKey, ...]:
    """The link keys an account carries from its record (known from its first request on)."""
    out: list[LinkKey] = []
    if org_id:
        out.append(("org", org_id))
    if payment_fingerprint:
        out.append(("payment", payment_fingerprint))
    if signup_fingerprint:
        out.append(("signup_device", signup_fingerprint))
    if signup_ip and created_at_epoch_s is not None and math.isfinite(created_at_epoch_s):
        out.append(
            ("signup_burst", f"{_subnet(signup_ip)}@{math.floor(created_at_epoch_s / 3600)}")
        )
    return tuple(out)


def request_keys(client_ip: str | None, client_fingerprint: str | None) -> tuple[LinkKey, ...]:
    """The link keys one request carries (egress address, client fingerprint)."""
    out: list[LinkKey] = []
    if client_ip:
        out.append(("ip", client_ip))
    if client_fingerprint:
        out.append(("device", client_fingerprint))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class ClusterLinks:
    """Infrastructure that only flagged clusters use, so that a new account presenting it is
    caught at its first request (a fresh sock-puppet on the operator's card, sign-up burst,
    proxy address or device) instead of at the next audit.

    Built by :func:`cluster_links` from the audit's flagged clusters; ``match`` is a dict lookup
    per key, cheap enough for the request path.
    """

    keys: Mapping[LinkKey, str] = field(default_factory=dict)

    def match(self, keys: Iterable[LinkKey]) -> tuple[str, LinkKey] | None:
        """The flagged cluster and the key that links these keys to it, or None."""
        if not self.keys:
            return None
        for k in keys:
            cluster = self.keys.get(k)
            if cluster is not None:
                return cluster, k
        return None


def cluster_links(
    flagged_clusters: Mapping[str, Iterable[str]],
    carriers: Mapping[LinkKey, Iterable[str]],
    flagged: Container[str],
    min_members: int = 2,
    kinds: Container[str] = LINK_KINDS,
) -> ClusterLinks:
    """Keys that link to a flagged cluster: carried by at least ``min_members`` of its flagged
    members and by no account that is not flagged.

    ``flagged_clusters`` maps a cluster id to its members, ``carriers`` each key to the accounts
    seen with it so far, ``flagged`` the accounts on the enforcement list. A key any unflagged
    account uses (a corporate NAT, a VPN exit, an org with honest members) never links, which is
    what keeps the rule from spreading a campaign's verdict onto bystanders. Only ``kinds``
    link (see :data:`LINK_KINDS`).
    """
    cluster_of: dict[str, str] = {}
    for cluster_id, members in flagged_clusters.items():
        for m in members:
            cluster_of.setdefault(m, cluster_id)
    out: dict[LinkKey, str] = {}
    for key, accounts in carriers.items():
        if key[0] not in kinds:
            continue
        votes: dict[str, int] = {}
        clean = True
        for a in accounts:
            if a not in flagged:
                clean = False
                break
            c = cluster_of.get(a)
            if c is not None:
                votes[c] = votes.get(c, 0) + 1
        if not clean or not votes:
            continue
        cluster, n = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
        if n >= min_members:
            out[key] = cluster
    return ClusterLinks(out)


def link_hash(key: LinkKey) -> str:
    """The key as the enforcement list carries it: SHA-256 of kind and value (hex). Payment
    instruments and device ids are sensitive, so the file never holds them in clear; the gateway
    hashes what it sees and looks the hash up."""
    kind, value = key
    return hashlib.sha256(f"{kind}\x00{value}".encode("utf-8", "replace")).hexdigest()


def link_hashes(links: ClusterLinks) -> dict[str, list[tuple[str, str]]]:
    """Per flagged cluster, its link keys as ``(kind, link_hash)`` pairs, sorted (what the
    enforcement list writes)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for key, cluster in links.keys.items():
        out.setdefault(cluster, []).append((key[0], link_hash(key)))
    for pairs in out.values():
        pairs.sort()
    return out
