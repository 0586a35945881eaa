"""``distillguard simulate``: write a simulated day (or more) of API traffic with ground truth."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from distillguard.settings import load_settings
from distillguard.simulate import SCENARIOS, SimulationSummary, scenario, simulate

__all__ = ["register"]


def _render(summary: SimulationSummary, console: Console) -> None:
    table = Table(title="simulated accounts and requests by kind", show_lines=False)
    table.add_column("kind")
    table.add_column("accounts", justify="right")
    table.add_column("requests", justify="right")
    for kind, n in summary.accounts_by_kind.items():
        table.add_row(kind, f"{n:,}", f"{summary.events_by_kind.get(kind, 0):,}")
    console.print(table)
    console.print(
        f"{summary.n_events:,} events, {summary.n_accounts:,} accounts "
        f"({summary.n_malicious:,} malicious) in {summary.seconds:.1f} s "
        f"({summary.events_per_s:,.0f} events/s); prompts: {summary.prompt_source}"
    )
    for path in (summary.events_path, summary.accounts_path, summary.labels_path):
        console.print(f"  wrote {path}")


def simulate_command(
    scenario_name: str = typer.Option(
        "mixed", "--scenario", help=f"One of: {', '.join(SCENARIOS)}."
    ),
    seed: int = typer.Option(7, "--seed", help="Same seed, same bytes."),
    out: Path = typer.Option(Path("sim-out"), "--out", help="Output directory."),
    accounts: int | None = typer.Option(
        None, "--accounts", help="Total accounts (campaign sizes scale with it)."
    ),
    days: float | None = typer.Option(None, "--days", help="Length of the simulated period."),
    events_format: str = typer.Option(
        "jsonl.gz", "--format", help="Events file format: jsonl.gz, jsonl or parquet."
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Shared prompt data (default: settings simulate.data_dir); missing = built-in.",
    ),
    prompt_split: str = typer.Option(
        "dev", "--prompt-split", help="Attack prompts from prompts/ train, dev or all."
    ),
    volume_scale: float = typer.Option(1.0, "--volume-scale", help="Multiply every rate."),
) -> None:
    """Simulate API traffic with theft campaigns hidden among customers; write ground truth."""
    settings = load_settings()
    config = scenario(
        scenario_name,
        seed=seed,
        accounts=accounts,
        days=days,
        events_format=events_format,
        data_dir=data_dir or settings.simulate.data_dir,
        prompt_split=prompt_split,
        volume_scale=volume_scale,
    )
    _render(simulate(config, out), Console())


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
