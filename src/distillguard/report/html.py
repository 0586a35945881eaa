"""The audit's HTML report: one self-contained, offline file an analyst can open and forward.

Sections: summary (headline numbers, share of traffic judged suspicious, traffic over time),
the flagged clusters with their evidence (shared infrastructure, footprint, timeline against all
traffic, repeated and sample prompts), the flagged accounts with reasons and recommended
responses, the analyst's known-good overrides, the plots (score distribution, per-model traffic
showing release chasing) and, for labelled data, the comparison with ground truth.

Self-contained means: styles inline, plots inline SVG, no scripts at all, no external URL, and a
Content-Security-Policy that would refuse any that slipped in. Customer text is redacted
(:mod:`distillguard.report.redact`), truncated and escaped (:mod:`distillguard.report.markup`).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from string import Template

import structlog

import distillguard
from distillguard.detect.content.templates import mask, template_id
from distillguard.detect.verdicts import (
    RESPONSE_LADDER,
    AccountVerdict,
    AuditResult,
    ClusterVerdict,
    FlagPath,
    KnownGood,
    Response,
)
from distillguard.events.records import Label, LabelRecord
from distillguard.report import plots, queries
from distillguard.report.groundtruth import Comparison, compare
from distillguard.report.markup import Markup, el, join
from distillguard.report.queries import ClusterTraffic, ModelTraffic, ReportStore, SampleText
from distillguard.report.redact import excerpt, redact

__all__ = ["ReportData", "collect", "render", "write_report"]

log = structlog.get_logger(__name__)

# How much of each kind the page shows in full; the rest is counted and left to the JSONL files.
MAX_DETAILED_CLUSTERS = 15
MAX_LISTED_CLUSTERS = 200
MAX_ACCOUNT_ROWS = 300
MAX_MEMBERS_SHOWN = 40
MAX_SHARED_VALUES = 8
SAMPLES_PER_CLUSTER = 5
TEMPLATES_PER_CLUSTER = 4
SAMPLE_CHARS = 280


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the page shows, gathered from the store and the audit result. ``traffic``
    and ``models`` are None for an empty log; ``comparison`` only with ground truth."""

    result: AuditResult
    traffic: queries.Traffic | None
    models: ModelTraffic | None
    cluster_traffic: dict[str, ClusterTraffic] = field(default_factory=dict)
    samples: dict[str, list[SampleText]] = field(default_factory=dict)
    comparison: Comparison | None = None
    truth: dict[str, LabelRecord] = field(default_factory=dict)


def _ranked_clusters(result: AuditResult) -> list[ClusterVerdict]:
    return sorted(
        result.clusters, key=lambda c: (not c.flagged, -c.score, -len(c.members), c.cluster_id)
    )


def collect(
    store: ReportStore, result: AuditResult, labels: Sequence[LabelRecord] | None = None
) -> ReportData:
    """Run the report's queries against ``store`` for ``result`` (a few group-bys)."""
    con = store.con
    detailed = [c.cluster_id for c in _ranked_clusters(result) if c.flagged][:MAX_DETAILED_CLUSTERS]
    detailed += [c.cluster_id for c in result.clusters_to_review()][:MAX_DETAILED_CLUSTERS]
    span = queries.event_span(con)
    with queries.verdicts_view(con, result):
        traffic = models = None
        per_cluster: dict[str, ClusterTraffic] = {}
        samples: dict[str, list[SampleText]] = {}
        if span is not None:
            bucket_s = queries.choose_bucket_s(span[1] - span[0])
            traffic = queries.traffic(con, (span[0], span[1]), bucket_s)
            models = queries.model_traffic(con, traffic)
            per_cluster = queries.cluster_traffic(con, traffic, detailed)
            samples = queries.cluster_samples(con, detailed)
        comparison = None
        if labels:
            with queries.labels_view(con, labels):
                served = queries.campaign_events(con) if span is not None else None
            comparison = compare(result, labels, served)
    return ReportData(
        result=result,
        traffic=traffic,
        models=models,
        cluster_traffic=per_cluster,
        samples=samples,
        comparison=comparison,
        truth={r.account_id: r for r in labels or ()},
    )


