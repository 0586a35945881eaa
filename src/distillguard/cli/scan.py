"""``distillguard scan``: score prompts in bulk with the shipped content model.

Input is JSON Lines (optionally gzip): rows with a ``text`` field, or spec events whose
``messages`` / ``prompt`` are used. Every row comes out, in order, with all its fields and the
scores added (see :mod:`distillguard.detect.content.scan`); rows without text carry
``"scan_status": "no_text"``. A line that is not a JSON object goes to the rejects file with
its line number and reason; it never stops the scan and is never silently dropped.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from distillguard.cli.logging import configure_logging
from distillguard.detect.content import HEADS, ContentModel, ScanStatus, score_rows
from distillguard.errors import InputFileError

__all__ = ["ScanReport", "register", "scan_file"]

DEFAULT_BATCH = 4096


@dataclass(slots=True)
class ScanReport:
    """What one scan did: rows written, of which scored / without text, lines rejected."""

    in_path: Path
    out_path: Path
    rejects_path: Path
    rows: int = 0
    scored: int = 0
    no_text: int = 0
    rejected: int = 0
    seconds: float = 0.0
    flagged: dict[str, int] = field(default_factory=dict)
    first_reasons: list[str] = field(default_factory=list)


def _open_out(path: Path) -> BinaryIO | gzip.GzipFile:
    if path.name.endswith(".gz"):
        return gzip.GzipFile(path, "wb")
    return path.open("wb")


def _lines(raw: BinaryIO, path: Path) -> Iterator[tuple[int, bytes]]:
    stream: BinaryIO | gzip.GzipFile = (
        gzip.GzipFile(fileobj=raw) if path.name.endswith(".gz") else raw
    )
    try:
        yield from enumerate(stream, start=1)
    except (OSError, EOFError) as exc:
        raise InputFileError(path, f"cannot be read ({exc}); check that it is complete") from exc


def scan_file(
    in_path: Path,
    out_path: Path,
    model: ContentModel,
    rejects_path: Path | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> ScanReport:
    """Stream ``in_path`` through the model into ``out_path``, ``batch_size`` rows at a time.

    ``on_progress`` is called with the number of input bytes consumed so far. The rejects file
    (default: ``<out>.rejects.jsonl``) is only created when a line is rejected.
    """
    rejects = rejects_path or out_path.with_name(out_path.name + ".rejects.jsonl")
    report = ScanReport(in_path=in_path, out_path=out_path, rejects_path=rejects)
    report.flagged = dict.fromkeys(HEADS, 0)
    if not in_path.is_file():
        raise InputFileError(in_path, "no such file")
    started = time.perf_counter()
    with ExitStack() as stack:
        raw = stack.enter_context(in_path.open("rb"))
        out = _open_out(out_path)
        stack.enter_context(out)
        rejects_fh: IO[bytes] | None = None
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            for row in score_rows(batch, model):
                out.write(orjson.dumps(row) + b"\n")
                report.rows += 1
                if row["scan_status"] == ScanStatus.OK:
                    report.scored += 1
                    for name in HEADS:
                        value = row["score" if name == "overall" else name]
                        report.flagged[name] += value > model.thresholds[name]
                else:
                    report.no_text += 1
            batch.clear()
            if on_progress is not None:
                on_progress(raw.tell())

        for number, line in _lines(raw, in_path):
            if not line.strip():
                continue
            reason = None
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reason = f"not valid JSON ({exc.msg})"
            else:
                if not isinstance(row, dict):
                    reason = f"a JSON {type(row).__name__}, not an object"
            if reason is not None:
                if rejects_fh is None:
                    rejects_fh = stack.enter_context(rejects.open("wb"))
                record = {"file": str(in_path), "line": number, "reason": reason}
                rejects_fh.write(orjson.dumps(record) + b"\n")
                report.rejected += 1
                if len(report.first_reasons) < 5:
                    report.first_reasons.append(f"line {number}: {reason}")
                continue
            batch.append(row)
            if len(batch) >= batch_size:
                flush()
        flush()
    report.seconds = time.perf_counter() - started
    return report


def render_report(report: ScanReport, model: ContentModel, console: Console) -> None:
    """Counts, speed, and how many prompts cross each signal's 1%-false-positive threshold."""
    table = Table(title=f"scan → {report.out_path}", title_justify="left")
    table.add_column("rows", justify="right")
    table.add_column("scored", justify="right", style="green")
    table.add_column("no text", justify="right", style="yellow")
    table.add_column("rejected", justify="right", style="red")
    table.add_column("rows/s", justify="right")
    rate = f"{report.rows / report.seconds:,.0f}" if report.seconds > 0 else "-"
    table.add_row(
        f"{report.rows:,}",
        f"{report.scored:,}",
        f"{report.no_text:,}",
        f"{report.rejected:,}",
        rate,
    )
    console.print(table)
    flagged = Table(title="above the 1%-false-positive threshold", title_justify="left")
    flagged.add_column("signal")
    flagged.add_column("threshold", justify="right")
    flagged.add_column("prompts", justify="right")
    for name in HEADS:
        label = "score (overall)" if name == "overall" else name
        flagged.add_row(label, f"{model.thresholds[name]:.3f}", f"{report.flagged[name]:,}")
    console.print(flagged)
    if report.rejected:
        console.print(f"rejected lines and their reasons: {report.rejects_path}")
        for reason in report.first_reasons:
            console.print(f"  {reason}", highlight=False, markup=False)


def scan_command(
    in_path: Path = typer.Option(
        ..., "--in", "-i", help="JSON Lines (.jsonl or .jsonl.gz): rows with `text`, or events."
    ),
    out_path: Path = typer.Option(
        ..., "--out", "-o", help="Where to write the scored rows (.jsonl or .jsonl.gz)."
    ),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Where malformed lines go [default: OUT.rejects.jsonl]."
    ),
    batch_size: int = typer.Option(
        DEFAULT_BATCH, "--batch-size", min=1, help="Rows scored per batch."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Score every prompt for jailbreak, injection, extraction, CoT and rubric harvesting."""
    configure_logging()
    console = Console(stderr=True)
    model = ContentModel.load()
    if in_path.exists() and out_path.exists() and in_path.samefile(out_path):
        raise InputFileError(out_path, "--out is the same file as --in; choose another path")
    size = in_path.stat().st_size if in_path.is_file() else 0
    if quiet:
        scan_file(in_path, out_path, model, rejects, batch_size)
        return
    progress = Progress(
        TextColumn("scan"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("scan", total=size)
        report = scan_file(
            in_path,
            out_path,
            model,
            rejects,
            batch_size,
            on_progress=lambda done: progress.update(task, completed=done),
        )
    render_report(report, model, console)


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)
