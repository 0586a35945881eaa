"""Quality and cost of the audit on simulated worlds it was not tuned on.

Tuning seeds (looked at while choosing detector thresholds and fitting the combination
weights): 1, 2, 3 of the ``mixed`` scenario. Evaluation seeds (default): 101, 102, 103 — never
looked at while tuning. Each world is audited with content and metadata-only; the content run
replays the log in time order (``--replay-windows`` cut-offs) to measure how much of each
campaign's traffic was served before its accounts were flagged.

    python -m benchmarks.detect                       # quality on seeds 101-103
    python -m benchmarks.detect --seeds 104 105 --hard
    python -m benchmarks.detect --speed 1000000       # cost at one million events

``--hard`` audits a harder variant from the simulator's knobs: low-and-slow campaigns with more
paraphrase and less infrastructure reuse, a proxy network with a smaller theft share.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._record import record
from distillguard.detect.behaviour.detectors import identity_risk_of
from distillguard.detect.content import ContentModel
from distillguard.detect.content.templates import template_id
from distillguard.detect.days import DAY_BY_DAY_FROM_S
from distillguard.detect.engine import AuditOptions, audit_store
from distillguard.detect.queries import PROMPT_TEXT_SQL
from distillguard.detect.verdicts import AuditResult
from distillguard.events.ingest import ingest
from distillguard.settings import PolicySettings
from distillguard.simulate import LowAndSlowConfig, ProxyNetworkConfig, scenario, simulate
from distillguard.store import Store

TUNING_SEEDS = (1, 2, 3)
# The deployment the replay simulates (chosen on tuning seed 1; see README, section audit).
REPLAY_WINDOWS = 24
REPLAY_HORIZON_H: float | None = None
REPLAY_CONFIRM = 1
EVAL_SEEDS = (101, 102, 103)


def _world(
    seed: int,
    accounts: int,
    hard: bool,
    out: Path,
    volume_scale: float = 1.0,
    days: float = 1.0,
) -> Path:
    cfg = scenario("mixed", seed=seed, accounts=accounts, volume_scale=volume_scale)
    if days != 1.0:
        cfg = cfg.model_copy(update={"days": days})
    if hard:
        campaigns = tuple(
            c.model_copy(update={"paraphrase_rate": 0.95, "infrastructure_reuse": 0.03})
            if isinstance(c, LowAndSlowConfig)
            else c.model_copy(update={"theft_share": 0.25, "infrastructure_reuse": 0.05})
            if isinstance(c, ProxyNetworkConfig)
            else c
            for c in cfg.campaigns
        )
        cfg = cfg.model_copy(update={"campaigns": campaigns})
    simulate(cfg, out)
    return out


def _load(store: Store, world: Path) -> None:
    ingest(
        store,
        [next(world.glob("events.*"))],
        [world / "accounts.jsonl"],
        [world / "labels.jsonl"],
    )


def _degraded_hashes(store: Store, content: ContentModel, policy: PolicySettings) -> set[int]:
    """Hashes of the prompt texts the gateway's inline content check degrades: a signal of
    ``content_degrade_signals`` at ``content_degrade_at`` or more (``respond.policy``;
    reasoning and log-probabilities dropped, output capped), each distinct text scored once."""
    rows = store.con.sql(
        f"SELECT DISTINCT hash(t) AS h, t FROM (SELECT {PROMPT_TEXT_SQL} AS t FROM events) "
        "WHERE t IS NOT NULL AND length(t) > 0"
    ).fetchall()
    if not rows:
        return set()
    scores = content.score([str(t) for _, t in rows]).as_dict()
    signals = [v for k, v in scores.items() if k in policy.content_degrade_signals]
    if not signals:
        return set()
    worst = np.max(np.stack(signals), axis=0)
    at = policy.content_degrade_at
    return {int(h) for (h, _), w in zip(rows, worst.tolist(), strict=True) if w >= at}


def _established(store: Store, policy: PolicySettings) -> list[str]:
    """Accounts whose content the policy leaves to the audit: identity risk (the audit's
    ``identity_risk``, at the account's first request) below ``content_identity_at``."""
    if policy.content_identity_at is None:
        return []
    rows = store.con.sql(
        "SELECT a.account_id, epoch(any_value(a.created_at)), epoch(min(e.ts)), "
        "any_value(a.verification), any_value(a.plan) "
        "FROM accounts a JOIN events e USING (account_id) GROUP BY 1"
    ).fetchall()
    if not rows:
        return []
    age = np.array([(r[2] - r[1]) / 86_400.0 if r[1] is not None else np.nan for r in rows])
    risk = identity_risk_of(age, [r[3] for r in rows], [r[4] for r in rows])
    return [
        r[0] for r, x in zip(rows, risk.tolist(), strict=True) if x < policy.content_identity_at
    ]


def _answered_in_full(
    store: Store, content: ContentModel, policy: PolicySettings
) -> tuple[dict[str, float], dict[str, float]]:
    """Per campaign, the share of its requests answered in full before its accounts' first
    flag (not degraded inline by their own content); and, for benign accounts, the share of
    requests and of accounts with at least one request degraded inline (the check's cost).
    As the policy does, content acts only on accounts not established (:func:`_established`).
    Needs the ``_ffa`` table of :func:`evaluate`."""
    bad = _degraded_hashes(store, content, policy)
    store.con.execute("CREATE OR REPLACE TEMP TABLE _deg (h UBIGINT)")
    if bad:
        store.con.executemany("INSERT INTO _deg VALUES (?)", [(h,) for h in bad])
    store.con.execute("CREATE OR REPLACE TEMP TABLE _est (account_id VARCHAR)")
    established = _established(store, policy)
    if established:
        store.con.executemany("INSERT INTO _est VALUES (?)", [(a,) for a in established])
    q = f"""
        SELECT e.account_id, e.ts,
               d.h IS NOT NULL AND e.account_id NOT IN (SELECT account_id FROM _est) AS degraded
        FROM events e LEFT JOIN _deg d ON d.h = hash({PROMPT_TEXT_SQL})
    """
    full = {
        str(camp): float(n_full) / max(int(total), 1)
        for camp, n_full, total in store.con.sql(
            "SELECT f.camp, count(*) FILTER (WHERE (f.ffa IS NULL OR x.ts <= f.ffa) "
            f"AND NOT x.degraded), count(*) FROM ({q}) x JOIN _ffa f USING (account_id) "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    }
    req_share, acc_share = store.con.sql(
        f"SELECT avg(CASE WHEN degraded THEN 1.0 ELSE 0.0 END), "
        "count(DISTINCT account_id) FILTER (WHERE degraded) / count(DISTINCT account_id) "
        f"FROM ({q}) x JOIN labels l USING (account_id) WHERE l.label = 'benign'"
    ).fetchall()[0]
    cost = {"requests": float(req_share or 0.0), "accounts": float(acc_share or 0.0)}
    return full, cost


def evaluate(
    result: AuditResult, store: Store, content: ContentModel | None = None
) -> dict[str, Any]:
    """Per-account and per-campaign quality of one audit against the store's labels; with
    ``content`` (a replay run) also what the gateway's inline content check degrades."""
    labels = {
        a: (lab, camp, kind)
        for a, lab, camp, kind in store.con.sql(
            "SELECT account_id, label, campaign_id, kind FROM labels"
        ).fetchall()
    }
    verdicts = [v for v in result.accounts if v.account_id in labels]
    mal = np.array([labels[v.account_id][0] == "malicious" for v in verdicts])
    score = np.array([v.score for v in verdicts])
    flag = np.array([v.flagged for v in verdicts])
    tp = int((flag & mal).sum())
    precision = tp / max(int(flag.sum()), 1)
    recall = tp / max(int(mal.sum()), 1)
    benign_scores = np.sort(score[~mal])
    # The threshold that keeps benign false positives at or below 0.1%.
    k = int(np.floor(0.001 * benign_scores.size))
    thr = benign_scores[-(k + 1)] if benign_scores.size else 1.0
    recall_at = float((score[mal] > thr).mean()) if mal.any() else float("nan")
    fpr_kind: dict[str, dict[str, float]] = {}
    kinds: dict[str, list[bool]] = defaultdict(list)
    for v, m in zip(verdicts, mal, strict=True):
        if not m:
            kinds[str(labels[v.account_id][2])].append(v.flagged)
    for kind, flags in sorted(kinds.items()):
        fpr_kind[kind] = {"n": len(flags), "fpr": float(np.mean(flags))}
    campaigns: dict[str, list[bool]] = defaultdict(list)
    for v in verdicts:
        lab, camp, _ = labels[v.account_id]
        if lab == "malicious":
            campaigns[str(camp)].append(v.flagged)
    first = {v.account_id: v.first_flagged_at for v in verdicts}
    benign = [v for v, m in zip(verdicts, mal, strict=True) if not m]
    served: dict[str, float] = {}
    in_full: dict[str, float] = {}
    inline_cost: dict[str, float] = {}
    to_flag: dict[str, dict[str, float]] = {}
    # The deployment's false positives: benign accounts flagged at any time by any path
    # (online scorer, a periodic audit, a cluster link), not only by the final audit.
    ever: dict[str, dict[str, float]] = {}
    paths: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if result.stats.replay:
        ever_kinds: dict[str, list[bool]] = defaultdict(list)
        for v, m in zip(verdicts, mal, strict=True):
            lab, camp, kind = labels[v.account_id]
            if m:
                paths[str(camp)][str(v.first_flagged_by or "never")] += 1
            else:
                ever_kinds[str(kind)].append(v.first_flagged_at is not None)
        ever = {k: {"n": len(f), "fpr": float(np.mean(f))} for k, f in sorted(ever_kinds.items())}
        rows = [
            (a, first.get(a), camp) for a, (lab, camp, _) in labels.items() if lab == "malicious"
        ]
        store.con.execute(
            "CREATE OR REPLACE TEMP TABLE _ffa (account_id VARCHAR, ffa TIMESTAMPTZ, camp VARCHAR)"
        )
        store.con.executemany("INSERT INTO _ffa VALUES (?, ?, ?)", rows)
        for camp, before, total in store.con.sql(
            "SELECT f.camp, count(*) FILTER (WHERE f.ffa IS NULL OR e.ts <= f.ffa), count(*) "
            "FROM events e JOIN _ffa f USING (account_id) GROUP BY 1 ORDER BY 1"
        ).fetchall():
            served[str(camp)] = before / max(total, 1)
        # Cold-start cost per flagged campaign account: hours from its first request to its
        # first flag, and requests served up to and including the flagging one.
        for camp, hours, reqs, n_flagged in store.con.sql(
            "SELECT camp, median(h), median(r), count(*) FROM ("
            "  SELECT f.account_id, f.camp, "
            "    (epoch(any_value(f.ffa)) - epoch(min(e.ts))) / 3600.0 AS h, "
            "    count(*) FILTER (WHERE e.ts <= f.ffa) AS r "
            "  FROM events e JOIN _ffa f USING (account_id) WHERE f.ffa IS NOT NULL "
            "  GROUP BY 1, 2"
            ") GROUP BY 1 ORDER BY 1"
        ).fetchall():
            to_flag[str(camp)] = {
                "median_hours": float(hours),
                "median_requests": float(reqs),
                "flagged": int(n_flagged),
            }
        if content is not None:
            in_full, inline_cost = _answered_in_full(store, content, PolicySettings())
    true_share = store.con.sql(
        "SELECT avg(CASE WHEN l.label = 'malicious' THEN 1.0 ELSE 0.0 END) "
        "FROM events e JOIN labels l USING (account_id)"
    ).fetchall()[0][0]
    return {
        "precision": precision,
        "recall": recall,
        "recall_at_0.1pct_fpr": recall_at,
        "benign_fpr": float(flag[~mal].mean()) if (~mal).any() else 0.0,
        "fpr_by_kind": fpr_kind,
        "campaign_recall": {c: float(np.mean(f)) for c, f in sorted(campaigns.items())},
        "served_before_flag": served,
        "answered_in_full_before_flag": in_full,
        "benign_degraded_inline": inline_cost,
        "time_to_first_flag": to_flag,
        "deployment_fpr": (
            float(np.mean([v.first_flagged_at is not None for v in benign]))
            if result.stats.replay and benign
            else None
        ),
        "deployment_fpr_by_kind": ever,
        "first_flag_paths": {c: dict(p) for c, p in sorted(paths.items())},
        "estimated_suspicious_share": result.stats.suspicious_event_share,
        "true_suspicious_share": float(true_share or 0.0),
        "n_accounts": len(verdicts),
        "n_events": result.stats.n_events,
        "elapsed_s": result.stats.elapsed_s,
    }


def _replay_options(windows: int, horizon_h: float | None, confirm: int) -> AuditOptions:
    return AuditOptions(
        replay_windows=windows,
        replay_horizon_s=3600.0 * horizon_h if horizon_h else None,
        replay_confirm=confirm,
    )


def quality(
    seeds: list[int],
    accounts: int,
    hard: bool,
    windows: int,
    horizon_h: float | None,
    confirm: int,
    days: float = 1.0,
    replay: bool = True,
) -> dict[str, Any]:
    model = ContentModel.load()
    runs: dict[str, list[dict[str, Any]]] = {"content": [], "metadata": []}
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix="dg-detect-bench-") as tmp:
            world = _world(seed, accounts, hard, Path(tmp) / "world", days=days)
            with Store.open(":memory:") as store:
                _load(store, world)
                opts = _replay_options(windows, horizon_h, confirm)
                res = audit_store(
                    store, replay=replay, content=model, templates=template_id, options=opts
                )
                replay_s = next(
                    (float(n.split("(")[1].split(" s)")[0]) for n in res.stats.notes
                     if n.startswith("replay:") and " s)" in n),
                    None,
                )  # fmt: skip
                runs["content"].append(
                    {
                        "seed": seed,
                        "replay_windows": windows,
                        "replay_horizon_h": horizon_h,
                        "replay_confirm": confirm,
                        "replay_s": replay_s,
                        **evaluate(res, store, model if replay else None),
                    }
                )
                res = audit_store(store, replay=False, content=None, templates=None)
                runs["metadata"].append({"seed": seed, **evaluate(res, store)})
        print(f"seed {seed}: done", file=sys.stderr)
    return runs


def _child_audit(db: Path, replay: str | None) -> None:
    """Run in a fresh process so that peak RSS is the audit's alone. ``replay`` is
    ``windows,horizon_h,confirm`` for a replay run."""
    model = ContentModel.load()
    opts = None
    if replay:
        w, h, c = replay.split(",")
        opts = _replay_options(int(w), float(h) or None, int(c))
    with Store.open(db) as store:
        t = time.perf_counter()
        res = audit_store(
            store, replay=opts is not None, content=model, templates=template_id, options=opts
        )
        elapsed = time.perf_counter() - t
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"RESULT {res.stats.n_events} {elapsed:.2f} {rss_gb:.3f}")


