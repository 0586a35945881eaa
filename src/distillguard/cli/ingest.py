"""``distillguard ingest``: load event-log files into the store and say what happened."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from distillguard.cli.logging import configure_logging
from distillguard.events.adapters.otel_genai import DEFAULT_ACCOUNT_ATTRIBUTES
from distillguard.events.formats import FileFormat
from distillguard.events.ingest import IngestReport, ingest
from distillguard.settings import load_settings
from distillguard.store import Store

__all__ = ["register", "render_report"]

_FORMATS = ", ".join(fmt.value for fmt in FileFormat)


def render_report(report: IngestReport, console: Console) -> None:
    """The final table: one row per file, accepted / rejected / duplicate, and a total."""
    table = Table(title="ingest", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("kind")
    table.add_column("format")
    table.add_column("accepted", justify="right", style="green")
    table.add_column("rejected", justify="right", style="red")
    table.add_column("duplicate", justify="right", style="yellow")
    table.add_column("rows/s", justify="right")
    for f in report.files:
        rate = f"{f.records / f.seconds:,.0f}" if f.seconds > 0 else "-"
        table.add_row(
            str(f.path),
            f.kind,
            str(f.format),
            f"{f.accepted:,}",
            f"{f.rejected:,}",
            f"{f.duplicate:,}",
            rate,
        )
    if len(report.files) > 1:
        table.add_section()
        table.add_row(
            "total",
            "",
            "",
            f"{report.accepted:,}",
            f"{report.rejected:,}",
            f"{report.duplicate:,}",
            "",
        )
    console.print(table)
    if report.no_text:
        console.print(
            f"note: {report.no_text:,} chat/completions events carry no prompt text: kept, and "
            "judged on their metadata (content signals skip them)",
            highlight=False,
        )
    if report.rejected:
        console.print(f"rejected records and their reasons: {report.rejects_path}")
        for reason in report.first_reasons:
            console.print(f"  {reason}", highlight=False, markup=False)


def ingest_command(
    events: list[Path] = typer.Option(
        [], "--events", "-e", help="Request-event files (.jsonl, .jsonl.gz, .parquet, .csv)."
    ),
    accounts: list[Path] = typer.Option([], "--accounts", "-a", help="Account-record files."),
    labels: list[Path] = typer.Option([], "--labels", "-l", help="Ground-truth label files."),
    db: Path | None = typer.Option(
        None,
        "--db",
        help="DuckDB store file (default: store.db_path, distillguard.duckdb in the cwd).",
    ),
    rejects: Path = typer.Option(
        Path("rejects.jsonl"), "--rejects", help="Where rejected records go (JSON Lines)."
    ),
    format: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help=f"Format of the --events files when the suffix does not say: {_FORMATS}",
    ),
    account_attribute: list[str] = typer.Option(
        list(DEFAULT_ACCOUNT_ATTRIBUTES),
        "--account-attribute",
        help="otel-genai: span/resource attributes holding the account id, first found wins.",
    ),
    config: Path | None = typer.Option(None, "--config", help="Settings file (TOML)."),
) -> None:
    """Load event logs into the store: idempotent, bad records to --rejects, one file at a time.

    Each file is one transaction: an interrupted ingest leaves the store as it was before that
    file. Re-running on the same files adds nothing.
    """
    configure_logging(level="WARNING")
    if not (events or accounts or labels):
        raise typer.BadParameter("give at least one --events, --accounts or --labels file")
    settings = load_settings(config, {"store": {"db_path": db}})
    console = Console()
    with Store.open(
        settings.store.db_path,
        memory_limit=settings.store.memory_limit,
        threads=settings.store.threads,
    ) as store:
        report = ingest(
            store,
            events,
            accounts=accounts,
            labels=labels,
            rejects=rejects,
            progress=True,
            format=format,
            account_attributes=tuple(account_attribute),
        )
        stored = store.count("events")
    render_report(report, console)
    console.print(f"store {settings.store.db_path}: {stored:,} events")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
