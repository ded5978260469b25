"""The gateway's upstream client: one small interface, three transports.

:class:`Upstream` is all the request path needs: ``send(...) -> UpstreamResponse`` whose body is
read whole or chunk by chunk. The gateway's own HTTP/1.1 client (:class:`.h1.H1Upstream`) is
the default; :class:`AiohttpUpstream` is the one it replaced (``upstream_client: aiohttp``,
both chosen by measurement, see docs/gateway.md); :class:`ASGIUpstream` calls an ASGI app
in-process, so tests put the real mock model behind the gateway without sockets. Transport
failures become :class:`UpstreamTimeout` and :class:`UpstreamUnavailable` and nothing else
escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import aiohttp

from .types import ASGIApp, Message


class UpstreamTimeout(Exception):
    """The upstream did not answer (or stalled mid-stream) within the timeout."""


class UpstreamUnavailable(Exception):
    """Connection refused, reset or closed early: no usable answer."""


class UpstreamResponse(Protocol):
    status: int
    content_type: str

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class Upstream(Protocol):
    async def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float, stream: bool
    ) -> UpstreamResponse:
        """POST (GET when ``body`` is empty) ``url``; for streams ``timeout`` bounds the time to
        the response headers and each gap between chunks, otherwise the whole exchange."""
        ...

    async def close(self) -> None: ...


class _AiohttpResponse:
    __slots__ = ("_resp", "content_type", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.content_type = resp.headers.get("content-type", "application/json")

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except TimeoutError as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(_describe(exc)) from exc
        finally:
            self._resp.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except TimeoutError as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(_describe(exc)) from exc

    async def close(self) -> None:
        # A stream abandoned half-way must not go back to the pool: close the connection.
        if self._resp.content.at_eof():
            self._resp.release()
        else:
            self._resp.close()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class AiohttpUpstream:
    """A pooled aiohttp client. Create it inside the running event loop (or let it be lazy)."""

    def __init__(self, max_connections: int = 512, connect_timeout: float = 10.0) -> None:
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float, bool], aiohttp.ClientTimeout] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=0, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float, stream: bool
    ) -> UpstreamResponse:
        session = self._get_session()
        t = self._timeouts.get((timeout, stream))
        if t is None:
            if stream:  # each read, not the whole stream, is bounded
                t = aiohttp.ClientTimeout(sock_connect=self._connect_timeout, sock_read=timeout)
            else:
                t = aiohttp.ClientTimeout(total=timeout, sock_connect=self._connect_timeout)
            if len(self._timeouts) < 64:
                self._timeouts[(timeout, stream)] = t
        method = "POST" if body else "GET"
        try:
            resp = await session.request(method, url, data=body or None, headers=headers, timeout=t)
        except TimeoutError as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(_describe(exc)) from exc
        except OSError as exc:
            raise UpstreamUnavailable(_describe(exc)) from exc
        return _AiohttpResponse(resp)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _ASGIResponse:
    def __init__(
        self,
        status: int,
        content_type: str,
        queue: asyncio.Queue[bytes | None],
        *,
        task: asyncio.Task[None],
        timeout: float,
    ) -> None:
        self.status = status
        self.content_type = content_type
        self._queue = queue
        self._task = task
        self._timeout = timeout

    async def read(self) -> bytes:
        parts = [c async for c in self.chunks()]
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), self._timeout)
            except TimeoutError as exc:
                raise UpstreamTimeout("no data within the timeout") from exc
            if item is None:
                return
            yield item

    async def close(self) -> None:
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class ASGIUpstream:
    """Sends requests to in-process ASGI apps (tests, examples): one app for every URL, or a
    mapping from URL host (``http://<host>/v1``) to app."""

    def __init__(self, apps: ASGIApp | Mapping[str, ASGIApp]) -> None:
        self._apps = apps

    def _app_for(self, url: str) -> ASGIApp:
        if not isinstance(self._apps, Mapping):
            return self._apps
        host = url.split("://", 1)[-1].split("/", 1)[0]
        app = self._apps.get(host)
        if app is None:
            raise UpstreamUnavailable(f"no in-process app for host {host!r}")
        return app

    async def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float, stream: bool
    ) -> UpstreamResponse:
        app = self._app_for(url)
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST" if body else "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "scheme": "http",
            "server": ("upstream", 80),
            "client": ("127.0.0.1", 0),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        started: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        sent_body = False

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect until cancelled
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                ctype = "application/json"
                for k, v in message.get("headers", []):
                    if k.lower() == b"content-type":
                        ctype = v.decode()
                started.set_result((message["status"], ctype))
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    queue.put_nowait(message["body"])
                if not message.get("more_body", False):
                    queue.put_nowait(None)

        async def run() -> None:
            try:
                await app(scope, receive, send)
            except Exception as exc:
                if not started.done():
                    started.set_exception(UpstreamUnavailable(_describe(exc)))
                queue.put_nowait(None)

        task = asyncio.create_task(run())
        try:
            status, ctype = await asyncio.wait_for(asyncio.shield(started), timeout)
        except TimeoutError as exc:
            task.cancel()
            raise UpstreamTimeout("no response headers within the timeout") from exc
        return _ASGIResponse(status, ctype, queue, task=task, timeout=timeout)

    async def close(self) -> None:
        return None
