"""Small ASGI helpers: read a bounded body, look up headers, send JSON or an error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .errors import GatewayHTTPError
from .types import Headers, Receive, Scope, Send

Extra = Sequence[tuple[bytes, bytes]]

JSON = b"application/json"
DRAIN_FACTOR = 8


def header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope["headers"]:
        if k == name:
            value: bytes = v
            return value
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; 413 when it exceeds ``limit`` bytes.

    An oversize body is still read (and discarded) up to ``DRAIN_FACTOR`` times the limit, so
    the client, still sending, gets the 413 instead of a broken pipe; beyond that the server
    closes the connection."""
    length = header(scope, b"content-length")
    declared = 0
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise GatewayHTTPError(400, "Invalid Content-Length header.") from None
    chunks: list[bytes] = []
    size = 0
    over = declared > limit
    more = True
    while more:
        if over and (declared > limit * DRAIN_FACTOR or size > limit * DRAIN_FACTOR):
            raise too_large(limit)
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayHTTPError(400, "Client disconnected while sending the body.")
        part: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(part)
        if size > limit:
            over = True
        if not over:
            chunks.append(part)
    if over:
        raise too_large(limit)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_large(limit: int) -> GatewayHTTPError:
    return GatewayHTTPError(
        413,
        f"Request body exceeds the gateway's limit of {limit} bytes.",
        "invalid_request_error",
        "request_too_large",
    )


async def send_bytes(
    send: Send, status: int, body: bytes, content_type: bytes = JSON, extra: Extra = ()
) -> None:
    # With its length the body goes out as it is; without, the server would frame it in chunks.
    headers: Headers = [
        (b"content-type", content_type),
        (b"content-length", b"%d" % len(body)),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, obj: Any, extra: Extra = ()) -> None:
    await send_bytes(send, status, orjson.dumps(obj), JSON, extra)


async def send_error(send: Send, exc: GatewayHTTPError, extra: Extra = ()) -> None:
    await send_bytes(send, exc.status, exc.body(), JSON, extra)
