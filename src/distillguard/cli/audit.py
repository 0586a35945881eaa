"""``distillguard audit``: find the campaigns in an event log and write the evidence."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from distillguard.audit import run_audit
from distillguard.cli.ingest import render_report
from distillguard.cli.logging import configure_logging
from distillguard.report.html import write_report
from distillguard.report.terminal import print_summary
from distillguard.settings import load_settings

__all__ = ["register"]


def audit(
    events: list[Path] = typer.Option(
        [], "--events", "-e", help="Request-event files (.jsonl, .jsonl.gz, .parquet, .csv)."
    ),
    accounts: list[Path] = typer.Option([], "--accounts", "-a", help="Account-record files."),
    labels: list[Path] = typer.Option(
        [], "--labels", "-l", help="Ground-truth labels (simulated data): adds a comparison."
    ),
    db: Path | None = typer.Option(
        None, "--db", help="Audit an ingested DuckDB store instead of (or as well as) files."
    ),
    out: Path = typer.Option(Path("audit-out"), "--out", "-o", help="Output directory."),
    known_good: list[Path] = typer.Option(
        [],
        "--known-good",
        help="Analyst known-good list (JSONL/CSV: account_id or org_id, who, why).",
    ),
    replay: bool = typer.Option(
        False,
        "--replay",
        help="Replay the log as a deployment sees it (online scorer per request, periodic "
        "audits, cluster links) and record first_flagged_at and how.",
    ),
    replay_windows: int | None = typer.Option(
        None,
        "--replay-windows",
        min=1,
        help="Periodic audits over the log in --replay (default 24).",
    ),
    replay_horizon_hours: float | None = typer.Option(
        None,
        "--replay-horizon-hours",
        min=0.0,
        help="How far back each periodic audit of --replay reads (default: the whole log so far).",
    ),
    last_hours: float | None = typer.Option(
        None,
        "--last-hours",
        min=0.0,
        help="Audit only the last H hours of the log (a store that gathers day after day: "
        "--last-hours 24 judges the latest day, as the detectors are calibrated).",
    ),
    whole_log: bool = typer.Option(
        False,
        "--whole-log",
        help="Audit a log longer than a day and a half as one, not one UTC day at a time "
        "(the default: the detectors are calibrated on a day of traffic).",
    ),
    no_content: bool = typer.Option(
        False, "--no-content", help="Ignore prompt text: metadata-only detectors."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", min=0.0, max=1.0, help="Flag threshold (default 0.5)."
    ),
    no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
    config: Path | None = typer.Option(None, "--config", help="Settings file (TOML)."),
    json_logs: bool = typer.Option(False, "--json-logs", help="Log JSON lines to stderr."),
) -> None:
    """Audit an event log: verdicts.jsonl, clusters.jsonl, enforcement.json, report.html."""
    configure_logging(json=json_logs, level="WARNING")
    settings = load_settings(config, {"detect": {"flag_threshold": threshold}})
    run = run_audit(
        settings,
        out,
        events=events,
        accounts=accounts,
        labels=labels,
        db=db,
        known_good=known_good,
        replay=replay,
        replay_windows=replay_windows,
        replay_horizon_s=3600.0 * replay_horizon_hours if replay_horizon_hours else None,
        content=not no_content,
        report=None if no_report else write_report,
        last_s=3600.0 * last_hours if last_hours else None,
        whole_log=whole_log,
    )
    console = Console()
    if run.ingested is not None and (run.ingested.rejected or run.ingested.no_text):
        # Records the audit could not read are never dropped silently: say how many, where
        # they went and the first reasons (file, line, field), as `ingest` does; likewise
        # events it kept without their prompt text.
        render_report(run.ingested, console)
    print_summary(run.result, console)
    for name, path in sorted(run.files.items()):
        console.print(f"{name}: {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
