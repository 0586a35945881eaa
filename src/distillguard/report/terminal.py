"""The audit's terminal summary: what an on-call engineer reads first, in rich tables.

Headline numbers (requests, accounts, flagged, share of traffic judged suspicious), the notes
on anything degraded (metadata-only mode, sampling), the strongest clusters with their kind,
size, score, recommended response and evidence, the strongest accounts with their reasons,
and the known-good overrides honoured. Everything else is in report.html and the JSONL files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from rich import box
from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from distillguard.detect.verdicts import AccountVerdict, AuditResult, ClusterVerdict, Response

__all__ = ["print_summary"]

RESPONSE_STYLE: dict[Response, str] = {
    Response.NONE: "dim",
    Response.WATCH: "cyan",
    Response.THROTTLE: "yellow",
    Response.DEGRADE: "yellow",
    Response.CHALLENGE: "bold red",
    Response.SUSPEND: "bold white on red",
}


def _ts(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _response(r: Response) -> Text:
    return Text(str(r), style=RESPONSE_STYLE.get(r, ""))


def _lines(items: tuple[str, ...], limit: int) -> Text:
    shown = list(items[:limit])
    if len(items) > limit:
        shown.append(f"… +{len(items) - limit} more")
    # Text, never a markup string: reasons and ids are data, and "[…]" in them must print as is.
    return Text("\n".join(f"• {s}" for s in shown) if shown else "—")


def _headline(result: AuditResult) -> Panel:
    stats = result.stats
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    share = Text(f"{100.0 * stats.suspicious_event_share:.1f}%", style="bold red")
    share.append(" of requests come from flagged accounts", style="default")
    grid.add_row("Suspicious traffic", share)
    grid.add_row(
        "Accounts flagged",
        f"{stats.n_flagged:,} of {stats.n_accounts:,} (threshold {stats.threshold:.2f})",
    )
    flagged_clusters = sum(1 for c in result.clusters if c.flagged)
    grid.add_row("Clusters", f"{flagged_clusters:,} suspicious of {len(result.clusters):,} linked")
    grid.add_row("Requests audited", f"{stats.n_events:,}")
    grid.add_row("Period", f"{_ts(stats.period_start)} → {_ts(stats.period_end)}")
    responses: Counter[Response] = Counter(
        a.response for a in result.accounts if a.response is not Response.NONE
    )
    if responses:
        line = Text()
        for r in Response:
            if responses[r]:
                line.append_text(_response(r))
                line.append(f" {responses[r]:,}   ")
        grid.add_row("Responses", line)
    grid.add_row(
        "Content",
        "prompt text analysed"
        if stats.content_available
        else Text("absent: metadata-only mode", style="yellow"),
    )
    grid.add_row("Audit time", f"{stats.elapsed_s:.1f} s")
    return Panel(
        grid, title="distillguard audit", border_style="red" if stats.n_flagged else "green"
    )


# Below this width the findings print as blocks (a header line, then indented evidence)
# instead of tables: a seven-column table squeezed into 80 columns truncates the evidence.
WIDE_COLUMNS = 120


@dataclass(frozen=True, slots=True)
class _Finding:
    cells: tuple[Text | str, ...]
    bullets: Text


def _print_findings(
    console: Console,
    title: str,
    headers: tuple[str, ...],
    numeric: frozenset[int],
    findings: list[_Finding],
) -> None:
    if console.width >= WIDE_COLUMNS:
        table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left", expand=True)
        for i, header in enumerate(headers[:-1]):
            table.add_column(header, justify="right" if i in numeric else "left", no_wrap=i == 0)
        table.add_column(headers[-1], ratio=1)
        for f in findings:
            table.add_row(*f.cells, f.bullets)
        console.print(table)
        return
    console.print()
    console.print(Text(title, style="bold"))
    for f in findings:
        head = Text("  ")
        for i, cell in enumerate(f.cells):
            if i:
                head.append("  ")
            head.append_text(cell if isinstance(cell, Text) else Text(cell))
        console.print(head)
        console.print(Padding(f.bullets, (0, 0, 0, 4)))


def _days_table(result: AuditResult) -> Table:
    """A log judged day by day: what each day's audit found."""
    table = Table(
        title="Judged day by day (each account takes its strongest day's verdict)",
        box=box.SIMPLE_HEAVY,
        title_justify="left",
    )
    for header in ("day (UTC)", "requests", "accounts", "flagged", "flagged clusters"):
        table.add_column(header, justify="left" if header.startswith("day") else "right")
    for d in result.stats.days:
        table.add_row(
            d.date,
            f"{d.n_events:,}",
            f"{d.n_accounts:,}",
            Text(f"{d.n_flagged:,}", style="bold red" if d.n_flagged else ""),
            f"{d.n_flagged_clusters:,}",
        )
    return table


def _cluster_findings(clusters: list[ClusterVerdict]) -> list[_Finding]:
    return [
        _Finding(
            cells=(
                Text(c.cluster_id, style="bold"),
                Text(c.kind),
                f"{len(c.members):,} accounts",
                f"{c.n_events:,} req",
                f"score {c.score:.3f}",
                _response(c.response),
            ),
            bullets=_lines(c.evidence, 3),
        )
        for c in clusters
    ]


def _account_findings(accounts: list[AccountVerdict]) -> list[_Finding]:
    return [
        _Finding(
            cells=(
                Text(a.account_id, style="bold"),
                f"score {a.score:.3f}",
                Text(a.cluster_id or "—"),
                Text(a.kind or "—"),
                _response(a.response),
            ),
            bullets=_lines(a.reasons, 3),
        )
        for a in accounts
    ]


def _diverse(ranked: list[AccountVerdict], limit: int, per_cluster: int) -> list[AccountVerdict]:
    """The highest-scoring accounts, at most ``per_cluster`` from one cluster, so that a
    thousand-account proxy network does not hide every other finding."""
    taken: Counter[str] = Counter()
    out: list[AccountVerdict] = []
    for a in ranked:
        if a.cluster_id is not None:
            if taken[a.cluster_id] >= per_cluster:
                continue
            taken[a.cluster_id] += 1
        out.append(a)
        if len(out) >= limit:
            break
    return out


def print_summary(
    result: AuditResult, console: Console, top_clusters: int = 8, top_accounts: int = 10
) -> None:
    """Print the audit's summary to ``console`` (rich renders colour only on a terminal)."""
    stats = result.stats
    parts: list[object] = [_headline(result)]
    for note in stats.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    if not stats.content_available and not stats.notes:
        parts.append(
            Text(
                "note: no prompt text in the log; content detectors did not run",
                style="yellow",
            )
        )
    console.print(Group(*parts))  # type: ignore[arg-type]
    if stats.days:
        console.print(_days_table(result))

    clusters = sorted(
        (c for c in result.clusters if c.flagged), key=lambda c: (-c.score, c.cluster_id)
    )
    if clusters:
        shown_clusters = clusters[:top_clusters]
        _print_findings(
            console,
            f"Top suspicious clusters ({len(shown_clusters)} of {len(clusters):,})",
            ("cluster", "kind", "members", "requests", "score", "response", "evidence"),
            frozenset({2, 3, 4}),
            _cluster_findings(shown_clusters),
        )
    else:
        console.print(Text("No cluster was judged suspicious.", style="green"))
    review = result.clusters_to_review()
    if review:
        _print_findings(
            console,
            f"Clusters to review ({min(len(review), top_clusters)} of {len(review):,}): "
            "suspicious as a whole, no member flagged",
            ("cluster", "kind", "members", "requests", "score", "response", "evidence"),
            frozenset({2, 3, 4}),
            _cluster_findings(list(review[:top_clusters])),
        )

    flagged = sorted(result.flagged(), key=lambda a: (-a.score, a.account_id))
    if flagged:
        shown = _diverse(flagged, top_accounts, per_cluster=3)
        _print_findings(
            console,
            f"Top flagged accounts ({len(shown)} of {len(flagged):,}, at most 3 per cluster)",
            ("account", "score", "cluster", "kind", "response", "reasons"),
            frozenset({1}),
            _account_findings(shown),
        )
    else:
        console.print(Text("No account was flagged.", style="green"))

    cleared = [a for a in result.accounts if a.override is not None]
    if stats.overrides:
        console.print(
            Text(
                f"Known-good overrides honoured: {len(stats.overrides)} "
                f"({len(cleared)} account(s) in this log cleared)",
                style="cyan",
            )
        )
        for k in stats.overrides:
            target = f"account {k.account_id}" if k.account_id else f"org {k.org_id}"
            console.print(Text(f"  • {target}: {k.why} (by {k.who})", style="cyan"))
    else:
        console.print(Text("No known-good overrides configured.", style="dim"))
