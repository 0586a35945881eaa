"""ParallelGzipWriter: one valid gzip member, the same bytes however it is fed or threaded."""

from __future__ import annotations

import gzip
import io
import random
import shutil
import subprocess
import zlib

import pytest

from distillguard.events.gzip_stream import ParallelGzipWriter


class _Sink(io.BytesIO):
    """A BytesIO whose value survives close()."""

    def close(self) -> None:
        self.final = self.getvalue()
        super().close()


def _data(n_parts: int = 60_000) -> bytes:
    rng = random.Random(5)
    words = [b'{"role":"user"}', b"hello world ", b"\n", b"\xc3\xa9t\xc3\xa9 ", b"42,"]
    return b"".join(rng.choice(words) + bytes([rng.randrange(256)]) for _ in range(n_parts))


def _gzip(data: bytes, pieces: list[int], *, workers: int, chunk_bytes: int = 1 << 16) -> bytes:
    sink = _Sink()
    stream = ParallelGzipWriter(sink, level=2, chunk_bytes=chunk_bytes, workers=workers)
    at = 0
    for size in pieces:
        stream.write(memoryview(data)[at : at + size])
        at += size
    stream.write(data[at:])
    stream.close()
    return sink.final


def test_round_trips_through_gzip_and_zlib():
    data = _data()
    out = _gzip(data, [], workers=2)
    assert gzip.decompress(out) == data
    d = zlib.decompressobj(31)
    assert d.decompress(out) == data
    assert d.eof and not d.unused_data  # one member, nothing after it


def test_bytes_do_not_depend_on_workers_or_write_sizes():
    data = _data()
    rng = random.Random(1)
    pieces = [rng.randrange(1, 40_000) for _ in range(20)]
    reference = _gzip(data, [], workers=1)
    assert _gzip(data, pieces, workers=1) == reference
    assert _gzip(data, pieces, workers=3) == reference
    assert _gzip(data, [], workers=2, chunk_bytes=1 << 17) != reference  # chunking is the key


def test_header_has_no_name_and_zero_mtime():
    out = _gzip(b"abc\n", [], workers=1)
    assert out[:4] == b"\x1f\x8b\x08\x00"  # deflate, no FNAME/FEXTRA/FCOMMENT flags
    assert out[4:8] == b"\x00\x00\x00\x00"


def test_flush_changes_framing_not_content():
    data = _data(5_000)
    sink = _Sink()
    stream = ParallelGzipWriter(sink, level=2, workers=2)
    stream.write(data[:1000])
    stream.flush()
    flushed_so_far = sink.getvalue()
    d = zlib.decompressobj(31)
    assert d.decompress(flushed_so_far) == data[:1000]  # readable up to the flush
    stream.write(data[1000:])
    stream.close()
    assert gzip.decompress(sink.final) == data


def test_empty_stream_is_valid_gzip():
    assert gzip.decompress(_gzip(b"", [], workers=1)) == b""


def test_gzip_tool_reads_it(tmp_path):
    if shutil.which("gzip") is None:
        pytest.skip("no gzip binary")
    data = _data()
    path = tmp_path / "x.gz"
    path.write_bytes(_gzip(data, [], workers=2))
    assert subprocess.run(["gzip", "-dc", str(path)], capture_output=True, check=True).stdout == (
        data
    )


def test_refuses_chunks_smaller_than_the_window_and_writes_after_close():
    with pytest.raises(ValueError, match="chunk_bytes"):
        ParallelGzipWriter(_Sink(), level=2, chunk_bytes=1024)
    stream = ParallelGzipWriter(_Sink(), level=2)
    stream.close()
    with pytest.raises(ValueError, match="closed"):
        stream.write(b"x")
