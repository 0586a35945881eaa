"""A small simulated world for other stages' tests (audit, report, gateway, ingest).

    paths = small_world(tmp_path_factory.mktemp("world"), seed=11)
    paths.events, paths.accounts, paths.labels

About 600 accounts, a few hours, every campaign kind; a few seconds to build. It uses the
shared prompt data when ``data_dir`` points at it, else the built-in generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillguard.simulate.engine import SimulationSummary, simulate
from distillguard.simulate.scenarios import scenario

__all__ = ["WorldPaths", "small_world"]


@dataclass(frozen=True, slots=True)
class WorldPaths:
    events: Path
    accounts: Path
    labels: Path
    summary: SimulationSummary


def small_world(
    out_dir: Path,
    seed: int = 11,
    name: str = "mixed",
    accounts: int = 600,
    days: float = 0.5,
    data_dir: Path | None = None,
    events_format: str = "jsonl.gz",
) -> WorldPaths:
    """Simulate scenario ``name`` at a test-friendly size into ``out_dir``."""
    config = scenario(
        name,
        seed=seed,
        accounts=accounts,
        days=days,
        data_dir=data_dir,
        events_format=events_format,
    )
    summary = simulate(config, out_dir)
    return WorldPaths(summary.events_path, summary.accounts_path, summary.labels_path, summary)
