"""Precomputed response bodies and headers in the OpenAI error format.

OpenAI-compatible SDKs read ``{"error": {"message", "type", "param", "code"}}``; every refusal
of the gateway uses it, so a client sees one shape whether the gateway or the upstream said no.
"""

from __future__ import annotations

import orjson

__all__ = ["JSON_HEADERS", "SSE_HEADERS", "error_body"]

JSON_HEADERS: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
SSE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
]


def error_body(message: str, type_: str, code: str, param: str | None = None) -> bytes:
    return orjson.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )
