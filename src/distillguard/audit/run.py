"""Run one audit end to end: inputs → store → detect → files in the output directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import structlog

from distillguard.detect.days import DAY_BY_DAY_FROM_S
from distillguard.detect.engine import AuditOptions, ContentScorer, TemplateFn, audit_store
from distillguard.detect.links import audit_links
from distillguard.detect.online import ClusterLinks, link_hashes
from distillguard.detect.overrides import parse_known_good
from distillguard.detect.prediction.prada import PopulationStats
from distillguard.detect.replay import predict_reference
from distillguard.detect.verdicts import (
    AuditResult,
    KnownGood,
    cluster_record,
    enforcement_document,
    rfc3339,
    verdict_record,
)
from distillguard.errors import DetectorError, InputFileError
from distillguard.events.ingest import IngestReport, ingest
from distillguard.events.records import LabelRecord
from distillguard.events.schema import VERDICT_SCHEMA
from distillguard.events.writers import write_table
from distillguard.respond.enforcement import predict_reference_document
from distillguard.settings import Settings
from distillguard.store import Store

__all__ = ["AuditRun", "load_known_good", "run_audit", "write_outputs"]

log = structlog.get_logger(__name__)
# A log audited as one (--whole-log) that spans more than this gets a note (see _span_note).
LONG_LOG_S = DAY_BY_DAY_FROM_S

ReportWriter = Callable[[Store, AuditResult, Path, Sequence[LabelRecord] | None], Path]


@dataclass(frozen=True, slots=True)
class AuditRun:
    """The result of :func:`run_audit`, the files it wrote (keyed by name) and, when it read
    input files, what their ingest accepted and rejected (None for a store audited as is)."""

    result: AuditResult
    files: dict[str, Path]
    ingested: IngestReport | None = None


def load_known_good(paths: Sequence[Path]) -> tuple[KnownGood, ...]:
    """Read analyst known-good lists (JSONL or CSV; see detect/overrides.py)."""
    out: list[KnownGood] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputFileError(path, f"cannot read the known-good list ({exc.strerror})") from exc
        out.extend(parse_known_good(text, str(path)))
    return tuple(out)


def _load_content() -> tuple[ContentScorer | None, TemplateFn | None, str | None]:
    """C's content model and template fingerprints, or None with the reason."""
    template_fn: TemplateFn | None
    try:
        from distillguard.detect.content.templates import template_id

        template_fn = template_id
    except ImportError:
        template_fn = None
    try:
        from distillguard.detect.content import ContentModel

        return ContentModel.load(), template_fn, None
    except ImportError:
        return None, template_fn, "content model not installed"
    except DetectorError as exc:
        # A broken model must not stop the audit: it degrades to metadata and says why.
        log.warning("audit.content_model_unavailable", error=str(exc))
        return None, template_fn, f"content model failed to load: {exc}"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(
    result: AuditResult,
    out: Path,
    links: ClusterLinks | None = None,
    reference: PopulationStats | None = None,
) -> dict[str, Path]:
    """Write verdicts.jsonl (spec section 4), clusters.jsonl and enforcement.json (with the
    flagged clusters' hashed ``links`` and, when the log has predict inputs, ``reference``, the
    range they span, which the gateway's online predict test judges inputs against) to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    records = [verdict_record(v) for v in result.accounts]
    table = pa.Table.from_pylist(records, schema=VERDICT_SCHEMA)
    verdicts = out / "verdicts.jsonl"
    write_table(verdicts, "verdicts", table)
    clusters = out / "clusters.jsonl"
    _atomic_write(
        clusters, b"".join(orjson.dumps(cluster_record(c)) + b"\n" for c in result.clusters)
    )
    enforcement = out / "enforcement.json"
    doc = enforcement_document(result, link_hashes(links) if links is not None else None)
    if reference is not None:
        doc["predict_reference"] = predict_reference_document(reference)
    _atomic_write(enforcement, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return {"verdicts": verdicts, "clusters": clusters, "enforcement": enforcement}


def _labels(store: Store) -> list[LabelRecord] | None:
    rows = store.con.sql("SELECT account_id, label, campaign_id, kind FROM labels").fetchall()
    if not rows:
        return None
    return [LabelRecord(account_id=a, label=lab, campaign_id=c, kind=k) for a, lab, c, k in rows]


def run_audit(
    settings: Settings,
    out: Path,
    events: Sequence[Path] = (),
    accounts: Sequence[Path] = (),
    labels: Sequence[Path] = (),
    db: Path | None = None,
    known_good: Sequence[Path] = (),
    replay: bool = False,
    content: bool = True,
    report: ReportWriter | None = None,
    replay_windows: int | None = None,
    replay_horizon_s: float | None = None,
    last_s: float | None = None,
    whole_log: bool = False,
) -> AuditRun:
    """Audit ``events`` (ingested into a throwaway in-memory store) or the store at ``db``
    (events given with ``db`` are ingested into it first) and write the outputs to ``out``.

    ``content=False`` forces metadata-only mode. ``report`` writes report.html (the report
    stage's ``write_report``); None skips it. Rejected input records go to
    ``out/rejects.jsonl``. ``replay_windows`` and ``replay_horizon_s`` set the periodic
    audits of ``replay`` (how many over the log, how far back each reads; defaults in
    :class:`AuditOptions`). ``last_s`` audits only the events of the last ``last_s`` seconds
    of the log: everything, the report included, reads that window; the store is not changed.
    A log longer than a day and a half is judged one UTC day at a time (``detect.days``);
    ``whole_log`` audits it as one.
    """
    if db is None and not events:
        raise InputFileError("--events", "give event files with --events or a store with --db")
    overrides = load_known_good(known_good)
    scorer: ContentScorer | None = None
    template_fn: TemplateFn | None = None
    content_note: str | None = None
    if content:
        scorer, template_fn, content_note = _load_content()
    store = Store.open(
        db if db is not None else ":memory:",
        memory_limit=settings.store.memory_limit,
        threads=settings.store.threads,
    )
    ingested: IngestReport | None = None
    with store:
        if events or accounts or labels:
            out.mkdir(parents=True, exist_ok=True)
            ingested = ingest(store, events, accounts, labels, rejects=out / "rejects.jsonl")
        opts = replace(
            AuditOptions(),
            replay_windows=replay_windows or AuditOptions().replay_windows,
            replay_horizon_s=replay_horizon_s,
            day_by_day=not whole_log,
        )
        window = _window(store, last_s) if last_s else None
        try:
            result = audit_store(
                store,
                settings,
                replay=replay,
                overrides=overrides,
                content=scorer,
                templates=template_fn,
                options=opts,
            )
            span = _span_note(result) if whole_log else None
            for note in (window or span, content_note):
                if note is not None:
                    result = _with_note(result, note)
            if content_note is None and not content:
                result = _with_note(result, "content detectors turned off (--no-content)")
            # The range of the predict inputs this audit read, as the replay computes it after
            # each periodic audit (same query, same per-account cap): the replay's figures
            # assume it.
            reference = predict_reference(store.con, "events", opts.predict_per_account)
            files = write_outputs(result, out, audit_links(store.con, result), reference)
            if report is not None:
                files["report"] = report(store, result, out / "report.html", _labels(store))
        finally:
            if window is not None:
                store.con.execute("DROP TABLE IF EXISTS temp.events")
        if ingested is not None and ingested.rejected and ingested.rejects_path is not None:
            files["rejects"] = ingested.rejects_path
    log.info(
        "audit.outputs",
        out=str(out),
        files=sorted(files),
        generated_at=rfc3339(result.stats.finished),
    )
    return AuditRun(result, files, ingested)


def _window(store: Store, last_s: float) -> str | None:
    """Shadow the store's events with those of the last ``last_s`` seconds of the log (a
    temporary table of this connection, dropped after the audit: the store is not changed) and
    say so; None (nothing shadowed) when the log is empty."""
    hi = store.con.sql("SELECT max(ts) FROM events").fetchall()[0][0]
    if hi is None:
        return None
    store.con.execute(
        "CREATE TEMP TABLE events AS SELECT * FROM events WHERE ts > ?",
        [hi - timedelta(seconds=last_s)],
    )
    n, lo = store.con.sql("SELECT count(*), min(ts) FROM events").fetchall()[0]
    return (
        f"audited the last {last_s / 3600.0:g} h of the log only (--last-hours): {n:,} events "
        f"from {rfc3339(lo)} to {rfc3339(hi)}"
    )


def _span_note(result: AuditResult) -> str | None:
    """A word of warning when a log spanning well over a day was audited as one."""
    t0, t1 = result.stats.period_start, result.stats.period_end
    if t0 is None or t1 is None or (t1 - t0).total_seconds() <= LONG_LOG_S:
        return None
    days = (t1 - t0).total_seconds() / 86400.0
    return (
        f"the log spans {days:.1f} days, audited as one (--whole-log): the detectors are "
        "calibrated on a day of traffic (volume and address spread are judged per day, but a "
        "week of prompts covers the task space like a harvesting job's day and links strangers "
        "who share exits over the week); without --whole-log the audit judges it day by day"
    )


def _with_note(result: AuditResult, note: str) -> AuditResult:
    stats: Any = replace(result.stats, notes=(*result.stats.notes, note))
    return AuditResult(result.accounts, result.clusters, stats)
