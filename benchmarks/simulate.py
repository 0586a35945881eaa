"""Simulator throughput and memory: events written per second, peak memory, by size and format.

    flock /tmp/dg-heavy.lock python -m benchmarks.simulate [--seed 7] [--scales 1,4.4] [--big]

Each run is a child process (so its peak RSS is its own): the ``mixed`` scenario, 1,500
accounts, one day, with every request rate multiplied by the scale (1 ≈ 0.23 M events,
4.4 ≈ 1 M, 44 ≈ 10 M with ``--big``). Memory should stay flat as the scale grows: the
simulator holds a few render batches, never the whole log.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._record import record

_CMD = "flock /tmp/dg-heavy.lock python -m benchmarks.simulate"


def _child(scale: float, fmt: str, seed: int, out: Path) -> dict[str, Any]:
    from distillguard.simulate import scenario, simulate
    from distillguard.simulate.engine import build_world

    config = scenario("mixed", seed=seed, volume_scale=scale, events_format=fmt)
    started = time.perf_counter()
    build_world(config)  # measured apart: loading prompt data and building actors
    build_s = time.perf_counter() - started
    summary = simulate(config, out)
    return {
        "scale": scale,
        "format": fmt,
        "events": summary.n_events,
        "accounts": summary.n_accounts,
        "seconds": round(summary.seconds, 2),
        "setup_seconds": round(build_s, 2),
        "events_per_s": round(summary.events_per_s),
        "streaming_events_per_s": round(summary.n_events / max(summary.seconds - build_s, 1e-9)),
        "bytes": summary.events_path.stat().st_size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "prompt_source": summary.prompt_source,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scales", default="1,4.4", help="comma-separated rate multipliers")
    parser.add_argument("--formats", default="parquet,jsonl.gz")
    parser.add_argument("--big", action="store_true", help="also 10 M events (parquet)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--format", default="parquet", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.scale, args.format, args.seed, args.out)))
        return
    runs = [(float(s), f) for s in args.scales.split(",") for f in args.formats.split(",")]
    if args.big:
        runs.append((44.0, "parquet"))
    results = []
    for scale, fmt in runs:
        with tempfile.TemporaryDirectory(prefix="dg-sim-bench-") as tmp:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.simulate",
                    "--child",
                    "--seed",
                    str(args.seed),
                    "--scale",
                    str(scale),
                    "--format",
                    fmt,
                    "--out",
                    tmp,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(row)
        print(
            f"{row['events']:>11,} events  {fmt:<9} {row['seconds']:>7.1f} s  "
            f"{row['events_per_s']:>8,}/s end-to-end  {row['streaming_events_per_s']:>8,}/s "
            f"streaming  peak {row['peak_rss_mb']:>5} MB"
        )
    lines = [
        "### simulate: events written per second and peak memory",
        "",
        f"Command: `{_CMD} --seed {args.seed} --scales {args.scales} --formats {args.formats}"
        f"{' --big' if args.big else ''}` (scenario `mixed`, 1,500 accounts, one day; the "
        "scale multiplies every request rate). End-to-end includes loading the prompt data "
        "and building the actors; streaming excludes that one-off setup.",
        "",
        "| events | format | seconds | setup s | events/s end-to-end | events/s streaming "
        "| MB written | peak RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['events']:,} | {r['format']} | {r['seconds']} | {r['setup_seconds']} | "
            f"{r['events_per_s']:,} | {r['streaming_events_per_s']:,} | "
            f"{r['bytes'] / 1e6:,.0f} | {r['peak_rss_mb']} |"
        )
    record("simulate", "\n".join(lines), {"seed": args.seed, "runs": results})


if __name__ == "__main__":
    main()
