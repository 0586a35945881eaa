"""Streaming readers: each turns one input file into Arrow chunks of bounded size.

No reader builds a Python object per row. A chunk carries the source position of each row
(``src_no``: 1-based line for JSON Lines, 1-based data row for Parquet and CSV) so that a
rejected row can be named in the rejects file.

- JSON Lines (plain or gzip, multi-member gzip included) is decompressed and split on newlines
  here, into a two-column table ``(src_no, line)`` built straight over the decompressed buffer;
  DuckDB parses the JSON. This is how malformed lines keep their line numbers and are rejected
  one by one instead of aborting the file.
- Parquet is read by DuckDB itself (in parallel, only the spec's columns); this module only
  checks the footer and the required columns. CSV is read in batches, every column as text.

A file that cannot be read at all raises :class:`InputFileError` naming it.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from distillguard.errors import InputFileError, SchemaError

__all__ = [
    "Chunk",
    "ParquetSource",
    "ProgressFn",
    "iter_csv",
    "iter_jsonl",
    "parquet_source",
]

ProgressFn = Callable[[int], None]
"""Called with the number of input bytes consumed since the previous call."""

_READ_BYTES = 1 << 20
_OUT_BYTES = 8 << 20
_CHUNK_TEXT_BYTES = 32 << 20


@dataclass(frozen=True, slots=True)
class Chunk:
    """A bounded slice of one input file as Arrow.

    ``table`` has ``src_no`` (int64) and either ``line`` (JSON Lines) or the file's columns.
    """

    table: pa.Table
    first_src_no: int


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputFileError(path, "no such file") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a directory, not a file") from None
    except PermissionError:
        raise InputFileError(path, "permission denied") from None


def _raw_chunks(path: Path, gzipped: bool, progress: ProgressFn | None) -> Iterator[bytes]:
    """Decompressed bytes of the file, in pieces of at most ``_OUT_BYTES``."""
    with _open(path) as f:
        if not gzipped:
            while block := f.read(_OUT_BYTES):
                if progress:
                    progress(len(block))
                yield block
            return
        decomp = zlib.decompressobj(wbits=31)
        in_member = False  # fed data to a member whose end we have not seen yet
        any_input = False
        while block := f.read(_READ_BYTES):
            any_input = True
            if progress:
                progress(len(block))
            data = block
            while data:
                try:
                    out = decomp.decompress(data, _OUT_BYTES)
                except zlib.error:
                    reason = "corrupt gzip data" if in_member else "not a gzip file (bad header)"
                    raise InputFileError(path, f"{reason}; re-export the file") from None
                in_member = not decomp.eof
                if out:
                    yield out
                if decomp.eof:
                    # Concatenated gzip members: start over on what follows this one.
                    data = decomp.unused_data
                    decomp = zlib.decompressobj(wbits=31)
                else:
                    data = decomp.unconsumed_tail
        if not any_input:
            raise InputFileError(path, "empty file, not gzip; re-export the file")
        if in_member:
            raise InputFileError(
                path, "truncated gzip stream (the file ends mid-way); re-copy or re-export it"
            )


def _is_utf8(buf: bytes) -> bool:
    # isascii() is a word-at-a-time scan; decode() only runs for non-ASCII text and is still
    # several times faster than Arrow's own full validation.
    if buf.isascii():
        return True
    try:
        buf.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _lines_table(buf: bytes, first_line: int) -> pa.Table:
    """``(src_no, line, blank, bad_utf8)`` over ``buf``, which ends with a newline.

    The text is not copied. Each line keeps its newline (JSON ignores it); ``blank`` marks
    empty lines. Arrow and DuckDB need valid UTF-8, so a chunk with broken bytes is rebuilt
    (the rare slow path) with those lines repaired and flagged, to be rejected as such.
    """
    arr = np.frombuffer(buf, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    n = len(ends)
    offsets = np.empty(n + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1:] = ends + 1
    lengths = np.diff(offsets)
    blank = (lengths == 1) | ((lengths == 2) & (arr[np.maximum(ends - 1, 0)] == 13))
    lines = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))
    bad_utf8 = np.zeros(n, dtype=bool)
    if not _is_utf8(buf):
        texts = []
        for i in range(n):
            raw = buf[offsets[i] : offsets[i + 1]]
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append(raw.decode("utf-8", errors="replace"))
                bad_utf8[i] = True
        lines = pa.array(texts, pa.string())
    nos = pa.array(np.arange(first_line, first_line + n, dtype=np.int64))
    return pa.table(
        {"src_no": nos, "line": lines, "blank": pa.array(blank), "bad_utf8": pa.array(bad_utf8)}
    )


def _split_lines(path: Path, gzipped: bool, progress: ProgressFn | None) -> Iterator[Chunk]:
    pending: list[bytes] = []
    pending_size = 0
    line_no = 1
    for block in _raw_chunks(path, gzipped, progress):
        pending.append(block)
        pending_size += len(block)
        if pending_size < _CHUNK_TEXT_BYTES:
            continue
        data = b"".join(pending)
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            pending, pending_size = [data], len(data)
            continue
        table = _lines_table(data[:cut], line_no)
        yield Chunk(table, line_no)
        line_no += table.num_rows
        rest = data[cut:]
        pending, pending_size = ([rest], len(rest)) if rest else ([], 0)
    data = b"".join(pending)
    if data:
        if not data.endswith(b"\n"):
            data += b"\n"
        yield Chunk(_lines_table(data, line_no), line_no)


def iter_jsonl(path: Path, *, gzipped: bool, progress: ProgressFn | None = None) -> Iterator[Chunk]:
    """Chunks of ``(src_no, line, blank, bad_utf8)`` from a JSON Lines file.

    Empty lines are kept (and skipped later) so that numbering matches what an editor shows.
    Reading and decompressing run one chunk ahead in a thread (zlib releases the GIL), so
    they overlap with the validation of the previous chunk.
    """
    queue: Queue[Chunk | BaseException | None] = Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in _split_lines(path, gzipped, progress):
                if stop.is_set():
                    return
                queue.put(chunk)
            queue.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            queue.put(exc)

    worker = threading.Thread(target=produce, name=f"read {path.name}", daemon=True)
    worker.start()
    try:
        while True:
            item = queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                queue.get_nowait()
            except Empty:
                worker.join(timeout=0.05)


def _check_columns(path: Path, names: list[str], required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in names]
    if missing:
        shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        raise SchemaError(
            f"{path}: required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} missing (found: {shown or 'none'}); "
            "rename the columns or add an adapter in events/adapters"
        )


def _with_src_no(batch: pa.RecordBatch, first: int) -> pa.Table:
    nos = pa.array(np.arange(first, first + batch.num_rows, dtype=np.int64))
    table = pa.Table.from_batches([batch])
    return table.add_column(0, "src_no", nos)


@dataclass(frozen=True, slots=True)
class ParquetSource:
    """A Parquet file read by DuckDB directly (in parallel, columns pushed down): ``sql`` is a
    subquery with ``src_no`` (1-based row) and the spec's columns present in the file."""

    sql: str
    schema: pa.Schema
    num_rows: int


