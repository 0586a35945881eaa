"""Load event-log files into the store: validate, deduplicate, quarantine, one file at a time.

Each file is one transaction; a crash or Ctrl-C mid-file rolls it back, leaving the store as
it was. A record whose key (``request_id`` for events, ``account_id`` for accounts and
labels) is already stored, or appeared earlier in the same file, counts as a duplicate, so
loading a file twice changes nothing. Only rejected records ever become Python objects, to be
written to the rejects file. Three ways in, all checked by the same SQL
(:mod:`distillguard.events.validate`):

- JSON Lines, bulk: DuckDB's ``read_json`` loads the whole file in one query that fails if any
  record would be rejected; clean files (the usual case) take this path only.
- JSON Lines, line by line: when the bulk query fails, the file is rolled back and read again
  in bounded chunks of numbered lines, so that each bad line is named in the rejects file.
- Parquet is read by DuckDB directly; CSV and the OpenTelemetry adapter in Arrow chunks.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from distillguard.errors import InputFileError, SchemaError
from distillguard.events.adapters.otel_genai import (
    DEFAULT_ACCOUNT_ATTRIBUTES,
    iter_otel_genai,
    looks_like_otlp,
)
from distillguard.events.formats import FileFormat, format_for
from distillguard.events.readers import (
    Chunk,
    ParquetSource,
    ProgressFn,
    iter_csv,
    iter_jsonl,
    parquet_source,
)
from distillguard.events.validate import (
    KIND_RULES,
    dedupe_all_query,
    dedupe_query,
    duplicates_query,
    insert_query,
    jsonl_fast_insert_query,
    new_key_duplicates_query,
    rejects_query,
)
from distillguard.store import Store

__all__ = ["FileReport", "IngestReport", "RejectsFile", "ingest", "ingest_file"]

log = structlog.get_logger(__name__)

# Show a progress bar only when the inputs are big enough for it to be worth watching.
_PROGRESS_MIN_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class FileReport:
    """What happened to one input file.

    ``records`` counts the non-empty records read; each is exactly one of ``accepted`` (now in
    the store), ``rejected`` (in the rejects file, with its reasons) or ``duplicate`` (its key
    was already in the store or earlier in the file).
    """

    path: Path
    kind: str
    format: FileFormat
    records: int
    accepted: int
    rejected: int
    duplicate: int
    seconds: float


@dataclass(frozen=True, slots=True)
class IngestReport:
    """Per-file outcomes of one ingest run, in the order the files were loaded."""

    files: tuple[FileReport, ...]
    rejects_path: Path | None = None
    first_reasons: tuple[str, ...] = field(default=())
    no_text: int = 0
    """Chat and completions events this run accepted without prompt text (kept: the audit
    judges them on metadata)."""

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def duplicate(self) -> int:
        return sum(f.duplicate for f in self.files)


class RejectsFile:
    """The rejects file. Each input file's rejects go to a side file first and are appended
    only when that file commits, so a rolled-back file leaves no rejects behind."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.reasons: list[str] = []
        if path is not None:
            # Rewritten by each run, and only created once there is something to say.
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
        self._pending: IO[bytes] | None = None

    def begin(self) -> None:
        if self.path is not None:
            self._pending = tempfile.TemporaryFile(dir=self.path.parent)

    def add(self, source: Path, where: str, src_no: int, problems: list[Any], record: Any) -> None:
        if len(self.reasons) < 5:
            first = problems[0]
            self.reasons.append(f"{source}:{src_no}: {first['field']}: {first['reason']}")
        if self._pending is None:
            return
        entry = {
            "source": str(source),
            where: src_no,
            "field": problems[0]["field"],
            "reason": problems[0]["reason"],
            "problems": problems,
            "record": record,
        }
        self._pending.write(orjson.dumps(entry, default=str) + b"\n")

    def commit(self) -> None:
        if self._pending is None or self.path is None:
            return
        if self._pending.tell() == 0:
            self.discard()
            return
        self._pending.seek(0)
        with self.path.open("ab") as out:
            while block := self._pending.read(1 << 20):
                out.write(block)
        self.discard()

    def discard(self) -> None:
        if self._pending is not None:
            self._pending.close()
            self._pending = None


def _sniff_format(path: Path, fmt: FileFormat) -> FileFormat:
    """A ``.json``/``.jsonl`` file that holds an OTLP trace export is read by the adapter."""
    if fmt is not FileFormat.JSONL:
        return fmt
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return fmt  # the reader raises the proper error
    return FileFormat.OTEL_GENAI if looks_like_otlp(head) else fmt


