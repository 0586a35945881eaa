"""Write one benchmark's figures into its own section of BENCHMARKS.md and a JSON result file.

Each benchmark owns the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``, so
benchmarks can be rerun one at a time without touching the others' figures.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["BENCHMARKS_MD", "RESULTS_DIR", "machine_line", "record"]

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
RESULTS_DIR = ROOT / "benchmarks" / "results"

_HEADER = (
    "# Benchmarks\n\n"
    "Figures written by the scripts in `benchmarks/` (each owns one section below). "
    "Rerun one with the command given in its section; `make bench` reruns them all.\n"
)


def machine_line() -> str:
    """One line naming the machine the figures come from."""
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}"
    )


def record(name: str, markdown: str, result: dict[str, Any]) -> None:
    """Replace the ``name`` section of BENCHMARKS.md and write benchmarks/results/NAME.json."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = (
        f"<!-- bench:{name} -->\n{markdown.rstrip()}\n\n"
        f"_Recorded {stamp} on {machine_line()}._\n<!-- /bench:{name} -->"
    )
    text = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else _HEADER
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    text = (
        pattern.sub(lambda _m: body, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{body}\n"
    )
    BENCHMARKS_MD.write_text(text, encoding="utf-8")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {"name": name, "recorded_at": stamp, "machine": machine_line(), **result}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
