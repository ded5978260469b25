"""Test helpers: drive an ASGI app in-process, register models, publish policies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_rollout.gateway import ASGIUpstream, Gateway, load_config
from llm_rollout.gateway.types import ASGIApp, Message
from llm_rollout.policy import Policy, Route
from llm_rollout.registry import ModelVersion
from llm_rollout.store.base import Store


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def json(self) -> Any:
        return orjson.loads(self.body)

    def events(self) -> list[Any]:
        """Parsed SSE data payloads (``[DONE]`` kept as the string)."""
        out: list[Any] = []
        for line in self.body.splitlines():
            if line.startswith(b"data: "):
                data = line[6:]
                out.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
        return out


async def request(
    app: ASGIApp,
    method: str,
    path: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    raw: bytes | None = None,
    body_parts: Sequence[bytes] | None = None,
    disconnect_after_chunks: int | None = None,
) -> Response:
    """One request through the app as an ASGI server would send it."""
    data = raw if raw is not None else (b"" if body is None else orjson.dumps(body))
    parts = list(body_parts) if body_parts is not None else [data]
    hdrs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if body_parts is None:
        hdrs.append((b"content-length", str(len(data)).encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": hdrs,
        "query_string": b"",
        "http_version": "1.1",
        "scheme": "http",
        "client": ("127.0.0.1", 1),
        "server": ("gw", 80),
    }
    resp = Response(0, {})
    gone = asyncio.Event()

    async def receive() -> Message:
        if parts:
            part = parts.pop(0)
            return {"type": "http.request", "body": part, "more_body": bool(parts)}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            resp.status = message["status"]
            resp.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message.get("body"):
            resp.chunks.append(message["body"])
            if disconnect_after_chunks is not None and len(resp.chunks) >= disconnect_after_chunks:
                gone.set()

    await app({**scope}, receive, send)
    return resp


def chat(model: str, content: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def version(name: str, host: str, **kw: Any) -> ModelVersion:
    kw.setdefault("prices", {"input": 1.0, "output": 2.0, "cached_input": 0.5})
    kw.setdefault("upstream_model", f"{name}-upstream")
    return ModelVersion(name=name, endpoint=f"http://{host}/v1", **kw)


def publish(store: Store, routes: dict[str, Route]) -> int:
    return store.publish_policy(Policy(0, routes).to_doc(), "test", "test", time.time())


@asynccontextmanager
async def running(
    store: Store,
    apps: ASGIApp | Mapping[str, ASGIApp],
    shadow_apps: ASGIApp | Mapping[str, ASGIApp] | None = None,
    env: Mapping[str, str] | None = None,
    **config: Any,
) -> AsyncIterator[Gateway]:
    config.setdefault("seed", 7)
    gw = Gateway(
        load_config(config, env={}),
        store=store,
        upstream=ASGIUpstream(apps),
        shadow_upstream=ASGIUpstream(shadow_apps if shadow_apps is not None else apps),
        env=env or {},
    )
    await gw.startup()
    try:
        yield gw
    finally:
        await gw.shutdown()