def _chunks(
    path: Path,
    kind: str,
    fmt: FileFormat,
    progress: ProgressFn | None,
    account_attributes: Sequence[str],
) -> Iterator[Chunk]:
    rules = KIND_RULES[kind]
    if fmt in (FileFormat.JSONL, FileFormat.JSONL_GZ):
        return iter_jsonl(path, gzipped=fmt is FileFormat.JSONL_GZ, progress=progress)
    if fmt is FileFormat.CSV:
        return iter_csv(path, columns=rules.fields, required=rules.required, progress=progress)
    if kind != "events":
        raise InputFileError(path, "the otel-genai format holds events, not " + kind)
    return iter_otel_genai(path, account_attributes=account_attributes, progress=progress)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None and k not in ("src_no", "_problem")}


def _chunk_records(chunk: Chunk, from_lines: bool, src_nos: list[int]) -> dict[int, Any]:
    """The raw records of rejected rows, for the rejects file."""
    if from_lines:
        out: dict[int, Any] = {}
        lines = chunk.table.column("line")
        for src_no in src_nos:
            line = lines[src_no - chunk.first_src_no].as_py().strip()
            try:
                out[src_no] = orjson.loads(line)
            except orjson.JSONDecodeError:
                out[src_no] = line
        return out
    # Adapters skip source rows, so find rows by number rather than by position.
    wanted = chunk.table.filter(pc.is_in(chunk.table.column("src_no"), pa.array(src_nos)))
    return {row["src_no"]: _clean(row) for row in wanted.to_pylist()}


def _parquet_records(
    con: duckdb.DuckDBPyConnection, source: ParquetSource, src_nos: list[int]
) -> dict[int, Any]:
    con.register("_dg_wanted", pa.table({"src_no": pa.array(src_nos, pa.int64())}))
    rows = (
        con.sql(f"SELECT * FROM {source.sql} WHERE src_no IN (SELECT src_no FROM _dg_wanted)")
        .to_arrow_table()
        .to_pylist()
    )
    con.unregister("_dg_wanted")
    return {row["src_no"]: _clean(row) for row in rows}


def _ingest_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, kind: str, sink: RejectsFile
) -> tuple[int, int, int]:
    rules = KIND_RULES[kind]
    source = parquet_source(path, columns=rules.fields, required=rules.required)
    try:
        inserted, bad = _load(
            con,
            kind,
            source.sql,
            source.num_rows,
            lines=False,
            schema=source.schema,
            rec_error=None,
        )
        raw = _parquet_records(con, source, [b[0] for b in bad]) if bad else {}
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        raise InputFileError(
            path, f"corrupt Parquet data ({_first_line(exc)}); re-export it"
        ) from None
    for src_no, problems in bad:
        sink.add(path, "row", src_no, problems, raw.get(src_no))
    return source.num_rows, inserted, len(bad)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def ingest_file(
    store: Store,
    path: Path,
    kind: str,
    *,
    format: str | FileFormat | None = None,
    rejects: RejectsFile | None = None,
    progress: ProgressFn | None = None,
    account_attributes: Sequence[str] = DEFAULT_ACCOUNT_ATTRIBUTES,
) -> FileReport:
    """Load one file of ``kind`` (events, accounts, labels) in one transaction."""
    path = Path(path)
    if kind not in KIND_RULES:
        raise SchemaError(f"unknown record kind {kind!r}; use events, accounts or labels")
    fmt = _sniff_format(path, format_for(path, format))
    from_lines = fmt in (FileFormat.JSONL, FileFormat.JSONL_GZ)
    where = "line" if from_lines else ("span" if fmt is FileFormat.OTEL_GENAI else "row")
    sink = rejects or RejectsFile(None)
    records = accepted = rejected = 0
    started = time.perf_counter()
    if from_lines:
        fast = _try_fast_jsonl(store, path, kind, gzipped=fmt is FileFormat.JSONL_GZ)
        if fast is not None:
            records, accepted = fast
            if progress:
                progress(path.stat().st_size)
            return _report(path, kind, fmt, records, accepted, 0, started)
    sink.begin()
    try:
        with store.transaction() as con:
            last_rowid = _last_rowid(con, kind)
            if fmt is FileFormat.PARQUET:
                records, accepted, rejected = _ingest_parquet(con, path, kind, sink)
                if progress:
                    progress(path.stat().st_size)
            else:
                chunks = _chunks(path, kind, fmt, progress, account_attributes)
                for i, chunk in enumerate(chunks):
                    n, bad, inserted = _load_chunk(con, kind, chunk, from_lines)
                    if i == 0 and from_lines and n > 0 and _all_malformed(bad, n):
                        raise InputFileError(
                            path,
                            "not JSON Lines: no line at the start of the file parses as JSON; "
                            "check the file and its format",
                        )
                    raw = _chunk_records(chunk, from_lines, [b[0] for b in bad]) if bad else {}
                    for src_no, problems in bad:
                        sink.add(path, where, src_no, problems, raw.get(src_no))
                    records += n
                    accepted += inserted
                    rejected += len(bad)
            accepted -= _dedupe(con, kind, last_rowid)
    except BaseException:
        sink.discard()
        raise
    sink.commit()
    return _report(path, kind, fmt, records, accepted, rejected, started)


def _report(
    path: Path,
    kind: str,
    fmt: FileFormat,
    records: int,
    accepted: int,
    rejected: int,
    started: float,
) -> FileReport:
    report = FileReport(
        path=path,
        kind=kind,
        format=fmt,
        records=records,
        accepted=accepted,
        rejected=rejected,
        duplicate=records - accepted - rejected,
        seconds=time.perf_counter() - started,
    )
    log.info(
        "ingest.file",
        path=str(path),
        kind=kind,
        format=str(fmt),
        records=records,
        accepted=accepted,
        rejected=rejected,
        duplicate=report.duplicate,
        seconds=round(report.seconds, 3),
    )
    return report


def _try_fast_jsonl(
    store: Store, path: Path, kind: str, *, gzipped: bool
) -> tuple[int, int] | None:
    """Load a clean JSON Lines file in one bulk query: (records, accepted), or ``None`` (with
    the store untouched) when any record needs the line-by-line path to be told apart."""
    try:
        with store.transaction() as con:
            last_rowid = _last_rowid(con, kind)
            query = jsonl_fast_insert_query(kind, str(path), gzipped=gzipped)
            records = int(con.execute(query).fetchall()[0][0])
            removed = _dedupe_all(con, kind, last_rowid)
    except duckdb.Error as exc:
        # Expected for files with bad records, and for unreadable ones: the careful path
        # finds the bad records, or raises the proper error naming the file.
        log.debug("ingest.careful_path", path=str(path), cause=_first_line(exc)[:200])
        return None
    return records, records - removed


def _last_rowid(con: duckdb.DuckDBPyConnection, kind: str) -> int:
    table = KIND_RULES[kind].table
    return int(con.execute(f"SELECT coalesce(max(rowid), -1) FROM {table}").fetchall()[0][0])


def _dedupe_all(con: duckdb.DuckDBPyConnection, kind: str, last_rowid: int) -> int:
    """Remove rows added after ``last_rowid`` whose key was stored before or repeats among
    them; returns how many were removed."""
    repeated = int(con.execute(duplicates_query(kind, last_rowid)).fetchall()[0][0])
    known = (
        int(con.execute(new_key_duplicates_query(kind, last_rowid)).fetchall()[0][0])
        if last_rowid >= 0
        else 0
    )
    if not (repeated or known):
        return 0
    return int(con.execute(dedupe_all_query(kind, last_rowid)).fetchall()[0][0])


Bad = list[tuple[int, list[Any]]]


def _load(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    source: str,
    records: int,
    *,
    lines: bool,
    schema: pa.Schema | None,
    rec_error: str | None,
) -> tuple[int, Bad]:
    """Insert the good rows of ``source`` (``records`` rows) and, only when the insert took
    fewer than that, find the bad ones: (inserted, rejected rows with their problems)."""
    insert = insert_query(kind, source, lines=lines, schema=schema, rec_error=rec_error)
    inserted = int(con.execute(insert).fetchall()[0][0])
    if inserted == records:
        return inserted, []
    rejects = rejects_query(kind, source, lines=lines, schema=schema, rec_error=rec_error)
    bad = con.execute(rejects).fetchall()
    return inserted, [(int(src_no), list(problems)) for src_no, problems in bad]