def write_report(
    store: ReportStore,
    result: AuditResult,
    path: Path,
    labels: Sequence[LabelRecord] | None = None,
) -> Path:
    """Write the HTML report for ``result`` to ``path`` (atomically) and return the path.

    ``labels`` (ground truth, for simulated data) adds the comparison section; without them
    the report describes only what the audit found.
    """
    path = Path(path)
    page = render(collect(store, result, labels))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("report.written", path=str(path), bytes=len(page.encode("utf-8")))
    return path


# -- formatting ---------------------------------------------------------------------------------


def _ts(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_FLAG_PATH_WORDS = {
    FlagPath.ONLINE: "online scorer",
    FlagPath.AUDIT: "periodic audit",
    FlagPath.CLUSTER_LINK: "cluster link",
    FlagPath.SIGNUP: "sign-up risk",
}


def _first_flag(a: AccountVerdict) -> str:
    """When the account was first flagged and, in replay, by which path."""
    when = _ts(a.first_flagged_at)
    if a.first_flagged_by is None:
        return when
    return f"{when} ({_FLAG_PATH_WORDS[a.first_flagged_by]})"


def _pct(share: float | None, digits: int = 1) -> str:
    return "—" if share is None else f"{100.0 * share:.{digits}f}%"


def _num(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,.3f}"


def _score(s: float) -> str:
    return f"{s:.3f}"


def _badge(response: Response | str) -> Markup:
    value = str(response)
    return el("span", value, class_=f"badge r-{value}")


def _kind_badge(kind: str | None) -> Markup:
    if not kind:
        return Markup("")
    return el("span", kind, class_="badge k-benign" if kind == "benign" else "badge k-other")


def _reasons(reasons: Iterable[str], limit: int | None = None) -> Markup:
    items = list(reasons)
    shown = items if limit is None else items[:limit]
    more = len(items) - len(shown)
    lis = [el("li", r) for r in shown]
    if more > 0:
        lis.append(el("li", f"… and {more} more", class_="muted"))
    return el("ul", lis, class_="reasons")


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()
) -> Markup:
    head = el(
        "tr", [el("th", h, class_="num" if i in numeric else None) for i, h in enumerate(headers)]
    )
    body = [
        el("tr", [el("td", c, class_="num" if i in numeric else None) for i, c in enumerate(row)])
        for row in rows
    ]
    return el("table", el("thead", head), el("tbody", body))


def _card(value: str, label: str, highlight: bool = False) -> Markup:
    return el(
        "div",
        el("div", value, class_="v"),
        el("div", label, class_="k"),
        class_="card hl" if highlight else "card",
    )


def _section(anchor: str, title: str, *children: object) -> Markup:
    return el("section", el("h2", title), *children, id=anchor)


# -- sections -----------------------------------------------------------------------------------


def _notices(result: AuditResult) -> list[Markup]:
    stats = result.stats
    out: list[Markup] = []
    if not stats.content_available:
        out.append(
            el(
                "div",
                el("strong", "Metadata only. "),
                "Content detectors (jailbreak, extraction, reasoning elicitation, templates) did "
                "not run: the log carries no prompt text, or no content model was available "
                "(the notes below say which). Verdicts rest on behaviour, infrastructure and "
                "the account network.",
                class_="notice warn",
            )
        )
    elif stats.content_sampled and not any("sampl" in note for note in stats.notes):
        out.append(
            el(
                "div",
                f"Content was sampled for speed: {_num(stats.content_texts_scored)} distinct "
                "prompts were scored.",
                class_="notice",
            )
        )
    out.extend(el("div", note, class_="notice") for note in stats.notes)
    return out


