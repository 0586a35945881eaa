"""Ingest throughput and peak memory, beside the physical floor measured in the same run.

Generates N spec-valid events (a realistic mix: mostly chat with system + user messages and a
response, some completions, embeddings and predict calls), writes them as JSONL.gz and Parquet
with ``events.writers``, then times, each in a fresh process so that peak memory is its own:

- floor: DuckDB alone, ``CREATE TABLE AS SELECT * FROM read_json/read_parquet(file)`` into a
  new database file (no validation, no key, no rejects);
- ingest: ``distillguard.events.ingest`` into a new store file (validation, dedup on the
  primary key, rejects, one transaction per file).

Two sizes (N/4 and N) show whether memory stays flat in N.

    python -m benchmarks.ingest [--n 1000000] [--seed 0] [--no-record]
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

import numpy as np
import pyarrow as pa

from benchmarks._record import record
from distillguard.cli.logging import configure_logging
from distillguard.events.schema import EVENT_SCHEMA, MESSAGE_TYPE
from distillguard.events.writers import open_writer

_TOPICS = (
    "photosynthesis",
    "the French revolution",
    "binary search trees",
    "compound interest",
    "TLS handshakes",
    "protein folding",
    "the Krebs cycle",
    "sorting algorithms",
)
_SYSTEM = (
    "You are a helpful assistant.",
    "You are a careful tutor. Think step by step and show your reasoning.",
    "Answer briefly.",
)


def _events(n: int, start: int, rng: np.random.Generator) -> pa.Table:
    """``n`` spec-valid events with request ids from ``start``, as an EVENT_SCHEMA table."""
    idx = np.arange(start, start + n)
    endpoint_code = rng.choice(4, size=n, p=[0.85, 0.07, 0.05, 0.03])
    endpoints = np.array(["chat.completions", "completions", "embeddings", "predict"])[
        endpoint_code
    ]
    accounts = rng.integers(0, 20_000, size=n)
    seconds = np.sort(rng.integers(0, 86_400, size=n))
    topic = rng.integers(0, len(_TOPICS), size=n)
    system = rng.integers(0, len(_SYSTEM), size=n)
    ts = [
        f"2026-11-28T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{i % 1000:03d}Z"
        for s, i in zip(seconds, idx, strict=True)
    ]
    is_chat = endpoint_code == 0
    chat_rows = np.flatnonzero(is_chat)
    roles = pa.array(["system", "user"] * len(chat_rows))
    contents = []
    for r in chat_rows:
        contents.append(_SYSTEM[system[r]])
        contents.append(
            f"Explain {_TOPICS[topic[r]]} to a student, question {idx[r] % 9973}, "
            "with an example and the common mistakes."
        )
    structs = pa.StructArray.from_arrays([roles, pa.array(contents)], fields=list(MESSAGE_TYPE))
    offsets = np.zeros(n + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(np.where(is_chat, 2, 0))
    mask = pa.array(~is_chat)
    messages = pa.ListArray.from_arrays(pa.array(offsets), structs, mask=mask)
    prompt = [
        f"Complete the story about {_TOPICS[topic[i]]}:" if code == 1 else None
        for i, code in enumerate(endpoint_code)
    ]
    features = [
        [float(x) for x in rng.normal(size=8).round(4)] if code == 3 else None
        for code in endpoint_code
    ]
    response = [
        f"{_TOPICS[topic[i]].capitalize()} works like this: first, ... then, ... finally, ..."
        if code in (0, 1)
        else None
        for i, code in enumerate(endpoint_code)
    ]
    temps = rng.choice([0.0, 0.2, 0.7, 1.0], size=n)
    params = [f'{{"temperature": {t}, "max_tokens": 512}}' for t in temps]
    columns: dict[str, Any] = {
        "request_id": [f"req-{i:010d}" for i in idx],
        "ts": ts,
        "account_id": [f"acct-{a:06d}" for a in accounts],
        "api_key_id": [f"key-{a:06d}-1" for a in accounts],
        "endpoint": endpoints,
        "model": np.where(rng.random(n) < 0.7, "model-large", "model-small"),
        "client_ip": [f"10.{a % 256}.{a // 256 % 256}.{a % 7 + 1}" for a in accounts],
        "asn": pa.array(64_512 + accounts % 200, pa.int64()),
        "country": np.where(accounts % 3 == 0, "US", "DE"),
        "user_agent": np.where(accounts % 2 == 0, "openai-python/1.50.0", "curl/8.5"),
        "messages": messages,
        "prompt": prompt,
        "features": pa.array(features, pa.list_(pa.float64())),
        "params": params,
        "response_text": response,
        "prompt_tokens": pa.array(rng.integers(5, 400, size=n), pa.int64()),
        "completion_tokens": pa.array(rng.integers(0, 800, size=n), pa.int64()),
        "status": pa.array(np.where(rng.random(n) < 0.98, 200, 429), pa.int64()),
        "latency_ms": pa.array(rng.gamma(2.0, 300.0, size=n).round(1), pa.float64()),
    }
    arrays = [
        columns[f.name]
        if isinstance(columns.get(f.name), pa.Array)
        else pa.array(columns.get(f.name, [None] * n), f.type)
        for f in EVENT_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def generate(n: int, seed: int, out_dir: Path) -> dict[str, Path]:
    """Write ``n`` events as events.jsonl.gz and events.parquet in ``out_dir``."""
    rng = np.random.default_rng(seed)
    paths = {"jsonl.gz": out_dir / "events.jsonl.gz", "parquet": out_dir / "events.parquet"}
    with (
        open_writer(paths["jsonl.gz"], "events") as jw,
        open_writer(paths["parquet"], "events") as pw,
    ):
        step = 100_000
        for start in range(0, n, step):
            table = _events(min(step, n - start), start, rng)
            jw.write(table)
            pw.write(table)
    return paths


def _worker(mode: str, path: Path, db: Path) -> dict[str, Any]:
    """One measurement in this process: returns rows, seconds and peak RSS (imports are done
    before the clock starts, for both)."""
    import duckdb

    from distillguard.events.ingest import ingest
    from distillguard.store import Store

    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    started = time.perf_counter()
    if mode == "floor":
        reader = "read_parquet" if path.suffix == ".parquet" else "read_json"
        con = duckdb.connect(str(db))
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}('{path}')")
        rows = int(con.execute("SELECT count(*) FROM t").fetchall()[0][0])
        con.close()
    else:
        with Store.open(db) as store:
            report = ingest(store, [path], rejects=db.with_suffix(".rejects.jsonl"))
            rows = report.accepted
            if report.rejected:
                raise SystemExit(f"benchmark data had {report.rejected} rejects")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "rows": rows,
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_before,
        "peak_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    """Peak resident memory of this process. VmHWM, not getrusage: Linux carries ru_maxrss
    over from the parent across exec, so a worker started by a big parent would report the
    parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(mode: str, path: Path, work: Path) -> dict[str, Any]:
    db = work / f"{mode}-{path.name}-{time.monotonic_ns()}.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", "--worker", mode, str(path), str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{mode} on {path} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    for leftover in work.glob(f"{db.stem}*"):
        leftover.unlink()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1_000_000, help="events at the larger size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, best kept")
    parser.add_argument("--no-record", action="store_true", help="do not write BENCHMARKS.md")
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "FILE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")
    if args.worker:
        mode, file, db = args.worker
        print(json.dumps(_worker(mode, Path(file), Path(db))))
        return

    sizes = sorted({max(args.n // 4, 1), args.n})
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dg-bench-ingest-") as tmp:
        work = Path(tmp)
        for n in sizes:
            data_dir = work / f"n{n}"
            data_dir.mkdir()
            t0 = time.perf_counter()
            paths = generate(n, args.seed, data_dir)
            print(f"generated {n:,} events in {time.perf_counter() - t0:.1f} s", flush=True)
            for fmt, path in paths.items():
                # Alternate the two and keep each one's best run: the machine is shared.
                floors, ourss = [], []
                for _ in range(args.repeat):
                    floors.append(_measure("floor", path, work))
                    ourss.append(_measure("ingest", path, work))
                floor = min(floors, key=lambda r: r["seconds"])
                ours = min(ourss, key=lambda r: r["seconds"])
                if ours["rows"] != n or floor["rows"] != n:
                    raise SystemExit(f"row counts differ: floor {floor}, ingest {ours}, n {n}")
                row = {
                    "format": fmt,
                    "n": n,
                    "file_mb": path.stat().st_size / 2**20,
                    "floor_rows_s": n / floor["seconds"],
                    "ingest_rows_s": n / ours["seconds"],
                    "overhead_pct": 100 * (ours["seconds"] / floor["seconds"] - 1),
                    "cpu_overhead_pct": 100 * (ours["cpu_seconds"] / floor["cpu_seconds"] - 1),
                    "floor_peak_mb": floor["peak_mb"],
                    "ingest_peak_mb": ours["peak_mb"],
                }
                results.append(row)
                print(
                    f"{fmt:9} n={n:>9,}  floor {row['floor_rows_s']:>9,.0f}/s  "
                    f"ingest {row['ingest_rows_s']:>9,.0f}/s  "
                    f"overhead {row['overhead_pct']:+.0f}% (cpu {row['cpu_overhead_pct']:+.0f}%)  "
                    f"peak MB floor {row['floor_peak_mb']:.0f} ingest {row['ingest_peak_mb']:.0f}",
                    flush=True,
                )
            for path in paths.values():
                path.unlink()

    lines = [
        "## ingest",
        "",
        f"`python -m benchmarks.ingest --n {args.n} --seed {args.seed} --repeat {args.repeat}` "
        "(run under `flock /tmp/dg-heavy.lock`). Synthetic spec-valid events "
        "(85% chat, 7% completions, 5% embeddings, 3% predict), written by `events.writers`. "
        "Floor = DuckDB alone `CREATE TABLE AS SELECT * FROM read_json/read_parquet(file)`, "
        "no validation, no key, measured in the same run; ingest = validation, key "
        "dedup, rejects, one transaction per file. Each run in a fresh process, into a new "
        "DuckDB file, floor and ingest alternated, best of `--repeat` runs kept; CPU = user + "
        "system seconds of that process (steadier than wall time on a shared machine); peak = "
        "max RSS of that process.",
        "",
        "| format | events | file MB | floor rows/s | ingest rows/s | overhead (wall) "
        "| overhead (CPU) | floor peak MB | ingest peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['format']} | {r['n']:,} | {r['file_mb']:.0f} | {r['floor_rows_s']:,.0f} "
            f"| {r['ingest_rows_s']:,.0f} | {r['overhead_pct']:+.0f}% "
            f"| {r['cpu_overhead_pct']:+.0f}% | {r['floor_peak_mb']:.0f} "
            f"| {r['ingest_peak_mb']:.0f} |"
        )
    print("\n".join(lines[-len(results) - 2 :]))
    if not args.no_record:
        record(
            "ingest",
            "\n".join(lines),
            {
                "command": f"python -m benchmarks.ingest --n {args.n} --seed {args.seed}",
                "n": args.n,
                "seed": args.seed,
                "results": results,
            },
        )


if __name__ == "__main__":
    main()
