"""The gateway's event log: one spec event per request, written in batches by a thread.

The request path encodes the event as one JSON line (orjson, a few microseconds, after the
response has gone out) and appends it to a deque (no lock, no syscall); a writer thread wakes
every ``flush_s`` seconds, or as soon as ``batch_size`` events wait, and appends the batch to the
file. The thread runs almost no Python: compressing, writing and syncing release the GIL, so the
event loop rarely has to wait for the GIL while a batch is written (a thread holding it can keep
a request waiting for up to the switch interval, or longer when that thread is descheduled).
``.jsonl.gz`` files are written as one gzip member per batch, so whatever was written before a
crash is a readable gzip stream (readers treat concatenated members as one file).
:meth:`EventSink.close` drains everything that was submitted: the gateway calls it on shutdown,
which uvicorn runs on SIGTERM and SIGINT.

Why not ``events.writers``: those build files from Arrow batches with the spec's columns only;
the gateway also records ``action_reasons`` (a spec extension: a list of strings next to
``action``), and must leave a valid file behind after every batch rather than at close.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections import deque
from pathlib import Path
from typing import Any

import orjson
import structlog

__all__ = ["EVENT_FIELDS", "EventSink", "resolve_event_path"]

log = structlog.get_logger(__name__)

# Spec order, then the gateway's extension fields.
EVENT_FIELDS = (
    "request_id",
    "ts",
    "account_id",
    "api_key_id",
    "org_id",
    "endpoint",
    "model",
    "client_ip",
    "asn",
    "country",
    "user_agent",
    "client_fingerprint",
    "messages",
    "prompt",
    "features",
    "params",
    "response_text",
    "response_probs",
    "prompt_tokens",
    "completion_tokens",
    "status",
    "latency_ms",
    "action",
    "action_reasons",
)


def _gzip_member(data: bytes) -> bytes:
    # Level 1: a fraction of level 6's CPU for somewhat larger files (the writer shares two
    # cores with the proxy); zlib releases the GIL while it compresses.
    return zlib.compress(data, 1, 31)


def resolve_event_path(path: Path) -> Path:
    """Replace ``{pid}`` so that several gateway processes on one host write their own files."""
    return Path(str(path).replace("{pid}", str(os.getpid())))


class EventSink:
    """Batched, off-loop writer of event dicts (keys in :data:`EVENT_FIELDS` order, ``None``
    values dropped). Thread-safe ``submit``; ``close`` flushes and joins."""

    def __init__(self, path: Path, *, batch_size: int = 512, flush_s: float = 0.5) -> None:
        self.path = path
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.gzip = path.name.endswith(".gz")
        self.written = 0
        self.batches = 0
        self.errors = 0
        self._queue: deque[bytes] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="dg-event-writer", daemon=True)
        self._thread.start()
        log.info("gateway.events.open", path=str(self.path))

    def submit(self, event: dict[str, Any]) -> None:
        self._queue.append(orjson.dumps({k: v for k, v in event.items() if v is not None}))
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write everything queued so far (called by the thread, and by ``close``)."""
        with self._lock:
            q = self._queue
            while q:
                # popleft is atomic against the loop's append; the events are bytes already.
                n = min(len(q), 4 * self.batch_size)
                batch = [q.popleft() for _ in range(n)]
                batch.append(b"")
                data = b"\n".join(batch)
                self._write(data if not self.gzip else _gzip_member(data))
                self.written += n
                self.batches += 1

    def _write(self, data: bytes) -> None:
        # Retry on a full disk or a vanished directory rather than drop the batch: losing
        # events is worse than a slow writer, and the queue keeps the request path unaffected.
        while True:
            try:
                with open(self.path, "ab") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                return
            except OSError as exc:
                self.errors += 1
                log.error(
                    "gateway.events.write_failed",
                    path=str(self.path),
                    error=exc.strerror or str(exc),
                    retry_in_s=1.0,
                )
                if self._stop and self.errors > 30:
                    log.error("gateway.events.gave_up", path=str(self.path), lost=len(data))
                    return
                time.sleep(1.0)
                self.path.parent.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
        log.info("gateway.events.closed", path=str(self.path), written=self.written)
