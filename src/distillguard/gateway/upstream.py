"""A lean HTTP/1.1 client for the protected upstream: persistent connections, no per-request
allocation beyond the request bytes.

Why not httpx: on two cores its per-request cost (request/response objects, header models,
anyio streams) is several hundred microseconds, a large share of the gateway's one-millisecond
budget. This client speaks only what an OpenAI-compatible upstream needs: one request per
connection at a time, ``Content-Length`` bodies out, ``Content-Length`` or chunked bodies back
(server-sent events arrive chunked), parsed by httptools (the C parser uvicorn uses).

Timeouts: ``connect_timeout_s`` for opening a connection, ``read_timeout_s`` for every wait on
the upstream (until the headers, and between body chunks). A connection the upstream closed while
idle is detected on reuse and the request is retried once on a fresh connection, which is safe
because nothing of the response has been seen.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

from distillguard.errors import ConfigError, UpstreamError, UpstreamTimeout

__all__ = ["UpstreamPool", "UpstreamResponse"]


class _Conn(asyncio.Protocol):
    """One keep-alive connection; feeds the response parser and wakes the waiting request."""

    __slots__ = (
        "_waiter",
        "chunks",
        "closed",
        "counted",
        "done",
        "error",
        "headers",
        "headers_done",
        "keep_alive",
        "loop",
        "parser",
        "status",
        "transport",
        "used",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.counted = True
        self.used = False
        self._waiter: asyncio.Future[None] | None = None
        self.reset()

    def reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.chunks: deque[bytes] = deque()
        self.done = False
        self.keep_alive = True
        self.error: UpstreamError | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = UpstreamError(f"upstream sent a malformed HTTP response ({exc})")
            self.close()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.done and self.error is None:
            self.error = UpstreamError("upstream closed the connection before the response ended")
        self._wake()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(bytes(body))

    def on_message_complete(self) -> None:
        self.done = True

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def wait(self, timeout_s: float) -> None:
        """Wait for the next parser progress, or fail the connection after ``timeout_s``."""
        w = self.loop.create_future()
        self._waiter = w
        timer = self.loop.call_later(timeout_s, _expire, w)
        try:
            await w
        finally:
            timer.cancel()
            self._waiter = None
        if self.error is not None:
            raise self.error


def _expire(w: asyncio.Future[None]) -> None:
    if not w.done():
        w.set_exception(UpstreamTimeout("upstream did not answer within its read timeout"))


@dataclass(slots=True)
class UpstreamResponse:
    """Status and headers (lower-case names) of an upstream answer whose body is read with
    :meth:`read` (whole) or :meth:`iter_chunks` (as it arrives); either releases the connection
    back to the pool at the end. :meth:`aclose` drops a half-read body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    _pool: UpstreamPool
    _conn: _Conn

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    async def read(self) -> bytes:
        conn = self._conn
        try:
            while not conn.done:
                await conn.wait(self._pool.read_timeout_s)
        except BaseException:
            self._pool.discard(conn)
            raise
        body = b"".join(conn.chunks)
        conn.chunks.clear()
        self._pool.release(conn)
        return body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        try:
            while True:
                while conn.chunks:
                    yield conn.chunks.popleft()
                if conn.done:
                    break
                await conn.wait(self._pool.read_timeout_s)
        except BaseException:
            self._pool.discard(conn)
            raise
        self._pool.release(conn)

    def aclose(self) -> None:
        if not self._conn.done:
            self._pool.discard(self._conn)


class UpstreamPool:
    """Persistent connections to one upstream base URL (``http://host:port[/prefix]``)."""

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int = 256,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        api_key: str | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(
                f"gateway.upstream_url {base_url!r}: expected http://host[:port][/prefix] "
                "(put TLS termination in front of a remote upstream)"
            )
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        host_header = f"{self.host}:{self.port}" if parts.port else self.host
        extra = f"Authorization: Bearer {api_key}\r\n" if api_key else ""
        self._head_tail = f"Host: {host_header}\r\n{extra}".encode("latin-1")
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._idle: list[_Conn] = []
        self._open = 0
        self.max_connections = max_connections

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(loop), self.host, self.port),
                self.connect_timeout_s,
            )
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"could not connect to the upstream {self.host}:{self.port} within "
                f"{self.connect_timeout_s:g} s"
            ) from exc
        except OSError as exc:
            raise UpstreamError(
                f"could not connect to the upstream {self.host}:{self.port} ({exc.strerror or exc})"
            ) from exc
        return conn

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: bytes = b"application/json",
        accept: bytes | None = None,
    ) -> UpstreamResponse:
        """Send one request and return once the response headers are in."""
        head = (
            f"{method} {self.prefix}{path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n".encode()
            + self._head_tail
            + (b"Content-Type: " + content_type + b"\r\n" if body else b"")
            + (b"Accept: " + accept + b"\r\n" if accept else b"")
            + b"\r\n"
        )
        payload = head + body
        for attempt in (0, 1):
            conn = self._acquire_idle()
            fresh = conn is None
            if conn is None:
                if self._open >= self.max_connections:
                    raise UpstreamError(
                        f"all {self.max_connections} upstream connections are busy; raise "
                        "gateway.upstream_max_connections or add capacity"
                    )
                self._open += 1
                try:
                    conn = await self._connect()
                except BaseException:
                    self._open -= 1
                    raise
            conn.reset()
            conn.used = True
            assert conn.transport is not None  # noqa: S101  (set by connection_made)
            conn.transport.write(payload)
            try:
                while not conn.headers_done:
                    await conn.wait(self.read_timeout_s)
            except UpstreamTimeout:
                self.discard(conn)
                raise
            except UpstreamError:
                self.discard(conn)
                if fresh or attempt == 1:
                    raise
                continue  # a stale keep-alive connection: try once more on a new one
            return UpstreamResponse(conn.status, conn.headers, self, conn)
        raise UpstreamError("upstream request failed")  # pragma: no cover  (loop always returns)

    def _acquire_idle(self) -> _Conn | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
            self.discard(conn)
        return None

    def discard(self, conn: _Conn) -> None:
        """Close ``conn`` and free its slot (once, however often it is called)."""
        conn.close()
        if conn.counted:
            conn.counted = False
            self._open -= 1

    def release(self, conn: _Conn) -> None:
        if conn.done and conn.keep_alive and not conn.closed and conn.error is None:
            self._idle.append(conn)
        else:
            self.discard(conn)

    async def aclose(self) -> None:
        while self._idle:
            self.discard(self._idle.pop())
