"""``distillguard demo``: the whole story on embedded defaults, in about a minute.

Simulate one day of a provider's traffic with theft campaigns hidden in it (the ``mixed``
scenario, fixed seed), load it into a DuckDB store, audit it, print the findings, score them
against the simulator's ground truth, and write the self-contained HTML report. Every file
lands in ``--out`` so the user can open the report, query the store, or rerun the audit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from distillguard.audit import run_audit
from distillguard.cli.logging import configure_logging
from distillguard.detect.verdicts import AuditResult
from distillguard.events.ingest import ingest
from distillguard.report.groundtruth import Comparison, compare
from distillguard.report.html import write_report
from distillguard.report.queries import labels_from_store
from distillguard.report.terminal import print_summary
from distillguard.settings import Settings, load_settings
from distillguard.simulate import SimulationSummary, scenario, simulate
from distillguard.store import Store

__all__ = ["DemoRun", "register", "run_demo"]

DEFAULT_OUT = Path("demo-out")
DEFAULT_SEED = 7
SCENARIO = "mixed"
DB_NAME = "distillguard.duckdb"
# Everything the demo writes into --out; a rerun replaces exactly these and nothing else.
OUTPUT_NAMES = (
    "events.parquet",
    "accounts.jsonl",
    "labels.jsonl",
    DB_NAME,
    f"{DB_NAME}.wal",
    "verdicts.jsonl",
    "clusters.jsonl",
    "enforcement.json",
    "report.html",
    "rejects.jsonl",
)


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What one demo run produced, for the final message and for tests."""

    out: Path
    report: Path
    db: Path
    simulation: SimulationSummary
    result: AuditResult
    comparison: Comparison | None
    seconds: dict[str, float]


@contextmanager
def _step(console: Console, number: int, title: str, seconds: dict[str, float]) -> Iterator[None]:
    console.print(Text(f"[{number}/3] {title}…", style="bold"))
    started = time.perf_counter()
    with console.status(title, spinner="dots"):
        yield
    seconds[title] = time.perf_counter() - started


def _done(console: Console, line: str, seconds: float) -> None:
    console.print(Text(f"      {line}  ({seconds:.1f} s)", style="dim"))


def run_demo(
    out: Path,
    seed: int = DEFAULT_SEED,
    accounts: int | None = None,
    console: Console | None = None,
    settings: Settings | None = None,
) -> DemoRun:
    """Simulate → ingest → audit → summary → report, printing progress to ``console``.

    ``accounts`` rescales the scenario (None = its default population). Files from an earlier
    demo in ``out`` are replaced; nothing else in ``out`` is touched.
    """
    console = console or Console()
    settings = settings or load_settings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_NAMES:
        (out / name).unlink(missing_ok=True)
    seconds: dict[str, float] = {}

    config = scenario(
        SCENARIO,
        seed=seed,
        days=1.0,
        events_format="parquet",
        data_dir=settings.simulate.data_dir,
    )
    if accounts is not None:
        config = config.scaled(accounts)
    title = f"simulating one day of the '{SCENARIO}' scenario (seed {seed})"
    with _step(console, 1, title, seconds):
        sim = simulate(config, out)
    hidden = len(sim.events_by_campaign)
    _done(
        console,
        f"{sim.n_events:,} requests from {sim.n_accounts:,} accounts; {hidden} theft "
        f"campaigns hidden among them ({sim.n_malicious:,} accounts); prompts from "
        f"{sim.prompt_source} data",
        seconds[title],
    )

    db = out / DB_NAME
    title = f"loading the log into {db}"
    with _step(console, 2, title, seconds), Store.open(db) as store:
        loaded = ingest(store, [sim.events_path], [sim.accounts_path], [sim.labels_path])
        labels = labels_from_store(store.con)
    _done(
        console,
        f"{loaded.accepted:,} records accepted, {loaded.rejected:,} rejected",
        seconds[title],
    )

    title = "auditing accounts, networks and prompts; writing the report"
    with _step(console, 3, title, seconds):
        # The same run as `distillguard audit --db`: content model, outputs, report.
        audit = run_audit(settings, out, db=db, report=write_report)
    result = audit.result
    _done(
        console,
        f"{result.stats.n_flagged:,} accounts flagged in "
        f"{sum(c.flagged for c in result.clusters):,} suspicious clusters",
        seconds[title],
    )
    console.print()
    print_summary(result, console)
    console.print()
    path = audit.files["report"]
    comparison = compare(result, labels) if labels else None
    return DemoRun(
        out=out,
        report=path,
        db=db,
        simulation=sim,
        result=result,
        comparison=comparison,
        seconds=seconds,
    )


def _closing(run: DemoRun, console: Console) -> None:
    lines = Text()
    c = run.comparison
    if c is not None:
        lines.append("Against the simulator's ground truth: ", style="bold")
        lines.append(
            f"{c.n_caught} of {len(c.campaigns)} campaigns caught; account precision "
            f"{c.precision:.3f}, recall {c.recall:.3f}; {c.fp:,} of {c.fp + c.tn:,} benign "
            f"accounts flagged ({100 * c.fpr:.2f}%).\n"
        )
    lines.append("Report: ", style="bold")
    lines.append(f"{run.report}", style="cyan")
    lines.append(" (one offline HTML file: open it in a browser, forward it as is)\n")
    lines.append("Files:  ", style="bold")
    lines.append(
        "verdicts.jsonl (one verdict per account), clusters.jsonl, enforcement.json (for the "
        f"gateway) and {run.db.name} (the DuckDB store) in {run.out}"
    )
    total = sum(run.seconds.values())
    console.print(Panel(lines, title=f"demo finished in {total:.0f} s", border_style="green"))
    # Commands outside the panel and never wrapped, so they can be copied as they are.
    console.print(Text("Audit your own logs:", style="bold"))
    for command in (
        "distillguard audit --events my-events.jsonl.gz --accounts my-accounts.jsonl --out out/",
        "# or load them once into a DuckDB file, then audit it:",
        "distillguard ingest --events my-events.jsonl.gz --accounts my-accounts.jsonl "
        "--db my.duckdb",
        "distillguard audit --db my.duckdb --out out/",
        "# after each new day's ingest, audit the latest day (the detectors judge a day):",
        "distillguard audit --db my.duckdb --out out/ --last-hours 24",
    ):
        style = "dim" if command.startswith("#") else "green"
        console.print(Text(f"  {command}", style=style), soft_wrap=True)


def demo(
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Where to write the demo's files."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Simulator seed."),
    accounts: int | None = typer.Option(
        None, "--accounts", min=20, help="Accounts to simulate [default: the scenario's]."
    ),
) -> None:
    """Simulate a day with hidden theft campaigns, audit it, print findings, write the report."""
    # Progress and findings go to the console; library logs only when something is wrong.
    configure_logging(level="WARNING")
    console = Console()
    run = run_demo(out, seed=seed, accounts=accounts, console=console)
    _closing(run, console)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
