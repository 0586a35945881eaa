"""Gateway latency and throughput, side by side with LiteLLM's proxy, on this machine.

What runs, each in its own process on 127.0.0.1:
- a fast upstream: a minimal asyncio + httptools HTTP/1.1 server answering every POST with a
  fixed chat completion (``--serve-upstream``, started by this script);
- ``distillguard serve`` in front of it with detection on (content model, templates and online
  behaviour state, whatever is installed; the table says which), the in-process state backend,
  the event log on (.jsonl.gz), 50 accounts at tier ``organization`` with keys from a real
  identity store;
- LiteLLM's proxy (``litellm --num_workers 1``) in front of the same upstream, from its own
  virtual environment (``--litellm``, never a dependency of distillguard);
- the load: ``wrk`` (C, with a Lua script that rotates keys and 64 benign chat prompts from
  ``shared/data/benign_prompts``), pinned to the other core than the proxy under test.

Added latency is measured with one connection, one request at a time: p50/p99 through the
proxy minus p50/p99 calling the upstream directly. Throughput is wrk's closed loop at rising
connection counts; the highest rate with zero errors and zero non-2xx answers is reported.

Run: ``flock /tmp/dg-heavy.lock .venv/bin/python -m benchmarks.gateway``
(``--duration`` seconds per measurement, ``--litellm PATH`` to the litellm executable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ROOT.parent / "shared" / "data" / "benign_prompts" / "chat_prompts.jsonl"
N_ACCOUNTS = 50
N_PROMPTS = 64

_REPLY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "tiny",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris is the capital of France."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
    }
).encode()
_MODELS = json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model"}]}).encode()


# ---- the fast upstream ------------------------------------------------------------------------


def serve_upstream(port: int) -> None:
    """A minimal keep-alive HTTP/1.1 server: any POST gets the fixed completion."""
    import httptools
    import uvloop

    class Proto(asyncio.Protocol):
        def __init__(self) -> None:
            self.parser = httptools.HttpRequestParser(self)
            self.transport: asyncio.Transport | None = None
            self.get = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                if self.transport is not None:
                    self.transport.close()

        def on_headers_complete(self) -> None:
            self.get = self.parser.get_method() == b"GET"

        def on_message_complete(self) -> None:
            body = _MODELS if self.get else _REPLY
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
            )
            if self.transport is not None:
                self.transport.write(head + body)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Proto, "127.0.0.1", port, backlog=4096)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with server:
            await stop.wait()

    uvloop.run(main())


# ---- helpers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout_s: float = 120.0, headers: dict[str, str] | None = None) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, headers=headers).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout_s:.0f} s")


@contextmanager
def process(
    cmd: list[str], log: Path, *, cpu: int | None, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu), *cmd]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def load_prompts() -> list[str]:
    out: list[str] = []
    if PROMPTS.exists():
        with PROMPTS.open(encoding="utf-8") as f:
            for line in f:
                text = json.loads(line)["text"]
                if 20 <= len(text) <= 1500:
                    out.append(text)
                if len(out) == N_PROMPTS:
                    break
    return out or ["What is the capital of France?"]


def wrk_script(path: Path, keys: list[str], prompts: list[str], model: str) -> None:
    """Lua for wrk: POST chat bodies, rotating keys and prompts; done() prints JSON figures."""
    bodies = [
        json.dumps({"model": model, "messages": [{"role": "user", "content": p}], "max_tokens": 64})
        for p in prompts
    ]

    def lua_list(items: list[str]) -> str:
        return "{" + ",".join(json.dumps(x) for x in items) + "}"

    path.write_text(
        f"""
