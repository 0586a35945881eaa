"""Identifier and timestamp rendering shared by every actor, benign or malicious.

One generator for every id kind is the point: an id's shape must never tell a campaign account
from a customer's. Everything here is vectorised (bytes → hex → one Arrow buffer).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa

__all__ = ["hex_ids", "iso_ms", "random_ids", "to_epoch_ms"]

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_ids(raw: np.ndarray, prefix: str) -> pa.StringArray:
    """``prefix`` + lowercase hex of each row of ``raw`` (uint8, shape (n, k))."""
    n, k = raw.shape
    pre = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = len(pre) + 2 * k
    out = np.empty((n, width), dtype=np.uint8)
    out[:, : len(pre)] = pre
    out[:, len(pre) :: 2] = _HEX[raw >> 4]
    out[:, len(pre) + 1 :: 2] = _HEX[raw & 15]
    offsets = np.arange(n + 1, dtype=np.int32) * width
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(out.tobytes())
    )


def random_ids(rng: np.random.Generator, n: int, prefix: str, nbytes: int = 12) -> pa.StringArray:
    """``n`` random ids such as ``req_3f9a…``; 96 random bits make collisions negligible."""
    return hex_ids(rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8), prefix)


def to_epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def iso_ms(epoch_ms: np.ndarray) -> pa.StringArray:
    """RFC 3339 UTC strings with milliseconds and ``Z``, e.g. ``2026-11-23T08:00:00.123Z``."""
    text = np.datetime_as_string(
        np.asarray(epoch_ms, dtype=np.int64).astype("datetime64[ms]"), unit="ms", timezone="UTC"
    )
    return pa.array(text, type=pa.string())
