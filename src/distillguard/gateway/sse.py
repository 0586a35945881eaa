"""Server-sent events from an OpenAI-compatible stream: split, read, and (when degrading)
rewrite, chunk by chunk, without holding the stream back.

Only complete events (ended by a blank line) are handed out; a partial event waits for the next
chunk. ``data: [DONE]`` and non-JSON payloads are passed through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["StreamTally"]


class StreamTally:
    """Follows a chat/completions stream: the first choice's text and the usage, if sent.

    With ``rewrite`` set, :meth:`feed` returns the bytes to send instead of the input: every
    JSON event passed through ``rewrite`` (used to strip reasoning and log-probabilities).
    """

    __slots__ = ("_buf", "completion_tokens", "parts", "prompt_tokens", "rewrite")

    def __init__(self, rewrite: Callable[[Any], Any] | None = None) -> None:
        self._buf = b""
        self.parts: list[str] = []
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.rewrite = rewrite

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def feed(self, chunk: bytes) -> bytes:
        buf = self._buf + chunk
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        *events, self._buf = buf.split(b"\n\n")
        if self.rewrite is None:
            for event in events:
                self._read(event)
            return chunk
        out: list[bytes] = []
        for event in events:
            out.append(self._read(event) + b"\n\n")
        return b"".join(out)

    def flush(self) -> bytes:
        """Whatever trailing bytes never formed a complete event (only sent when rewriting)."""
        rest, self._buf = self._buf, b""
        return rest if self.rewrite is not None else b""

    def _read(self, event: bytes) -> bytes:
        lines = event.split(b"\n")
        for i, line in enumerate(lines):
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]" or not payload.startswith(b"{"):
                continue
            try:
                doc = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            self._account(doc)
            if self.rewrite is not None:
                lines[i] = b"data: " + orjson.dumps(self.rewrite(doc))
        return b"\n".join(lines)

    def _account(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            return
        choices = doc.get("choices")
        if isinstance(choices, list) and choices:
            first = choices[0]
            if isinstance(first, dict) and first.get("index", 0) == 0:
                delta = first.get("delta")
                piece = delta.get("content") if isinstance(delta, dict) else first.get("text")
                if isinstance(piece, str):
                    self.parts.append(piece)
        usage = doc.get("usage")
        if isinstance(usage, dict):
            pt, ct = usage.get("prompt_tokens"), usage.get("completion_tokens")
            if isinstance(pt, int):
                self.prompt_tokens = pt
            if isinstance(ct, int):
                self.completion_tokens = ct