def _summary(data: ReportData) -> Markup:
    result = data.result
    stats = result.stats
    flagged_clusters = [c for c in result.clusters if c.flagged]
    responses: Counter[Response] = Counter(
        a.response for a in result.accounts if a.response is not Response.NONE
    )
    cards = el(
        "div",
        _card(_pct(stats.suspicious_event_share), "of traffic judged suspicious", highlight=True),
        _card(
            f"{_num(stats.n_flagged)} / {_num(stats.n_accounts)}",
            "accounts flagged",
            highlight=stats.n_flagged > 0,
        ),
        _card(_num(len(flagged_clusters)), "suspicious clusters"),
        _card(_num(stats.n_events), "requests audited"),
        _card(_num(len(stats.overrides)), "known-good overrides"),
        class_="cards",
    )
    lines = [
        el(
            "p",
            f"Period {_ts(stats.period_start)} to {_ts(stats.period_end)}. Accounts are flagged "
            f"at score ≥ {stats.threshold:.2f}; the share of traffic judged suspicious is the "
            "share of requests made by flagged accounts.",
        )
    ]
    if responses:
        ladder = [r for r in Response if r in responses]
        lines.append(
            el(
                "p",
                "Recommended responses: ",
                join(*[join(_badge(r), f" {_num(responses[r])}  ") for r in ladder]),
            )
        )
    if stats.replay:
        paths = Counter(a.first_flagged_by for a in result.accounts if a.first_flagged_by)
        lines.append(
            el(
                "p",
                "Events were replayed in time order as a deployment sees them: the gateway's "
                "online scorer per request, a periodic audit, and cluster links (a new account "
                "presenting infrastructure only flagged clusters used). Each account's "
                "first-flagged time is the earliest of the three; first flags by "
                + ", ".join(f"{w} {_num(paths.get(p, 0))}" for p, w in _FLAG_PATH_WORDS.items())
                + ". Accounts flagged at some point and cleared by the full audit keep their "
                "first-flagged time in verdicts.jsonl.",
                class_="muted small",
            )
        )
    if stats.days:
        lines.append(
            el(
                "p",
                "The log spans more than a day and a half, so it was judged one UTC day at a "
                "time, each account taking the verdict of its strongest day:",
                class_="muted small",
            )
        )
        lines.append(
            _table(
                ("day (UTC)", "requests", "accounts", "flagged", "flagged clusters"),
                [
                    (
                        d.date,
                        _num(d.n_events),
                        _num(d.n_accounts),
                        _num(d.n_flagged),
                        _num(d.n_flagged_clusters),
                    )
                    for d in stats.days
                ],
                numeric=(1, 2, 3, 4),
            )  # fmt: skip
        )
    plot = (
        Markup(plots.traffic_svg(data.traffic))
        if data.traffic is not None
        else el("p", "The log holds no events.", class_="muted")
    )
    return _section("summary", "Summary", *_notices(result), cards, *lines, plot)


def _shared_rows(cluster: ClusterVerdict) -> list[tuple[str, Markup]]:
    rows: list[tuple[str, Markup]] = []
    for key, values in sorted(cluster.shared.items()):
        shown = [redact(v) for v in values[:MAX_SHARED_VALUES]]
        more = len(values) - len(shown)
        text = ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")
        rows.append((key.replace("_", " "), el("span", text, class_="mono")))
    return rows


def _footprint(ct: ClusterTraffic | None, cluster: ClusterVerdict) -> Markup:
    if ct is None:
        return el("p", "No requests from this cluster in the log.", class_="muted")
    pairs: list[tuple[str, object]] = [
        ("requests", _num(ct.n_events)),
        ("active accounts", f"{_num(ct.n_accounts_active)} of {_num(len(cluster.members))}"),
        ("addresses", _num(ct.n_ips)),
        ("networks (ASN)", _num(ct.n_asns)),
        ("countries", _num(ct.n_countries)),
        ("device fingerprints", _num(ct.n_fingerprints)),
        ("user agents", _num(ct.n_user_agents)),
        ("models", ", ".join(f"{m} ({_num(n)})" for m, n in ct.models)),
        ("endpoints", ", ".join(f"{m} ({_num(n)})" for m, n in ct.endpoints)),
        ("active", f"{_ts(ct.first_ts)} – {_ts(ct.last_ts)}"),
    ]
    return el("dl", [join(el("dt", k), el("dd", v)) for k, v in pairs], class_="kv")


def _templates(samples: list[SampleText], shared_ids: Sequence[str]) -> Markup:
    """The sample grouped by template skeleton (C's ``mask``: numbers, names and slot values
    masked), most common first. Masking runs on the redacted text so that no fragment of a
    secret survives in a skeleton."""
    counts: Counter[str] = Counter()
    ids: dict[str, str] = {}
    for s in samples:
        skeleton = mask(redact(s.text))
        counts[skeleton] += s.count
        ids.setdefault(skeleton, template_id(s.text))
    total = sum(counts.values())
    top = [(sk, n) for sk, n in counts.most_common(TEMPLATES_PER_CLUSTER) if n >= 2]
    if not top:
        return Markup("")
    shared = set(shared_ids)
    rows = [
        (
            el("span", excerpt(sk, SAMPLE_CHARS), class_="mono"),
            _pct(n / total),
            join(
                el("span", ids[sk], class_="mono"),
                " (shared by members)" if ids[sk] in shared else "",
            ),
        )
        for sk, n in top
    ]
    return join(
        el("h4", "Prompt templates"),
        _table(("masked skeleton", "share of sample", "template id"), rows, numeric=(1,)),
    )


