"""The gateway's HTTP/1.1 client against scripted servers: framing, keep-alive, timeouts, the
connection bound, and that only a cleanly finished answer's connection is ever reused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from llm_rollout.gateway import (
    AiohttpUpstream,
    Gateway,
    H1Upstream,
    UpstreamTimeout,
    UpstreamUnavailable,
    load_config,
)

JSON = {"content-type": "application/json"}
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


@dataclass
class Server:
    """A loopback server that runs ``script`` on each connection and keeps what it was sent."""

    script: Script
    port: int = 0
    connections: int = 0
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)  # (head, body)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    async def read_request(self, reader: asyncio.StreamReader) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return False
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        self.requests.append((head, await reader.readexactly(length)))
        return True


@asynccontextmanager
async def serving(script: Script) -> AsyncIterator[Server]:
    server = Server(script)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            await script(reader, writer, server)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def answer(body: bytes, *extra: bytes, status: bytes = b"200 OK") -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
    return (
        head
        + b"".join(h + b"\r\n" for h in extra)
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


async def fetch(client: H1Upstream, url: str) -> bytes:
    resp = await client.send(url, b"{}", JSON, 2, stream=False)
    return await resp.read()


async def keep_answering(reader: Any, writer: Any, server: Server) -> None:
    while await server.read_request(reader):
        writer.write(answer(b'{"ok":true}'))
        await writer.drain()


async def chunked_slowly(reader: Any, writer: Any, server: Server, gaps: tuple[float, ...]) -> None:
    """Headers, then one chunk after each gap, then the end of the body."""
    while await server.read_request(reader):
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        await writer.drain()
        for i, gap in enumerate(gaps):
            await asyncio.sleep(gap)
            data = b"data: %d\n\n" % i
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def test_requests_are_well_formed_and_connections_are_reused() -> None:
    async def scenario() -> None:
        async with serving(keep_answering) as server:
            client = H1Upstream()
            for _ in range(3):
                resp = await client.send(server.url, b'{"a":1}', JSON, 5, stream=False)
                assert (resp.status, resp.content_type) == (200, "application/json")
                assert await resp.read() == b'{"ok":true}'
            resp = await client.send(server.url, b"", {}, 5, stream=False)  # no body: GET
            await resp.read()
            await client.close()
        assert server.connections == 1
        head, body = server.requests[0]
        lines = head.split(b"\r\n")
        assert lines[0] == b"POST /v1/chat/completions HTTP/1.1"
        assert f"host: 127.0.0.1:{server.port}".encode() in lines
        assert b"content-type: application/json" in lines
        assert b"content-length: 7" in lines
        assert body == b'{"a":1}'
        assert server.requests[-1][0].startswith(b"GET /v1/chat/completions HTTP/1.1\r\n")

    run(scenario)


def test_a_stream_arrives_chunk_by_chunk() -> None:
    async def scenario() -> None:
        async def script(reader: Any, writer: Any, server: Server) -> None:
            await chunked_slowly(reader, writer, server, (0.0, 0.05, 0.05))

        async with serving(script) as server:
            client = H1Upstream()
            resp = await client.send(server.url, b"{}", JSON, 1.0, stream=True)
            assert resp.content_type == "text/event-stream"
            pieces = [chunk async for chunk in resp.chunks()]
            assert b"".join(pieces) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
            assert len(pieces) >= 2  # forwarded as they came, not at the end
            await resp.close()
            resp = await client.send(server.url, b"{}", JSON, 1.0, stream=True)
            await resp.read()
            await client.close()
        assert server.connections == 1

    run(scenario)


def test_timeouts_bound_a_whole_call_but_each_gap_of_a_stream() -> None:
    async def scenario() -> None:
        async def script(reader: Any, writer: Any, server: Server) -> None:
            await chunked_slowly(reader, writer, server, (0.1, 0.1, 0.1, 0.1))

        async with serving(script) as server:
            client = H1Upstream()
            resp = await client.send(server.url, b"{}", JSON, 0.25, stream=False)
            with pytest.raises(UpstreamTimeout):
                await resp.read()  # 0.4 s in all
            resp = await client.send(server.url, b"{}", JSON, 0.35, stream=True)
            assert (await resp.read()).count(b"data:") == 4  # no gap comes near 0.35 s
            resp = await client.send(server.url, b"{}", JSON, 0.05, stream=True)
            with pytest.raises(UpstreamTimeout):
                async for _ in resp.chunks():
                    pass
            await client.close()
        assert server.connections == 2  # the call that timed out did not give its back

    run(scenario)


def test_no_answer_at_all_times_out() -> None:
    async def silent(reader: Any, writer: Any, server: Server) -> None:
        await server.read_request(reader)
        await asyncio.sleep(5)

    async def scenario() -> None:
        async with serving(silent) as server:
            client = H1Upstream()
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(UpstreamTimeout):
                await client.send(server.url, b"{}", JSON, 0.2, stream=False)
            with pytest.raises(UpstreamTimeout):
                await client.send(server.url, b"{}", JSON, 0.2, stream=True)
            assert loop.time() - t0 < 2.0  # not the server's 5 s
            await client.close()

    run(scenario)


@pytest.mark.parametrize(
    ("reply", "body"),
    [
        # the close ends the body
        (b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end", b"until the end"),
        # an interim answer first
        (b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"after 100"), b"after 100"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        (answer(b"bye", b"connection: close"), b"bye"),
    ],
)
def test_framings(reply: bytes, body: bytes) -> None:
    async def scenario() -> None:
        async def script(reader: Any, writer: Any, server: Server) -> None:
            while await server.read_request(reader):
                writer.write(reply)
                await writer.drain()
                if b"connection: close" in reply:
                    return

        async with serving(script) as server:
            client = H1Upstream()
            for _ in range(2):
                resp = await client.send(server.url, b"{}", JSON, 2, stream=False)
                assert await resp.read() == body
            await client.close()
        assert server.connections == (2 if b"connection: close" in reply else 1)

    run(scenario)


@pytest.mark.parametrize(
    "reply",
    [
        answer(b"0123456789")[:-4],  # the server closes four bytes short
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab",  # mid-chunk
        b"not http at all\r\n\r\n",
        b"",  # closed without a word
    ],
)
def test_broken_answers_are_unavailable(reply: bytes) -> None:
    async def scenario() -> None:
        async def script(reader: Any, writer: Any, server: Server) -> None:
            await server.read_request(reader)
            writer.write(reply)
            await writer.drain()

        async with serving(script) as server:
            client = H1Upstream()
            with pytest.raises(UpstreamUnavailable):
                await fetch(client, server.url)
            await client.close()

    run(scenario)


def test_an_abandoned_stream_closes_its_connection() -> None:
    async def scenario() -> None:
        async def script(reader: Any, writer: Any, server: Server) -> None:
            await chunked_slowly(reader, writer, server, (0.0, 0.2))

        async with serving(script) as server:
            client = H1Upstream()
            resp = await client.send(server.url, b"{}", JSON, 1, stream=True)
            async for _ in resp.chunks():
                break  # the client went away after the first chunk
            await resp.close()
            resp = await client.send(server.url, b"{}", JSON, 1, stream=True)
            await resp.read()
            await client.close()
        assert server.connections == 2  # the rest of the first answer was never read as data

    run(scenario)


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def scenario() -> None:
        async def once_per_connection(reader: Any, writer: Any, server: Server) -> None:
            await server.read_request(reader)
            writer.write(answer(b"{}"))  # keep-alive answer, then the server closes anyway
            await writer.drain()

        async with serving(once_per_connection) as server:
            client = H1Upstream()
            for _ in range(3):
                resp = await client.send(server.url, b"{}", JSON, 2, stream=False)
                assert await resp.read() == b"{}"
                await asyncio.sleep(0.05)  # the close reaches the client
            await client.close()
        assert server.connections == 3

    run(scenario)


def test_the_connection_bound_queues_calls_within_their_timeout() -> None:
    async def scenario() -> None:
        async def script(reader: Any, writer: Any, server: Server) -> None:
            await chunked_slowly(reader, writer, server, (0.0, 0.3))

        async with serving(script) as server:
            client = H1Upstream(max_connections=1)
            held = await client.send(server.url, b"{}", JSON, 1, stream=True)
            with pytest.raises(UpstreamTimeout):
                await client.send(server.url, b"{}", JSON, 0.1, stream=False)
            waiting = asyncio.ensure_future(client.send(server.url, b"{}", JSON, 2, stream=False))
            await asyncio.sleep(0.05)
            assert not waiting.done()
            await held.read()  # gives the one connection back
            resp = await waiting
            assert b"data: 1" in await resp.read()
            await client.close()

    run(scenario)


def test_a_cancelled_call_gives_its_slot_back() -> None:
    async def scenario() -> None:
        async def script(reader: Any, writer: Any, server: Server) -> None:
            if server.connections == 1:
                await server.read_request(reader)
                await asyncio.sleep(5)  # the first call hangs
            else:
                await keep_answering(reader, writer, server)

        async with serving(script) as server:
            client = H1Upstream(max_connections=1)
            hung = asyncio.ensure_future(client.send(server.url, b"{}", JSON, 10, stream=False))
            await asyncio.sleep(0.05)
            hung.cancel()
            with pytest.raises(asyncio.CancelledError):
                await hung
            resp = await client.send(server.url, b"{}", JSON, 1, stream=False)
            assert await resp.read() == b'{"ok":true}'
            await client.close()

    run(scenario)


def test_unreachable_and_unusable_upstreams() -> None:
    async def scenario() -> None:
        client = H1Upstream(connect_timeout=1)
        async with serving(keep_answering) as server:
            port = server.port
        with pytest.raises(UpstreamUnavailable, match="ConnectionRefused"):
            await client.send(f"http://127.0.0.1:{port}/v1", b"{}", JSON, 1, stream=False)
        with pytest.raises(UpstreamUnavailable, match="unsupported"):
            await client.send("ftp://127.0.0.1/v1", b"{}", JSON, 1, stream=False)
        with pytest.raises(UpstreamUnavailable, match="line break"):
            await client.send(
                f"http://127.0.0.1:{port}/v1", b"{}", {"x": "a\r\ninjected: 1"}, 1, stream=False
            )
        await client.close()

    run(scenario)


def test_the_gateway_uses_this_client_unless_told_otherwise() -> None:
    default = Gateway(load_config({}, env={}), env={})
    assert isinstance(default.upstream, H1Upstream)
    assert isinstance(default.shadow_upstream, H1Upstream)
    chosen = Gateway(load_config({"upstream_client": "aiohttp"}, env={}), env={})
    assert isinstance(chosen.upstream, AiohttpUpstream)
    assert isinstance(chosen.shadow_upstream, AiohttpUpstream)