def _load_chunk(
    con: duckdb.DuckDBPyConnection, kind: str, chunk: Chunk, from_lines: bool
) -> tuple[int, Bad, int]:
    """Validate and insert one chunk: (records, rejected rows with problems, inserted)."""
    table = chunk.table
    if from_lines:
        records = table.num_rows - int(pc.sum(table.column("blank")).as_py() or 0)
    else:
        records = table.num_rows
    con.register("_dg_chunk", table)
    inserted, bad = _load(
        con,
        kind,
        "_dg_chunk",
        records,
        lines=from_lines,
        schema=None if from_lines else table.schema,
        rec_error="_problem" if "_problem" in table.column_names else None,
    )
    # Registering again replaces the view, so a failed chunk leaves nothing behind.
    con.unregister("_dg_chunk")
    return records, bad, inserted


def _dedupe(con: duckdb.DuckDBPyConnection, kind: str, last_rowid: int) -> int:
    """Remove the later copies of keys this file repeated; returns how many were removed."""
    repeated = int(con.execute(duplicates_query(kind, last_rowid)).fetchall()[0][0])
    if repeated:
        con.execute(dedupe_query(kind, last_rowid)).fetchall()
    return repeated


def _all_malformed(bad: Bad, n: int) -> bool:
    unreadable = ("malformed JSON", "not valid UTF-8 text")
    return len(bad) == n and all(p[0]["reason"] in unreadable for _, p in bad)


def _progress_bar(total: int) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def ingest(
    store: Store,
    events: Sequence[Path],
    accounts: Sequence[Path] = (),
    labels: Sequence[Path] = (),
    rejects: Path | None = None,
    progress: bool = False,
    *,
    format: str | FileFormat | None = None,
    account_attributes: Sequence[str] = DEFAULT_ACCOUNT_ATTRIBUTES,
) -> IngestReport:
    """Load accounts, labels and events files into ``store``, one transaction per file.

    ``rejects`` is the JSONL file for rejected records (rewritten by each run); without it
    rejects are only counted. ``format`` overrides the suffix for the events files (e.g.
    ``otel-genai``). ``progress`` shows a bar on stderr when the inputs total more than a few
    megabytes. Raises :class:`InputFileError` or :class:`SchemaError` for a file that cannot
    be read at all; the files loaded before it stay loaded.
    """
    jobs: list[tuple[Path, str, str | FileFormat | None]] = [
        *((Path(p), "accounts", None) for p in accounts),
        *((Path(p), "labels", None) for p in labels),
        *((Path(p), "events", format) for p in events),
    ]
    for path, _kind, _fmt in jobs:
        if not path.exists():
            raise InputFileError(path, "no such file")
    sink = RejectsFile(Path(rejects) if rejects is not None else None)
    total = sum(p.stat().st_size for p, _, _ in jobs)
    no_text_before = _no_text_events(store) if events else 0
    reports: list[FileReport] = []
    bar = _progress_bar(total) if progress and total >= _PROGRESS_MIN_BYTES else None
    if bar is None:
        for path, kind, fmt in jobs:
            reports.append(
                ingest_file(
                    store,
                    path,
                    kind,
                    format=fmt,
                    rejects=sink,
                    account_attributes=account_attributes,
                )
            )
    else:
        with bar:
            task = bar.add_task("ingest", total=total)
            advance: Callable[[int], None] = lambda n: bar.advance(task, n)  # noqa: E731
            for path, kind, fmt in jobs:
                bar.update(task, description=f"ingest {path.name}")
                before = bar.tasks[0].completed
                reports.append(
                    ingest_file(
                        store,
                        path,
                        kind,
                        format=fmt,
                        rejects=sink,
                        progress=advance,
                        account_attributes=account_attributes,
                    )
                )
                bar.update(task, completed=before + path.stat().st_size)
    return IngestReport(
        files=tuple(reports),
        rejects_path=sink.path if sink.path is not None and sink.path.exists() else None,
        first_reasons=tuple(sink.reasons),
        no_text=_no_text_events(store) - no_text_before if events else 0,
    )


_NO_TEXT_SQL = """
SELECT count(*) FROM events
WHERE (endpoint = 'chat.completions' AND (messages IS NULL OR len(messages) = 0))
   OR (endpoint = 'completions' AND prompt IS NULL)
"""


def _no_text_events(store: Store) -> int:
    """Chat and completions events in the store that carry no prompt text."""
    return int(store.cursor().sql(_NO_TEXT_SQL).fetchall()[0][0])