local keys = {lua_list(keys)}
local bodies = {lua_list(bodies)}
local i = 0
request = function()
  i = i + 1
  local h = {{}}
  h["Content-Type"] = "application/json"
  h["Authorization"] = "Bearer " .. keys[(i % #keys) + 1]
  return wrk.format("POST", "/v1/chat/completions", h, bodies[(i % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"mean_us": %f, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
""",
        encoding="utf-8",
    )


def run_wrk(url: str, script: Path, conns: int, duration_s: int, cpu: int | None) -> dict[str, Any]:
    cmd = [
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{duration_s}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRKJSON "))
    r: dict[str, Any] = json.loads(line[8:])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    r["conns"] = conns
    return r


def latency_rounds(
    targets: dict[str, tuple[str, Path]], rounds: int, duration_s: int, cpu: int | None
) -> dict[str, dict[str, float]]:
    """One connection, one request at a time, the targets taken in turn for ``rounds`` rounds
    (so that a burst of other work on the shared machine hits every target alike); the median
    over rounds of each round's p50 and p99."""
    per: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, script) in targets.items():
            per[name].append(run_wrk(url, script, 1, duration_s, cpu))
    out: dict[str, dict[str, float]] = {}
    for name, runs in per.items():
        p50s = sorted(r["p50_us"] for r in runs)
        p99s = sorted(r["p99_us"] for r in runs)
        out[name] = {
            "p50_us": float(p50s[len(p50s) // 2]),
            "p99_us": float(p99s[len(p99s) // 2]),
            "requests": float(sum(r["requests"] for r in runs)),
        }
        print(
            f"  {name:<12} 1 conn, {rounds} rounds: p50 {out[name]['p50_us'] / 1000:.3f} ms"
            f"  p99 {out[name]['p99_us'] / 1000:.3f} ms   (rounds p50 {p50s}, p99 {p99s})",
            flush=True,
        )
    return out


def throughput(
    name: str, url: str, script: Path, duration_s: int, conns: list[int], cpu: int | None
) -> dict[str, Any]:
    loads = [run_wrk(url, script, c, duration_s, cpu) for c in conns]
    clean = [r for r in loads if r["errors"] == 0]
    best = max((r["rps"] for r in clean), default=0.0)
    print(
        f"  {name:<12} best clean {best:,.0f} req/s"
        + "".join(f" | c={r['conns']}: {r['rps']:,.0f}/s err={r['errors']}" for r in loads),
        flush=True,
    )
    return {"loads": loads, "best_clean_rps": best}


def provision(db_url: str) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from tests.gateway.fixtures import provision_keys

    accounts = {f"bench-{i:03d}": "organization" for i in range(N_ACCOUNTS)}
    return list(provision_keys(db_url, accounts, org_id="bench-org").values())


# ---- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--serve-upstream", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="latency rounds per target (default 3)")
    ap.add_argument("--pin", action="store_true", help="pin the proxy to CPU 0 (load: CPU 1)")
    ap.add_argument("--conns", default="8,32,64", help="connection counts for the load runs")
    ap.add_argument("--litellm", default="/tmp/litellm-venv/bin/litellm", help="litellm executable")
    ap.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM side")
    ap.add_argument("--no-record", action="store_true", help="print only, do not record")
    args = ap.parse_args(argv)
    # Other work on the machine shows in the tail, so the record says how busy it was.
    args.load_before = os.getloadavg()[0]
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    conns = [int(c) for c in args.conns.split(",")]
    multi = (os.cpu_count() or 1) >= 2
    # The load generator and the upstream share CPU 1; the proxy is left to the scheduler unless
    # --pin (on a machine shared with other work, a pinned proxy waits for its one core).
    load_cpu = 1 if multi else None
    proxy_cpu = 0 if multi and args.pin else None

    work = Path(tempfile.mkdtemp(prefix="dg-bench-gw-"))
    db_url = f"sqlite:///{work / 'identity.sqlite'}"
    keys = provision(db_url)
    prompts = load_prompts()
    script = work / "chat.lua"
    wrk_script(script, keys, prompts, "tiny")
    up_port, gw_port, ll_port = free_port(), free_port(), free_port()
    cfg = work / "gateway.toml"
    cfg.write_text(
        "\n".join(
            [
                "[identity]",
                f'database_url = "{db_url}"',
                "[gateway]",
                f'upstream_url = "http://127.0.0.1:{up_port}/v1"',
                f"port = {gw_port}",
                f'event_log = "{work / "events.jsonl.gz"}"',
                "detection = true",
            ]
        )
        + "\n"
    )
    py = sys.executable
    results: dict[str, Any] = {}
    detection: list[str] = []
    ll_cfg = work / "litellm.yaml"
    litellm_key = "sk-bench-" + secrets.token_hex(16)
    ll_cfg.write_text(
        "model_list:\n"
        "  - model_name: tiny\n"
        "    litellm_params:\n"
        "      model: openai/tiny\n"
        f"      api_base: http://127.0.0.1:{up_port}/v1\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  turn_off_message_logging: true\n"
        "general_settings:\n"
        f"  master_key: {litellm_key}\n"
    )
    # LiteLLM checks its master key on every request, as distillguard checks its keys.
    litellm_script = work / "chat-litellm.lua"
    wrk_script(litellm_script, [litellm_key], prompts, "tiny")
    with ExitStack() as stack:
        stack.enter_context(
            process(
                [py, "-m", "benchmarks.gateway", "--serve-upstream", str(up_port)],
                work / "upstream.log",
                cpu=load_cpu,
            )
        )
        stack.enter_context(
            process(
                [py, "-m", "distillguard.cli", "serve", "--config", str(cfg)],
                work / "gateway.log",
                cpu=proxy_cpu,
            )
        )
        targets = {
            "direct": (f"http://127.0.0.1:{up_port}/v1", script),
            "distillguard": (f"http://127.0.0.1:{gw_port}", script),
        }
        if not args.no_litellm:
            stack.enter_context(
                process(
                    [args.litellm, "--config", str(ll_cfg), "--port", str(ll_port)]
                    + ["--num_workers", "1"],
                    work / "litellm.log",
                    cpu=proxy_cpu,
                    env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"},
                )
            )
            targets["litellm"] = (f"http://127.0.0.1:{ll_port}", litellm_script)
        wait_http(f"http://127.0.0.1:{up_port}/v1/models")
        wait_http(f"http://127.0.0.1:{gw_port}/healthz")
        if "litellm" in targets:
            wait_http(f"http://127.0.0.1:{ll_port}/health/liveliness", timeout_s=600)
        import httpx

        detection = httpx.get(f"http://127.0.0.1:{gw_port}/healthz").json()["detection"]
        print(f"benchmark dir {work}; prompts {len(prompts)}; accounts {len(keys)}", flush=True)
        for url, target_script in targets.values():
            run_wrk(url, target_script, 4, 2, load_cpu)  # warm-up: connections, lazy imports
        results["latency"] = latency_rounds(targets, args.rounds, args.duration, load_cpu)
        results["throughput"] = {
            name: throughput(name, url, target_script, args.duration, conns, load_cpu)
            for name, (url, target_script) in targets.items()
        }
        metrics = httpx.get(f"http://127.0.0.1:{gw_port}/metrics").text
    events = sum(1 for _ in _gz_lines(work / "events.jsonl.gz"))
    report(results, detection, events, args, metrics)


def _gz_lines(path: Path) -> Iterator[bytes]:
    import gzip

    if path.exists():
        with gzip.open(path, "rb") as f:
            yield from (line for line in f if line.strip())


def report(
    results: dict[str, Any],
    detection: list[str],
    events: int,
    args: argparse.Namespace,
    metrics: str,
) -> None:
    lat, thr = results["latency"], results["throughput"]
    d = lat["direct"]

    def added(name: str, q: str) -> float:
        return float(lat[name][q] - d[q]) / 1000.0

    rows = []
    summary: dict[str, Any] = {}
    for name in ("distillguard", "litellm"):
        if name not in lat:
            continue
        summary[name] = {
            "added_p50_ms": round(added(name, "p50_us"), 3),
            "added_p99_ms": round(added(name, "p99_us"), 3),
            "best_clean_rps": round(thr[name]["best_clean_rps"], 1),
        }
        s = summary[name]
        a50, a99, rps = s["added_p50_ms"], s["added_p99_ms"], s["best_clean_rps"]
        rows.append(f"| {name} | {a50:.3f} | {a99:.3f} | {rps:,.0f} |")
    ratio = ""
    if "litellm" in summary:
        dg, ll = summary["distillguard"], summary["litellm"]
        summary["ratio_p50"] = round(ll["added_p50_ms"] / max(dg["added_p50_ms"], 1e-3), 1)
        summary["ratio_p99"] = round(ll["added_p99_ms"] / max(dg["added_p99_ms"], 1e-3), 1)
        summary["ratio_rps"] = round(dg["best_clean_rps"] / max(ll["best_clean_rps"], 1e-9), 1)
        ratio = (
            f"\ndistillguard vs LiteLLM: {summary['ratio_p50']}x lower added p50, "
            f"{summary['ratio_p99']}x lower added p99, "
            f"{summary['ratio_rps']}x the clean request rate.\n"
        )
    flags = [
        f"--duration {args.duration}" if args.duration != 5 else "",
        f"--rounds {args.rounds}" if args.rounds != 3 else "",
        "--pin" if args.pin else "",
    ]
    cmd = " ".join(
        ["flock /tmp/dg-heavy.lock .venv/bin/python -m benchmarks.gateway", *filter(None, flags)]
    )
    overhead = _overhead_quantiles(metrics)
    dropped = _gauge(metrics, "distillguard_gateway_online_dropped")
    pending = _gauge(metrics, "distillguard_gateway_online_pending")
    md = (
        "## gateway: added latency and throughput (detection on), side by side with LiteLLM\n\n"
        f"Command: `{cmd}`\n\n"
        "| proxy | added p50 (ms) | added p99 (ms) | highest clean rate (req/s) |\n"
        "|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nUpstream called directly: p50 {d['p50_us'] / 1000:.3f} ms, "
        f"p99 {d['p99_us'] / 1000:.3f} ms, {thr['direct']['best_clean_rps']:,.0f} req/s.\n"
        f"Added latency: one connection, one request at a time, {args.rounds} rounds of "
        f"{args.duration} s per target taken in turn, median of the rounds' percentiles, minus "
        f"the same for the upstream called directly. Rate: wrk closed loop at {args.conns} "
        "connections, the highest rate with no error and no non-2xx answer. wrk and the "
        "upstream on CPU 1, "
        + ("the proxy pinned to CPU 0" if args.pin else "the proxy left to the scheduler")
        + f"; 1-minute load average when the run started: {args.load_before:.2f} "
        f"on {os.cpu_count()} cores.\n"
        f"Gateway detection: {', '.join(detection) or 'none loaded'} (all in the scorer's own "
        "process, content_inline off: the default); limits in process; "
        f"{events:,} events written to .jsonl.gz. "
        f"{N_ACCOUNTS} accounts, {N_PROMPTS} benign chat prompts "
        "(shared/data/benign_prompts). Time inside the gateway per request (its own "
        f"histogram, upstream excluded): {overhead}. Online scorer at the end: "
        f"{pending:,.0f} requests still queued, {dropped:,.0f} not scored"
        + (
            " (backlog full: on two shared cores the scorer, at lower priority, cannot keep up "
            "with the peak rate)"
            if dropped
            else ""
        )
        + ".\n"
        + ratio
    )
    print()
    print(md)
    if not args.no_record:
        from benchmarks._record import record

        record(
            "gateway",
            md,
            {
                "command": cmd,
                "summary": summary,
                "detection": detection,
                "events_written": events,
                "raw": results,
                "params": {
                    "duration_s": args.duration,
                    "rounds": args.rounds,
                    "conns": args.conns,
                    "pin": args.pin,
                },
                "litellm": _litellm_version(args.litellm),
            },
        )


def _gauge(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def _overhead_quantiles(metrics: str) -> str:
    """p50/p99 bucket bounds from the gateway's overhead histogram."""
    buckets: list[tuple[float, float]] = []
    for line in metrics.splitlines():
        if line.startswith("distillguard_gateway_overhead_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    if not buckets or buckets[-1][1] == 0:
        return "n/a"
    total = buckets[-1][1]
    out = []
    for q in (0.5, 0.99):
        bound = next(b for b, c in buckets if c >= q * total)
        out.append(f"p{int(q * 100)} <= {bound * 1000:g} ms")
    return ", ".join(out)


def _litellm_version(exe: str) -> str | None:
    pip = Path(exe).with_name("pip")
    if not pip.exists():
        return None
    out = subprocess.run([str(pip), "show", "litellm"], capture_output=True, text=True)
    return next(
        (x.split(":", 1)[1].strip() for x in out.stdout.splitlines() if x.startswith("Version")),
        None,
    )


if __name__ == "__main__":
    main()