def _prompts(
    samples: list[SampleText] | None, content_available: bool, shared_templates: Sequence[str]
) -> Markup:
    if not samples:
        why = (
            "The log carries no prompt text (metadata only)."
            if not content_available
            else "No prompt text in this cluster's requests (e.g. prediction-API traffic)."
        )
        return el("p", why, class_="muted small")
    total = sum(s.count for s in samples)
    repeated = [s for s in samples if s.count > 1][:SAMPLES_PER_CLUSTER]
    out: list[Markup] = [_templates(samples, shared_templates)]
    if repeated:
        out.append(el("h4", "Most repeated prompts"))
        out.append(
            el(
                "ol",
                [
                    el(
                        "li",
                        excerpt(s.text, SAMPLE_CHARS),
                        el("span", f"×{s.count} of {total} sampled", class_="n"),
                    )
                    for s in repeated
                ],
                class_="samples",
            )
        )
    # Spread the samples over the list (ordered by frequency) rather than take the head.
    singles = [s for s in samples if s.count == 1] or samples
    step = max(len(singles) // SAMPLES_PER_CLUSTER, 1)
    picks = singles[::step][:SAMPLES_PER_CLUSTER]
    out.append(el("h4", "Sample prompts"))
    out.append(el("ol", [el("li", excerpt(s.text, SAMPLE_CHARS)) for s in picks], class_="samples"))
    out.append(
        el(
            "p",
            "Excerpts are truncated; keys, tokens and e-mail addresses are masked.",
            class_="muted small",
        )
    )
    return join(*out)


def _members(cluster: ClusterVerdict, verdicts: dict[str, AccountVerdict]) -> Markup:
    members = sorted(
        cluster.members, key=lambda a: (-(verdicts[a].score if a in verdicts else 0.0), a)
    )
    rows = []
    for account_id in members[:MAX_MEMBERS_SHOWN]:
        v = verdicts.get(account_id)
        if v is None:
            rows.append((account_id, "—", "", "", ""))
            continue
        rows.append(
            (
                account_id,
                _score(v.score),
                _badge(v.response),
                _num(v.n_events),
                v.reasons[0] if v.reasons else "",
            )
        )
    more = len(members) - len(rows)
    note = (
        el("p", f"… and {_num(more)} more in verdicts.jsonl", class_="muted small") if more else ""
    )
    return el(
        "details",
        el("summary", f"Members ({_num(len(members))})"),
        _table(("account", "score", "response", "requests", "top reason"), rows, numeric=(1, 3)),
        note,
    )


def _cluster_block(data: ReportData, cluster: ClusterVerdict) -> Markup:
    verdicts = data.result.by_account()
    ct = data.cluster_traffic.get(cluster.cluster_id)
    head = el(
        "div",
        el("h3", f"Cluster {cluster.cluster_id}"),
        _kind_badge(cluster.kind) if cluster.flagged else "",
        _badge(cluster.response),
        el(
            "span",
            f"score {_score(cluster.score)} · {_num(len(cluster.members))} accounts · "
            f"{_num(ct.n_events if ct else cluster.n_events)} requests",
            class_="muted",
        ),
        class_="cluster-head",
    )
    shared = _shared_rows(cluster)
    evidence = el(
        "div",
        el("h4", "Evidence"),
        _reasons(cluster.evidence) if cluster.evidence else el("p", "—", class_="muted"),
        el("h4", "Shared infrastructure and behaviour"),
        _table(("link", "shared values"), shared)
        if shared
        else el("p", "No shared values recorded.", class_="muted"),
    )
    footprint = el("div", el("h4", "Footprint"), _footprint(ct, cluster))
    timeline = (
        Markup(plots.cluster_timeline_svg(data.traffic, ct.counts, cluster.cluster_id))
        if ct is not None and data.traffic is not None
        else Markup("")
    )
    prompts = _prompts(
        data.samples.get(cluster.cluster_id),
        data.result.stats.content_available,
        cluster.shared.get("template", ()),
    )
    return el(
        "div",
        head,
        el("div", evidence, footprint, class_="two"),
        el("h4", "Timeline: this cluster's requests against all traffic"),
        timeline,
        prompts,
        _members(cluster, verdicts),
        class_="cluster",
        id=f"cluster-{cluster.cluster_id}",
    )


def _clusters(data: ReportData) -> Markup:
    ranked = _ranked_clusters(data.result)
    flagged = [c for c in ranked if c.flagged]
    review = data.result.clusters_to_review()
    shown = {c.cluster_id for c in review}
    benign = [c for c in ranked if not c.flagged and c.cluster_id not in shown]
    detailed = flagged[:MAX_DETAILED_CLUSTERS]
    parts: list[object] = []
    if not flagged:
        parts.append(el("p", "No cluster was judged suspicious.", class_="muted"))
    else:
        parts.append(
            el(
                "p",
                f"{_num(len(flagged))} linked groups of accounts were judged suspicious, "
                "strongest first. Each lists why its members are linked and why the group is "
                "suspicious.",
            )
        )
    parts.extend(_cluster_block(data, c) for c in detailed)
    rest = flagged[MAX_DETAILED_CLUSTERS:]
    if rest:
        parts.append(el("h3", f"Further suspicious clusters ({_num(len(rest))})"))
        parts.append(_cluster_table(rest[:MAX_LISTED_CLUSTERS]))
    if review:
        parts.append(el("h3", f"Clusters to review ({_num(len(review))})"))
        parts.append(
            el(
                "p",
                "Judged suspicious as a whole, though no member is flagged: what the members "
                "do together on infrastructure they share, each looking innocent alone. "
                "Response watch; a person decides.",
                class_="muted",
            )
        )
        parts.extend(_cluster_block(data, c) for c in review[:MAX_DETAILED_CLUSTERS])
        if len(review) > MAX_DETAILED_CLUSTERS:
            parts.append(_cluster_table(review[MAX_DETAILED_CLUSTERS:][:MAX_LISTED_CLUSTERS]))
    if benign:
        parts.append(
            el(
                "details",
                el(
                    "summary",
                    f"Linked groups judged benign ({_num(len(benign))}): shared infrastructure "
                    "alone is not an accusation",
                ),
                _cluster_table(benign[:MAX_LISTED_CLUSTERS]),
            )
        )
    return _section("clusters", "Clusters", *parts)


def _cluster_table(clusters: Sequence[ClusterVerdict]) -> Markup:
    return _table(
        ("cluster", "kind", "accounts", "score", "response", "evidence"),
        [
            (
                c.cluster_id,
                _kind_badge(c.kind),
                _num(len(c.members)),
                _score(c.score),
                _badge(c.response),
                _reasons(c.evidence, limit=2),
            )
            for c in clusters
        ],
        numeric=(2, 3),
    )


def _accounts(data: ReportData) -> Markup:
    flagged = sorted(data.result.flagged(), key=lambda a: (-a.score, a.account_id))
    if not flagged:
        return _section("accounts", "Flagged accounts", el("p", "No account was flagged."))
    rows = [
        (
            el("span", a.account_id, class_="mono"),
            _score(a.score),
            _badge(a.response),
            a.kind or "",
            el("a", a.cluster_id, href=f"#cluster-{a.cluster_id}") if a.cluster_id else "—",
            _num(a.n_events),
            _first_flag(a),
            _reasons(a.reasons, limit=3),
        )
        for a in flagged[:MAX_ACCOUNT_ROWS]
    ]
    more = len(flagged) - len(rows)
    return _section(
        "accounts",
        f"Flagged accounts ({_num(len(flagged))})",
        el(
            "p",
            "Highest score first, with the reasons behind each score and the recommended "
            "response. The full list, one line per account, is in verdicts.jsonl.",
            class_="muted small",
        ),
        el(
            "div",
            _table(
                (
                    "account",
                    "score",
                    "response",
                    "kind",
                    "cluster",
                    "requests",
                    "first flagged",
                    "reasons",
                ),
                rows,
                numeric=(1, 5),
            ),
            class_="scroll",
        ),
        el("p", f"… and {_num(more)} more in verdicts.jsonl.", class_="muted") if more else "",
    )


def _override_text(k: KnownGood) -> str:
    if k.account_id and k.org_id:
        return f"account {k.account_id} (org {k.org_id})"
    return f"account {k.account_id}" if k.account_id else f"organisation {k.org_id}"


def _overrides(data: ReportData) -> Markup:
    stats = data.result.stats
    cleared = [a for a in data.result.accounts if a.override is not None]
    if not stats.overrides and not cleared:
        return _section(
            "overrides",
            "Analyst overrides",
            el("p", "No known-good overrides were configured for this audit.", class_="muted"),
        )
    entries = _table(
        ("known-good", "who", "why", "added"),
        [(_override_text(k), k.who, k.why, _ts(k.added_at)) for k in stats.overrides],
    )
    rows = [
        (
            el("span", a.account_id, class_="mono"),
            a.org_id or "—",
            _score(a.score),
            a.override.who if a.override else "",
            a.override.why if a.override else "",
        )
        for a in sorted(cleared, key=lambda a: (-a.score, a.account_id))
    ]
    return _section(
        "overrides",
        "Analyst overrides",
        el(
            "p",
            "Accounts and organisations an analyst marked known-good. The audit honours them: "
            "they are never flagged and get no response, whatever their score.",
        ),
        entries,
        el("h4", f"Accounts cleared by an override ({_num(len(cleared))})"),
        _table(("account", "org", "score without override", "who", "why"), rows, numeric=(2,))
        if rows
        else el("p", "None of the overridden accounts appeared in this log.", class_="muted"),
    )


def _plots(data: ReportData) -> Markup:
    accounts = data.result.accounts
    malicious: list[bool] | None = None
    if data.truth:
        malicious = [
            (r := data.truth.get(a.account_id)) is not None and r.label is Label.MALICIOUS
            for a in accounts
        ]
    scores = plots.score_distribution_svg(
        [a.score for a in accounts], data.result.stats.threshold, malicious
    )
    bands = _response_bands(data.result)
    parts: list[object] = [
        el(
            "div",
            el(
                "div",
                Markup(scores),
                el(
                    "p",
                    "Scores of every account, log scale. A good audit separates a few high "
                    "scores from the bulk near zero.",
                    class_="muted small",
                ),
            ),
            el(
                "div",
                el("h4", "Accounts by recommended response"),
                _table(
                    ("response", "score from", "accounts", "requests", "share of traffic"),
                    bands,
                    numeric=(1, 2, 3, 4),
                ),
                el(
                    "p",
                    "Responses are graduated with the confidence: below the flag an account is "
                    "at most watched; a false positive near the threshold costs a customer a "
                    "rate limit, not a suspension.",
                    class_="muted small",
                ),
            ),
            class_="plots",
        )
    ]
    if data.traffic is not None and data.models is not None:
        parts.append(Markup(plots.model_traffic_svg(data.traffic, data.models)))
        parts.append(
            el(
                "p",
                "Release chasing: when a new model is released mid-period, theft campaigns move "
                "their traffic to it within hours, customers over weeks. Compare how fast a new "
                "model's colour grows in the right panel against the left.",
                class_="muted small",
            )
        )
    return _section("plots", "Plots", *parts)


def _response_bands(result: AuditResult) -> list[tuple[object, ...]]:
    accounts = Counter(a.response for a in result.accounts)
    requests = Counter[Response]()
    for a in result.accounts:
        requests[a.response] += a.n_events
    lower: dict[Response, float] = {r: b for b, r in RESPONSE_LADDER}
    lower[Response.THROTTLE] = result.stats.threshold
    total = result.stats.n_events
    return [
        (
            _badge(r),
            f"{lower[r]:.2f}" if r in lower else "—",
            _num(accounts[r]),
            _num(requests[r]),
            _pct(requests[r] / total if total else None),
        )
        for r in reversed(Response)
        if accounts[r]
    ]


def _comparison(data: ReportData) -> Markup:
    c = data.comparison
    if c is None:
        return Markup("")
    headline = el(
        "div",
        _card(f"{c.precision:.3f}", "precision (accounts)"),
        _card(f"{c.recall:.3f}", "recall (accounts)"),
        _card(_pct(c.fpr, 2), "benign accounts flagged"),
        _card(f"{c.n_caught} / {len(c.campaigns)}", "campaigns caught"),
        _card(
            f"{_pct(c.estimated_event_share)} vs {_pct(c.true_event_share)}",
            "suspicious traffic: estimated vs true",
        ),
        class_="cards",
    )
    confusion = _table(
        ("", "flagged", "not flagged"),
        [
            ("malicious", _num(c.tp), _num(c.fn)),
            ("benign", _num(c.fp), _num(c.tn)),
        ],
        numeric=(1, 2),
    )
    replay = data.result.stats.replay
    campaign_rows = [
        (
            k.campaign_id,
            k.kind or "—",
            _num(k.n_accounts),
            _num(k.n_flagged),
            f"{k.recall:.3f}",
            _num(k.n_events) if k.n_events is not None else "—",
            _pct(k.served_share) if replay else "—",
        )
        for k in c.campaigns
    ]
    kinds = _table(
        ("benign kind", "accounts", "flagged", "false-positive rate"),
        [(k.kind, _num(k.n_accounts), _num(k.n_flagged), _pct(k.fpr, 2)) for k in c.benign_kinds],
        numeric=(1, 2, 3),
    )
    note = (
        ""
        if replay
        else el(
            "p",
            "Requests served before the first flag are measured only when the audit replays "
            "events in time order (distillguard audit --replay).",
            class_="muted small",
        )
    )
    unlabelled = (
        el("p", f"{_num(c.n_unlabelled)} audited accounts carry no label.", class_="muted small")
        if c.n_unlabelled
        else ""
    )
    return _section(
        "truth",
        "Ground truth comparison",
        el(
            "p",
            "This log comes with ground-truth labels (simulated or hand-labelled data), so the "
            "audit can be scored. Real logs have none.",
            class_="muted",
        ),
        headline,
        el(
            "div",
            el("div", el("h4", "Accounts"), confusion),
            el("div", el("h4", "Benign look-alikes"), kinds),
            class_="two",
        ),
        el("h4", "Per campaign"),
        _table(
            (
                "campaign",
                "kind",
                "accounts",
                "flagged",
                "recall",
                "requests",
                "served before flag",
            ),
            campaign_rows,
            numeric=(2, 3, 4, 5, 6),
        ),
        note,
        unlabelled,
    )


def _footer(result: AuditResult) -> Markup:
    stats = result.stats
    detectors = ", ".join(stats.detectors) if stats.detectors else "—"
    return join(
        el(
            "p",
            f"Generated by distillguard {distillguard.__version__} from an audit that ran "
            f"{_ts(stats.started)} – {_ts(stats.finished)} ({stats.elapsed_s:.1f} s). "
            f"Detectors: {detectors}. Threshold {stats.threshold:.2f}.",
        ),
        el(
            "p",
            "Scores are in [0, 1], higher is worse. A score is evidence for a human decision, "
            "not proof; responses are recommendations, graduated with the confidence.",
        ),
    )


def _nav(data: ReportData) -> Markup:
    links = [
        ("summary", "Summary"),
        ("clusters", "Clusters"),
        ("accounts", "Flagged accounts"),
        ("overrides", "Overrides"),
        ("plots", "Plots"),
    ]
    if data.comparison is not None:
        links.append(("truth", "Ground truth"))
    return join(*[el("a", label, href=f"#{anchor}") for anchor, label in links])


def _template(name: str) -> str:
    return resources.files("distillguard.report").joinpath("templates", name).read_text("utf-8")


def render(data: ReportData) -> str:
    """The whole page as one string (pure: same data, same bytes)."""
    stats = data.result.stats
    subtitle = (
        f"{_num(stats.n_events)} requests from {_num(stats.n_accounts)} accounts, "
        f"{_ts(stats.period_start)} to {_ts(stats.period_end)}"
    )
    if not stats.content_available:
        subtitle += " · metadata only"
    body = join(
        _summary(data),
        _clusters(data),
        _accounts(data),
        _overrides(data),
        _plots(data),
        _comparison(data),
    )
    page = Template(_template("report.html")).substitute(
        title=join("distillguard audit report"),
        subtitle=join(subtitle),
        version=join(distillguard.__version__),
        style=_template("report.css"),
        nav=_nav(data),
        body=body,
        footer=_footer(data.result),
    )
    return page