def speed(n_events: int, replay: str | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="dg-detect-speed-") as tmp:
        # About 160 events per account per day in the default mixed world.
        scale = max(n_events / 240_000.0, 0.05)
        world = _world(201, 1500, False, Path(tmp) / "world", volume_scale=scale)
        db = Path(tmp) / "dg.duckdb"
        with Store.open(db) as store:
            _load(store, world)
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.detect", "--child-audit", str(db)]
            + (["--child-replay", replay] if replay else []),
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    _, n, elapsed, rss = line.split()
    return {"n_events": float(n), "seconds": float(elapsed), "peak_rss_gb": float(rss)}


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in runs]))


def _markdown(
    runs: dict[str, list[dict[str, Any]]], cmd: str, hard: bool, days: float = 1.0
) -> str:
    seeds = [r["seed"] for r in runs["content"]]
    span = f"{days:g}-day logs, " if days != 1.0 else ""
    lines = [
        f"## detect: audit quality {'(hard variant) ' if hard else ''}on {span}evaluation "
        f"seeds {seeds}",
        "",
        f"Command: `{cmd}`. Tuning seeds {list(TUNING_SEEDS)} were the only ones looked at "
        "while setting thresholds and fitting the combination weights."
        + (
            f" Each world is the `mixed` scenario over {days:g} days (the same populations and "
            "campaigns, every account active across the period), audited as the audit does by "
            "default: one UTC day at a time, each account taking its strongest day's verdict."
            if days != 1.0
            else ""
        ),
        "",
        "| mode | precision | recall | recall @ 0.1% benign FPR | benign FPR | benign flagged "
        "at any time (replay) | est. / true suspicious share |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, rs in runs.items():
        if not rs:
            continue
        dep = [r["deployment_fpr"] for r in rs if r.get("deployment_fpr") is not None]
        lines.append(
            f"| {mode} | {_mean(rs, 'precision'):.3f} | {_mean(rs, 'recall'):.3f} | "
            f"{_mean(rs, 'recall_at_0.1pct_fpr'):.3f} | {_mean(rs, 'benign_fpr'):.4f} | "
            f"{f'{np.mean(dep):.4f}' if dep else '-'} | "
            f"{_mean(rs, 'estimated_suspicious_share'):.3f} / "
            f"{_mean(rs, 'true_suspicious_share'):.3f} |"
        )
    replay_secs = [r["replay_s"] for r in runs["content"] if r.get("replay_s") is not None]
    if replay_secs:
        r0 = runs["content"][0]
        horizon = r0.get("replay_horizon_h")
        confirm = r0.get("replay_confirm") or 1
        lines += [
            "",
            "Replay (content run), what a deployment would have done in time order: the "
            "sign-up path (identity's sign-up risk, from the sign-ups made up to the account's "
            "first request, at 0.5 or more challenges the account from that request), the "
            "gateway's online scorer on every request (acting at online score 0.6, with the "
            "sequential content-abuse test on new, weakly verified accounts), a periodic "
            f"audit every 1/{r0['replay_windows']} of the log"
            + (
                f" reading the last {horizon:g} h"
                if horizon
                else " reading the last 24 h (the audit's default on a log longer than a day "
                "and a half)"
                if days * 86_400.0 > DAY_BY_DAY_FROM_S
                else " reading the log so far"
            )
            + (f", acting on accounts {confirm} audits in a row flag" if confirm > 1 else "")
            + ", and cluster links (a new account presenting a payment card, sign-up device or "
            "burst, client fingerprint or org that only flagged clusters used is flagged at its "
            f'first request); {np.mean(replay_secs):.0f} s per world on average. "benign '
            'flagged at any time" counts a benign account flagged by any of these paths at any '
            "point of the day, even if the final audit clears it. Median hours and requests to "
            "the first flag are over a campaign's flagged accounts, from each account's first "
            "request (the flagging request counts as served).",
        ]
    for mode, rs in runs.items():
        if not rs:
            continue
        lines += ["", f"**{mode}: FPR per benign kind** (flagged / accounts, all seeds)", ""]
        agg: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        for r in rs:
            for kind, d in r["fpr_by_kind"].items():
                agg[kind][0] += d["fpr"] * d["n"]
                agg[kind][1] += d["n"]
            for kind, d in r.get("deployment_fpr_by_kind", {}).items():
                agg[kind][2] += d["fpr"] * d["n"]
        has_dep = any(r.get("deployment_fpr_by_kind") for r in rs)
        lines.append("| kind | FPR | flagged at any time (replay) | accounts |")
        lines.append("|---|---|---|---|")
        for kind, (f, n, e) in sorted(agg.items()):
            dep_s = f"{e / max(n, 1):.4f}" if has_dep else "-"
            lines.append(f"| {kind} | {f / max(n, 1):.4f} | {dep_s} | {int(n)} |")
        lines += ["", f"**{mode}: per-campaign recall** (and share of requests served "
                  "before the first flag, replay)", ""]  # fmt: skip
        cost = [r["benign_degraded_inline"] for r in rs if r.get("benign_degraded_inline")]
        if cost:
            lines += [
                '"Answered in full" leaves out the requests the gateway degrades inline by '
                "their own content (a signal of `content_degrade_signals` "
                f"{', '.join(PolicySettings().content_degrade_signals)} at `content_degrade_at` "
                f"{PolicySettings().content_degrade_at:g} or more: reasoning and "
                "log-probabilities dropped, output capped), which it does on every tier "
                "before any flag. The check's cost on customers: "
                f"{np.mean([c['requests'] for c in cost]):.2%} of benign requests degraded, "
                f"{np.mean([c['accounts'] for c in cost]):.1%} of benign accounts with at "
                "least one.",
                "",
            ]
        lines.append(
            "| seed | campaign | recall | served before flag | answered in full before flag "
            "| median hours to first flag | median requests served before flag | first "
            "flagged by (sign-up / online / audit / cluster link / never) |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in rs:
            for camp, rec in r["campaign_recall"].items():
                served = r["served_before_flag"].get(camp)
                s = f"{served:.3f}" if served is not None else "-"
                full = r.get("answered_in_full_before_flag", {}).get(camp)
                s += f" | {full:.3f}" if full is not None else " | -"
                p = r.get("first_flag_paths", {}).get(camp)
                by = (
                    " / ".join(
                        str(p.get(k, 0))
                        for k in ("signup", "online", "audit", "cluster_link", "never")
                    )
                    if p
                    else "-"
                )
                tf = r.get("time_to_first_flag", {}).get(camp)
                hours = f"{tf['median_hours']:.2f}" if tf else "-"
                reqs = f"{tf['median_requests']:g}" if tf else "-"
                lines.append(
                    f"| {r['seed']} | {camp} | {rec:.3f} | {s} | {hours} | {reqs} | {by} |"
                )
    return "\n".join(lines)


def _record_cost(name: str, title: str, command_line: str, cmd: str, rows: list[Any]) -> None:
    """Print and record one cost table (events, seconds, peak memory per run)."""
    md = [
        f"## detect: {title}",
        "",
        command_line,
        "",
        "| events | seconds | peak RSS (GB) |",
        "|---|---|---|",
    ]
    md += [
        f"| {int(r['n_events']):,} | {r['seconds']:.1f} | {r['peak_rss_gb']:.2f} |" for r in rows
    ]
    print("\n".join(md))
    record(name, "\n".join(md), {"command": cmd, "rows": rows})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="*", default=list(EVAL_SEEDS))
    parser.add_argument("--accounts", type=int, default=1500)
    parser.add_argument("--replay-windows", type=int, default=REPLAY_WINDOWS)
    parser.add_argument("--replay-horizon-hours", type=float, default=REPLAY_HORIZON_H)
    parser.add_argument("--replay-confirm", type=int, default=REPLAY_CONFIRM)
    parser.add_argument(
        "--speed-replay",
        type=int,
        nargs="*",
        default=[],
        help="replay cost (the deployment replay with the --replay-* settings) at these sizes",
    )
    parser.add_argument("--child-replay", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--hard", action="store_true")
    parser.add_argument(
        "--days", type=float, default=1.0, help="simulate and audit logs of this many days"
    )
    parser.add_argument(
        "--no-replay", action="store_true", help="final audits only (no deployment replay)"
    )
    parser.add_argument("--speed", type=int, nargs="*", default=[])
    parser.add_argument("--child-audit", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_audit is not None:
        _child_audit(args.child_audit, args.child_replay)
        return
    cmd = "python -m benchmarks.detect " + " ".join(sys.argv[1:])
    replay_spec = f"{args.replay_windows},{args.replay_horizon_hours or 0},{args.replay_confirm}"
    if args.speed_replay:
        rows = [speed(n, replay_spec) for n in args.speed_replay]
        horizon = (
            f" of the last {args.replay_horizon_hours:g} h each"
            if args.replay_horizon_hours
            else ""
        )
        _record_cost(
            "detect-replay-speed",
            "replay cost",
            f"Command: `{cmd.strip()}` (content model on; the deployment replay: online scorer "
            f"per request, {args.replay_windows} periodic audits{horizon}, cluster links, then "
            "the full audit; fresh process each).",
            cmd,
            rows,
        )
        return
    if args.speed:
        rows = [speed(n) for n in args.speed]
        _record_cost(
            "detect-speed",
            "audit cost",
            f"Command: `{cmd.strip()}` (content model on, no replay; fresh process each).",
            cmd,
            rows,
        )
        return
    runs = quality(
        args.seeds,
        args.accounts,
        args.hard,
        args.replay_windows,
        args.replay_horizon_hours or None,
        args.replay_confirm,
        days=args.days,
        replay=not args.no_replay,
    )
    text = _markdown(runs, cmd.strip(), args.hard, args.days)
    print(text)
    name = "detect-hard" if args.hard else "detect"
    if args.days != 1.0:
        name += f"-{args.days:g}d" + ("" if args.no_replay else "-replay")
    record(name, text, {"command": cmd, "tuning_seeds": TUNING_SEEDS, "runs": runs})


if __name__ == "__main__":
    main()
