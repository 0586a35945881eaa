"""A gzip stream compressed on several threads, with the same bytes whatever the thread count.

``gzip.GzipFile`` deflates on the calling thread, so a writer that also encodes JSON spends
half its time waiting for zlib. Here the uncompressed stream is cut into fixed-size chunks
(the cut points depend only on the bytes written, not on how they were split across
``write`` calls), each chunk is deflated on a worker thread (zlib releases the GIL), and the
results are written in order. As in pigz, every chunk is primed with the last 32 KiB of the
previous one and ends with a sync flush, so the output is one ordinary gzip member, as small
as a serial stream within a fraction of a percent, that any gzip reader accepts.

The header has no file name and a zero timestamp: same bytes in, same bytes out.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from isal import isal_zlib

__all__ = ["ParallelGzipWriter"]

_Bytes = bytes | bytearray | memoryview

_WINDOW = 32 * 1024  # deflate's back-reference window: a chunk only ever needs this much context
_EMPTY_FINAL_BLOCK = b"\x03\x00"  # a final, empty fixed-Huffman block: ends the deflate stream
# ID1 ID2, deflate, no flags, zero mtime, no extra-flags hint, OS "unknown" (as GzipFile writes).
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def _deflate_chunk(data: _Bytes, context: bytes, level: int) -> bytes:
    """Raw deflate of ``data`` primed with ``context``, ending on a byte boundary (sync flush)."""
    c = isal_zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0, context)
    return c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)


class ParallelGzipWriter:
    """Writes one gzip member to ``raw`` (which it closes), deflating chunks on worker threads.

    ``chunk_bytes`` fixes the output (with ``level``); ``workers`` only changes the speed. At
    most ``2 * workers`` chunks are in flight, so memory stays at a few chunks.
    :meth:`flush` ends the current chunk early, which changes the framing (not the content):
    a deterministic file comes from a writer that is only ever closed.
    """

    def __init__(
        self,
        raw: BinaryIO,
        *,
        level: int,
        chunk_bytes: int = 1 << 20,
        workers: int | None = None,
    ) -> None:
        if chunk_bytes < _WINDOW:
            raise ValueError(f"chunk_bytes must be at least {_WINDOW}, got {chunk_bytes}")
        self._raw = raw
        self._level = level
        self._chunk_bytes = chunk_bytes
        n_workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=max(1, n_workers), thread_name_prefix="gzip")
        self._max_in_flight = 2 * max(1, n_workers)
        self._in_flight: deque[Future[bytes]] = deque()
        self._pending = bytearray()
        self._context = b""
        self._crc = 0
        self._size = 0
        self._closed = False
        self._raw.write(_HEADER)

    def write(self, data: _Bytes) -> int:
        """Queue ``data`` for compression; returns its length in bytes."""
        if self._closed:
            raise ValueError("write to a closed gzip stream")
        view = memoryview(data).cast("B")
        n = len(view)
        self._crc = zlib.crc32(view, self._crc)
        self._size += n
        if self._pending:
            take = self._chunk_bytes - len(self._pending)
            self._pending += view[:take]
            view = view[take:]
            if len(self._pending) < self._chunk_bytes:
                return n
            self._submit(bytes(self._pending))
            self._pending = bytearray()
        while len(view) >= self._chunk_bytes:
            # A slice of the caller's buffer, not a copy: the future keeps it alive.
            self._submit(view[: self._chunk_bytes])
            view = view[self._chunk_bytes :]
        self._pending += view
        return n

    def flush(self) -> None:
        """Compress and write everything so far (ends the current chunk early)."""
        if self._closed:
            return
        if self._pending:
            self._submit(bytes(self._pending))
            self._pending = bytearray()
        self._drain(0)
        self._raw.flush()

    def close(self) -> None:
        """Finish the stream (final block and trailer), close ``raw`` and stop the workers."""
        if self._closed:
            return
        try:
            self.flush()
            self._raw.write(_EMPTY_FINAL_BLOCK)
            self._raw.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        finally:
            self._closed = True
            for future in self._in_flight:
                future.cancel()
            self._pool.shutdown(wait=True)
            self._raw.close()

    def _submit(self, chunk: _Bytes) -> None:
        future = self._pool.submit(_deflate_chunk, chunk, self._context, self._level)
        self._in_flight.append(future)
        tail = memoryview(chunk)[-_WINDOW:]
        self._context = bytes(tail)
        self._drain(self._max_in_flight)

    def _drain(self, keep: int) -> None:
        """Write finished chunks, in order, until at most ``keep`` are in flight."""
        while len(self._in_flight) > keep:
            self._raw.write(self._in_flight.popleft().result())
