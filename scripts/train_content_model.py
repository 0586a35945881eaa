"""Retrain the shipped content model from ../shared/data (run it under the heavy-job lock):

    flock /tmp/dg-heavy.lock .venv/bin/python scripts/train_content_model.py

Fits on prompts/train.jsonl plus generated TRAIN-phrasing prompts and benign-pool prompts from
the training half of ``training.pool_half``, takes the dictionary of known words from the
benign pool rows marked ``in_prompts_split == "train"``, and sets every
head's threshold at 1% false positives on the benign rows of prompts/dev.jsonl. Writes
src/distillguard/detect/content/model/content_model.npz. Deterministic for a given seed apart
from the timestamp in its metadata. See docs/content-model-card.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from distillguard.detect.content.scorer import ContentModel
from distillguard.detect.content.training import POOL_NEGATIVES, TrainingConfig, train_model

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "src" / "distillguard" / "detect" / "content" / "model" / "content_model.npz"
DEFAULT_SEED = 20261128


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_shared(data_dir: Path) -> tuple[list[dict[str, Any]], ...]:
    """(train rows, dev rows, benign pool rows) of ``shared/data``."""
    pool = [
        row
        for name in ("chat_prompts.jsonl", "benchmark_prompts.jsonl")
        for row in read_jsonl(data_dir / "benign_prompts" / name)
    ]
    return (
        read_jsonl(data_dir / "prompts" / "train.jsonl"),
        read_jsonl(data_dir / "prompts" / "dev.jsonl"),
        pool,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Retrain the shipped content model.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--pool-negatives",
        type=int,
        default=POOL_NEGATIVES,
        help="benign-pool prompts (training half) added as negatives",
    )
    parser.add_argument(
        "--c-ngram", type=float, default=TrainingConfig().c_ngram, help="C of the n-gram heads"
    )
    parser.add_argument(
        "--no-monotone",
        action="store_true",
        help="let the attack cues take negative weights in the attack heads (the old fit)",
    )
    args = parser.parse_args(argv)
    train, dev, pool = read_shared(args.data)
    config = TrainingConfig(
        c_ngram=args.c_ngram, pool_negatives=args.pool_negatives, monotone=not args.no_monotone
    )
    weights = train_model(train, dev, pool, args.seed, config)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    weights.save(args.out)
    model = ContentModel.load(args.out)
    sys.stdout.write(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)\n")
    for name, t in model.thresholds.items():
        sys.stdout.write(f"  {name:16s} threshold at 1% dev-benign FPR: {t:.4f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
