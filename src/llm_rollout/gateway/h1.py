"""A lean HTTP/1.1 client for the upstream calls: asyncio protocols, httptools' parser, a pool.

The gateway makes one upstream call per served request and one more per shadow copy, so the
client's cost per call bounds both throughput and what mirroring costs. aiohttp spends most of
its cost per call on generality the gateway never uses (cookies, redirects, middlewares, a
task per request body, a dozen objects per request); this client does only what the gateway
needs, for about a quarter of aiohttp's CPU time per call (measured in docs/gateway.md).

What it does: ``POST`` (``GET`` without a body) over keep-alive connections, pooled per origin
(scheme, host, port) under one bound on the connections in use; ``https`` with the default
SSL context; answers framed by content-length, chunked encoding or the connection's close;
interim 1xx answers skipped. What it does not: redirects, proxies, cookies, decompression
(the gateway asks for ``identity``), HTTP/2.

Timeouts are those of :class:`~.upstream.Upstream`: a non-streamed call is bounded as a whole,
waiting for a connection included; a stream bounds the wait for the headers and each gap
between chunks, and connecting by ``connect_timeout``. Failures leave only as
:class:`~.upstream.UpstreamTimeout` or :class:`~.upstream.UpstreamUnavailable`.

Only a cleanly finished exchange gives its connection back to the pool; any failure, timeout,
cancellation or abandoned stream closes it, so no half-read answer can be taken for the next
one. A request is never re-sent: like aiohttp and Go's client for a non-idempotent POST, a
connection that the server closes while the request is on its way is a 502, since the gateway
cannot know whether the model already ran (and billed) it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import cast
from urllib.parse import urlsplit

import httptools

from .upstream import UpstreamTimeout, UpstreamUnavailable

Origin = tuple[str, str, int]  # scheme, host, port

KEEPALIVE_S = 15.0  # an idle connection older than this is closed, not reused (as aiohttp)
PAUSE_BYTES = 1 << 20  # a stream's unread bytes above which the socket is no longer read
TARGET_CACHE = 1024  # parsed URLs kept (the gateway calls a handful of endpoints)
HEADER_CACHE = 256  # encoded header blocks kept (one per upstream key, in practice)
DEFAULT_PORTS = {"http": 80, "https": 443}
NO_BODY_STATUSES = frozenset({204, 304})


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying at most one exchange at a time.

    The parser's callbacks fill in the current exchange; its reader waits on one future at a
    time, woken by the callbacks or by :meth:`fail`.
    """

    def __init__(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.origin = origin
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.active = False  # an exchange is under way
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._begin(stream=False)

    def _begin(self, stream: bool) -> None:
        """Fresh state for the next exchange."""
        self.stream = stream
        self.status = 0
        self.content_type = "application/json"
        self.headers_done = False
        self.done = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.paused = False
        self._framed = False  # content-length or chunked; else the body ends at the close
        self._interim = False
        self._waiter: asyncio.Future[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.active:
            self.close()  # bytes nobody asked for: the connection's framing is lost
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(UpstreamUnavailable(f"malformed response: {exc}"))

    def eof_received(self) -> bool:
        return False  # let the transport close: nothing is sent on a half-closed connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.active or self.done or self.error is not None:
            return
        if self.headers_done and not self._framed:
            self.on_message_complete()  # the close itself ends this body
            return
        reason = f"{type(exc).__name__}: {exc}" if exc else "the server closed the connection"
        self.fail(UpstreamUnavailable(reason))

    # --- httptools callbacks --------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"content-type":
            self.content_type = value.decode("latin-1")
        elif lowered == b"content-length" or (
            lowered == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._framed = True

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            self._interim = True  # 100 Continue and the like: the real answer follows
            return
        self.status = status
        if status in NO_BODY_STATUSES:
            self._framed = True
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        # A stream is read as fast as its consumer forwards it; a whole body is wanted anyway.
        if self.stream and self.buffered > PAUSE_BYTES and not self.paused:
            self.paused = True
            if self.transport is not None:
                self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            self.content_type = "application/json"
            self._framed = False
            return
        self.done = True
        self.keep_alive = not self.closed and self._parser.should_keep_alive()
        self._cancel_deadline()
        self._wake()

    # --- the exchange ---------------------------------------------------------------------
    def start(self, request: bytes, deadline: float | None, stream: bool) -> None:
        """Send one request; ``deadline`` (loop time) bounds the whole exchange."""
        self._begin(stream)
        self.active = True
        if deadline is not None:
            self._deadline = self.loop.call_at(deadline, self._expire)
        assert self.transport is not None  # connection_made ran before the pool handed it out
        self.transport.write(request)

    def _expire(self) -> None:
        self._deadline = None
        self.fail(UpstreamTimeout("no complete answer within the timeout"))

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def fail(self, error: BaseException) -> None:
        """End the exchange with ``error`` and drop the connection."""
        if self.error is None and not self.done:
            self.error = error
        self._cancel_deadline()
        self.close()
        self._wake()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def reusable(self, loop: asyncio.AbstractEventLoop, oldest: float) -> bool:
        transport = self.transport
        return (
            not self.closed
            and self.loop is loop
            and self.idle_since >= oldest
            and transport is not None
            and not transport.is_closing()
        )

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Until the parser or a failure moves the exchange on (``timeout`` bounds this wait)."""
        if self.error is not None:
            raise self.error
        waiter = self._waiter = self.loop.create_future()
        timer = None if timeout is None else self.loop.call_later(timeout, self._wait_expired)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if self.error is not None:
            raise self.error

    def _wait_expired(self) -> None:
        self.fail(UpstreamTimeout("no data within the timeout"))

    def take(self) -> bytes:
        """Everything buffered so far; reading resumes if it was paused."""
        chunks = self.chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        if self.paused and not self.closed and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data


class _Response:
    """The answer on one connection; the connection goes back once the answer is read."""

    __slots__ = ("_client", "_conn", "_read_timeout", "content_type", "status")

    def __init__(self, client: H1Upstream, conn: _Connection, read_timeout: float | None) -> None:
        self._client = client
        self._conn: _Connection | None = conn
        self._read_timeout = read_timeout
        self.status = conn.status
        self.content_type = conn.content_type

    async def read(self) -> bytes:
        conn = self._conn
        if conn is None:
            return b""
        try:
            while not conn.done:
                await conn.wait(self._read_timeout)
        except BaseException:
            self._give_back()
            raise
        data = conn.take()
        self._give_back()
        return data

    async def chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                if conn.chunks:
                    yield conn.take()
                elif conn.done:
                    break
                else:
                    await conn.wait(self._read_timeout)
        except BaseException:
            self._give_back()
            raise
        self._give_back()

    async def close(self) -> None:
        self._give_back()

    def _give_back(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._client.release(conn)


class H1Upstream:
    """The pooled client. Create it anywhere; connections belong to the loop that opened them."""

    def __init__(
        self,
        max_connections: int = 512,
        connect_timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max = max_connections
        self._connect_timeout = connect_timeout
        self._ssl = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._in_use = 0
        self._slot_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._targets: dict[str, tuple[Origin, bytes, bytes]] = {}
        self._header_blocks: dict[tuple[tuple[str, str], ...], bytes] = {}
        self._closed = False

    async def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float, stream: bool
    ) -> _Response:
        loop = asyncio.get_running_loop()
        origin, post, get = self._target(url)
        request = self._request(post if body else get, headers, body)
        deadline = None if stream else loop.time() + timeout
        read_timeout = timeout if stream else None
        conn = await self._acquire(origin, loop, deadline)
        try:
            conn.start(request, deadline, stream)
            while not conn.headers_done:
                await conn.wait(read_timeout)
        except BaseException:
            self.release(conn)
            raise
        return _Response(self, conn, read_timeout)

    def _target(self, url: str) -> tuple[Origin, bytes, bytes]:
        """(origin, the POST and GET request lines with their Host header) of ``url``."""
        found = self._targets.get(url)
        if found is not None:
            return found
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise UpstreamUnavailable(f"unsupported upstream URL {url!r}")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise UpstreamUnavailable(f"bad port in upstream URL {url!r}") from None
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
        host_header = shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        rest = f" {target} HTTP/1.1\r\nhost: {host_header}\r\n".encode("latin-1")
        found = ((scheme, host, port), b"POST" + rest, b"GET" + rest)
        if len(self._targets) < TARGET_CACHE:
            self._targets[url] = found
        return found

    def _request(self, request_line: bytes, headers: Mapping[str, str], body: bytes) -> bytes:
        key = tuple(headers.items())
        block = self._header_blocks.get(key)
        if block is None:
            block = _header_block(headers)
            if len(self._header_blocks) < HEADER_CACHE:
                self._header_blocks[key] = block
        if body:
            return b"%s%scontent-length: %d\r\n\r\n%s" % (request_line, block, len(body), body)
        return request_line + block + b"\r\n"

    # --- the pool -------------------------------------------------------------------------
    async def _acquire(
        self, origin: Origin, loop: asyncio.AbstractEventLoop, deadline: float | None
    ) -> _Connection:
        if self._closed:
            raise UpstreamUnavailable("the upstream client is closed")
        while self._in_use >= self._max:
            await self._wait_for_slot(loop, deadline)
        self._in_use += 1
        try:
            return self._reuse(origin, loop) or await self._connect(origin, loop, deadline)
        except BaseException:
            self._in_use -= 1
            self._wake_slot_waiter()
            raise

    async def _wait_for_slot(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        waiter: asyncio.Future[None] = loop.create_future()
        self._slot_waiters.append(waiter)
        timeout = None if deadline is None else max(deadline - loop.time(), 0.0)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            raise UpstreamTimeout("no free upstream connection within the timeout") from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._wake_slot_waiter()  # the slot this waiter was given goes to the next
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._slot_waiters.remove(waiter)

    def _wake_slot_waiter(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _reuse(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> _Connection | None:
        idle = self._idle.get(origin)
        oldest = loop.time() - KEEPALIVE_S
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to be timed out
            if conn.reusable(loop, oldest):
                return conn
            conn.close()
        return None

    async def _connect(
        self, origin: Origin, loop: asyncio.AbstractEventLoop, deadline: float | None
    ) -> _Connection:
        scheme, host, port = origin
        timeout = self._connect_timeout
        if deadline is not None:
            timeout = min(timeout, max(deadline - loop.time(), 0.0))
        context = None
        if scheme == "https":
            context = self._ssl = self._ssl or ssl.create_default_context()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(origin, loop),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                )
        except TimeoutError:
            raise UpstreamTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:  # refused, unreachable, DNS, TLS
            raise UpstreamUnavailable(f"{type(exc).__name__}: {exc}") from None
        return conn

    def release(self, conn: _Connection) -> None:
        """The exchange on ``conn`` is over: keep the connection for the next one or close it."""
        self._in_use -= 1
        conn.active = False
        if conn.done and conn.keep_alive and not conn.closed and not self._closed:
            conn.idle_since = conn.loop.time()
            self._idle.setdefault(conn.origin, []).append(conn)
        else:
            conn.close()
        self._wake_slot_waiter()

    async def close(self) -> None:
        """Close the idle connections; those in use close when their exchange ends."""
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def _header_block(headers: Mapping[str, str]) -> bytes:
    """The header lines. Values come from the gateway (content type, an API key from the
    environment), but a line break in one would inject a header: refused."""
    lines = []
    for name, value in headers.items():
        line = f"{name}: {value}\r\n"
        if line.count("\n") != 1 or "\r" in line[:-2]:
            raise UpstreamUnavailable(f"header {name!r} holds a line break")
        try:
            lines.append(line.encode("latin-1"))
        except UnicodeEncodeError:
            raise UpstreamUnavailable(f"header {name!r} is not latin-1 text") from None
    return b"".join(lines)
