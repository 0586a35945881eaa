"""Streaming writers of the event-log files from Arrow batches.

Every writer produces spec-valid files (``shared/spec/api-event-log.md``) and the same bytes for
the same input, so that simulator runs and exports can be compared with ``cmp``:

- JSON Lines: one object per line, keys in spec order, absent optional fields left out (not
  ``null``), ``params`` as a JSON object. The lines are built by DuckDB in one vectorised query
  and written straight from the Arrow buffer: no Python object per row. ``.jsonl.gz`` is one
  gzip member with a zero timestamp and no file name in its header, deflated (ISA-L) on worker
  threads in fixed-size chunks (:mod:`distillguard.events.gzip_stream`) while the next batch
  is encoded.
- Parquet: the Arrow schemas of :mod:`distillguard.events.schema` (``params`` a JSON string),
  zstd-compressed; one row group per written batch.
- CSV: a header in spec order, nested fields (``messages``, ``features``, ``response_probs``,
  ``reasons``) and ``params`` as JSON strings, absent values as empty fields.

Batches may hold the columns in any order, leave optional columns out, and give timestamps as
Arrow timestamps (written as RFC 3339 UTC with milliseconds) or as RFC 3339 strings. A column
the spec does not know is an error, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import structlog

from distillguard.errors import SchemaError
from distillguard.events.formats import FileFormat, Kind, format_for
from distillguard.events.gzip_stream import ParallelGzipWriter
from distillguard.events.schema import (
    ACCOUNT_SCHEMA,
    EVENT_SCHEMA,
    LABEL_SCHEMA,
    VERDICT_SCHEMA,
)

__all__ = ["SCHEMAS", "TableWriter", "open_writer", "write_table"]

log = structlog.get_logger(__name__)

SCHEMAS: Mapping[str, pa.Schema] = {
    "events": EVENT_SCHEMA,
    "accounts": ACCOUNT_SCHEMA,
    "labels": LABEL_SCHEMA,
    "verdicts": VERDICT_SCHEMA,
}

# Fields the spec types as "X or null": the key is always written, with null when absent.
_ALWAYS_PRESENT: Mapping[str, frozenset[str]] = {
    "events": frozenset(),
    "accounts": frozenset(),
    "labels": frozenset({"campaign_id"}),
    "verdicts": frozenset({"cluster_id", "first_flagged_at", "reasons"}),
}
_TIMESTAMP_FIELDS = frozenset({"ts", "created_at", "first_flagged_at"})
_JSON_OBJECT_FIELDS = frozenset({"params"})
_GZIP_LEVEL = 2  # ISA-L level 2: ~500 MB/s a core, smaller than zlib level 3


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_list(t):
        return f"{_duck_type(t.value_type)}[]"
    if pa.types.is_struct(t):
        inner = ", ".join(f"{f.name} {_duck_type(f.type)}" for f in t)
        return f"STRUCT({inner})"
    raise TypeError(f"no DuckDB type for {t}")  # only reached if schema.py grows a new type


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _normalise_select(kind: str, source: pa.Schema) -> str:
    """SELECT list turning a batch of ``source`` schema into the kind's canonical columns."""
    target = SCHEMAS[kind]
    unknown = [n for n in source.names if target.get_field_index(n) < 0]
    if unknown:
        raise SchemaError(
            f"{kind} batch has columns the spec does not define: {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(target.names)}"
        )
    exprs = []
    for field in target:
        col = _quote(field.name)
        duck = _duck_type(field.type)
        if source.get_field_index(field.name) < 0:
            expr = f"CAST(NULL AS {duck})"
        else:
            src = source.field(field.name).type
            if field.name in _TIMESTAMP_FIELDS and pa.types.is_timestamp(src):
                utc = f"timezone('UTC', {col})" if src.tz is not None else col
                expr = f"strftime({utc}, '%Y-%m-%dT%H:%M:%S.%gZ')"
            elif field.name in _JSON_OBJECT_FIELDS and not (
                pa.types.is_string(src) or pa.types.is_large_string(src)
            ):
                expr = f"CAST(to_json({col}) AS VARCHAR)"
            else:
                expr = f"CAST({col} AS {duck})"
        exprs.append(f"{expr} AS {col}")
    return ", ".join(exprs)


def _jsonl_select(kind: str) -> str:
    """SELECT building one JSON line (newline included) per canonical row."""
    always = _ALWAYS_PRESENT[kind]
    parts = []
    for field in SCHEMAS[kind]:
        col = _quote(field.name)
        key = f"'\"{field.name}\":'"
        if field.name in _JSON_OBJECT_FIELDS:
            value = f"CAST(json({col}) AS VARCHAR)"
        elif field.name == "reasons":
            value = f"coalesce(CAST(to_json({col}) AS VARCHAR), '[]')"
        else:
            value = f"CAST(to_json({col}) AS VARCHAR)"
        if pa.types.is_floating(field.type):
            # JSON has no NaN or infinity: such a value is written as absent.
            value = f"CASE WHEN isfinite({col}) THEN {value} END"
        if field.name in always:
            value = f"coalesce({value}, 'null')"
        parts.append(f"{key} || {value}")
    return "SELECT '{' || concat_ws(',', " + ", ".join(parts) + ") || '}' || chr(10) AS line"


def _csv_select(kind: str) -> str:
    """SELECT turning canonical rows into flat CSV columns (nested values as JSON strings)."""
    exprs = []
    for field in SCHEMAS[kind]:
        col = _quote(field.name)
        if pa.types.is_list(field.type) or pa.types.is_struct(field.type):
            exprs.append(f"CAST(to_json({col}) AS VARCHAR) AS {col}")
        elif field.name in _JSON_OBJECT_FIELDS:
            exprs.append(f"CAST(json({col}) AS VARCHAR) AS {col}")
        else:
            exprs.append(col)
    return "SELECT " + ", ".join(exprs)