def parquet_source(
    path: Path, *, columns: tuple[str, ...], required: tuple[str, ...]
) -> ParquetSource:
    """Check the file's footer and required columns, and describe how DuckDB reads it."""
    handle = _open(path)
    with handle:
        try:
            pf = pq.ParquetFile(handle)
            schema = pf.schema_arrow
            num_rows = pf.metadata.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputFileError(
                path, f"not a readable Parquet file ({exc}); re-export it"
            ) from None
    _check_columns(path, schema.names, required)
    wanted = [c for c in columns if c in schema.names]
    quoted = str(path).replace("'", "''")
    cols = ", ".join('"' + c + '"' for c in wanted)
    sql = (
        f"(SELECT file_row_number + 1 AS src_no, {cols} "
        f"FROM read_parquet('{quoted}', file_row_number = true))"
    )
    fields = [pa.field("src_no", pa.int64())] + [schema.field(c) for c in wanted]
    return ParquetSource(sql, pa.schema(fields), num_rows)


def iter_csv(
    path: Path,
    *,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    progress: ProgressFn | None = None,
) -> Iterator[Chunk]:
    """Batches of a CSV file with a header row, every column as text (empty = absent)."""
    handle = _open(path)
    try:
        reader = pacsv.open_csv(
            handle,
            read_options=pacsv.ReadOptions(block_size=16 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=True,
                # An unquoted empty field is absent, a quoted one ("") an empty string.
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        handle.close()
        raise InputFileError(path, f"not a readable CSV file ({exc})") from None
    with handle:
        names = reader.schema.names
        _check_columns(path, names, required)
        wanted = [c for c in columns if c in names]
        first = 1
        last_pos = 0
        try:
            for batch in reader:
                if progress:
                    pos = handle.tell()
                    progress(pos - last_pos)
                    last_pos = pos
                sub = pa.RecordBatch.from_arrays(
                    [batch.column(batch.schema.get_field_index(c)) for c in wanted], names=wanted
                )
                yield Chunk(_with_src_no(sub, first), first)
                first += batch.num_rows
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise InputFileError(path, f"malformed CSV near row {first} ({exc})") from None