def _string_buffer(arr: pa.Array) -> memoryview:
    """The bytes of a null-free string array, concatenated, without a Python object per row."""
    buffers = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(buffers[1], dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    return memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])]


class TableWriter:
    """Writes batches of one record kind to one file; use through :func:`open_writer`.

    ``rows_written`` counts the rows so far. :meth:`flush` pushes what was written to the OS
    (a gateway calls it periodically); it changes gzip framing, so deterministic outputs come
    from writers that are only closed, never flushed.
    """

    def __init__(self, path: Path, kind: Kind, fmt: FileFormat) -> None:
        if kind not in SCHEMAS:
            raise SchemaError(f"unknown record kind {kind!r}; use one of {', '.join(SCHEMAS)}")
        if fmt is FileFormat.OTEL_GENAI:
            raise SchemaError(f"{path}: the otel-genai format is read-only")
        self.path = Path(path)
        self.kind = kind
        self.format = fmt
        self.rows_written = 0
        self._schema = SCHEMAS[kind]
        self._con = duckdb.connect(":memory:")
        self._raw: BinaryIO | None = None
        self._text: BinaryIO | ParallelGzipWriter | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._closed = False
        if fmt in (FileFormat.JSONL, FileFormat.JSONL_GZ):
            self._raw = self.path.open("wb")
            self._text = self._raw
            if fmt is FileFormat.JSONL_GZ:
                # Deflated on worker threads while this thread encodes the next batch.
                self._text = ParallelGzipWriter(self._raw, level=_GZIP_LEVEL)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Append ``batch`` (any column order, optional columns may be missing)."""
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        if table.num_rows == 0:
            return
        if self.format in (FileFormat.JSONL, FileFormat.JSONL_GZ):
            self._write_jsonl(table)
        elif self.format is FileFormat.PARQUET:
            self._write_parquet(table)
        else:
            self._write_csv(table)
        self.rows_written += table.num_rows

    def flush(self) -> None:
        """Push buffered rows to the OS (JSONL; Parquet and CSV write per batch already)."""
        if self._text is not None:
            self._text.flush()
        if self._raw is not None and self._raw is not self._text:
            self._raw.flush()

    def close(self) -> None:
        """Finish the file: an empty Parquet or CSV still gets its schema or header."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._text is not None:
                self._text.close()
            if self._raw is not None and self._raw is not self._text:
                self._raw.close()
            if self.format is FileFormat.PARQUET:
                if self._parquet is None:
                    self._parquet = self._open_parquet()
                self._parquet.close()
            if self.format is FileFormat.CSV:
                if self._csv is None:
                    self._csv = self._open_csv(self._csv_schema())
                self._csv.close()
        finally:
            self._con.close()
        log.debug("events.written", path=str(self.path), kind=self.kind, rows=self.rows_written)

    def _query(self, table: pa.Table, sql_tail: str) -> pa.Table:
        """Run ``sql_tail`` (a SELECT over ``canon``) over the normalised ``table``."""
        select = _normalise_select(self.kind, table.schema)
        self._con.register("batch_in", table)
        try:
            return self._con.sql(
                f"WITH canon AS (SELECT {select} FROM batch_in) {sql_tail} FROM canon"
            ).to_arrow_table()
        except duckdb.Error as exc:
            raise SchemaError(
                f"{self.path}: a {self.kind} batch cannot be written ({_first_line(exc)}); "
                "check the column types against events/schema.py and that params holds JSON"
            ) from exc
        finally:
            self._con.unregister("batch_in")

    def _write_jsonl(self, table: pa.Table) -> None:
        if self._text is None:
            raise ValueError(f"{self.path}: writer is closed")
        lines = self._query(table, _jsonl_select(self.kind)).column(0)
        for chunk in lines.chunks:
            if len(chunk):
                self._text.write(_string_buffer(chunk))

    def _canonical(self, table: pa.Table) -> pa.Table:
        if table.schema.equals(self._schema):
            return table
        return self._query(table, "SELECT *").cast(self._schema)

    def _open_parquet(self) -> pq.ParquetWriter:
        return pq.ParquetWriter(self.path, self._schema, compression="zstd")

    def _write_parquet(self, table: pa.Table) -> None:
        if self._parquet is None:
            self._parquet = self._open_parquet()
        self._parquet.write_table(self._canonical(table))

    def _csv_schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(f.name, pa.string())
                if pa.types.is_list(f.type) or pa.types.is_struct(f.type)
                else f
                for f in self._schema
            ]
        )

    def _open_csv(self, schema: pa.Schema) -> pacsv.CSVWriter:
        return pacsv.CSVWriter(str(self.path), schema)

    def _write_csv(self, table: pa.Table) -> None:
        schema = self._csv_schema()
        if self._csv is None:
            self._csv = self._open_csv(schema)
        flat = self._query(table, _csv_select(self.kind)).cast(schema)
        self._csv.write_table(flat)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def open_writer(path: Path, kind: Kind, format: str | None = None) -> TableWriter:
    """Open a streaming writer of ``kind`` records at ``path``; the format comes from the suffix
    (``.jsonl``, ``.jsonl.gz``, ``.parquet``, ``.csv``) unless ``format`` names it."""
    path = Path(path)
    return TableWriter(path, kind, format_for(path, format))


def write_table(
    path: Path, kind: Kind, table: pa.Table | pa.RecordBatch, format: str | None = None
) -> Path:
    """Write all of ``table`` to ``path`` in one go; returns the path."""
    with open_writer(path, kind, format) as writer:
        writer.write(table)
    return Path(path)
