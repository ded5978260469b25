"""Helpers of the gateway tests: the in-process ASGI harness and the live-process harness."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from llm_rollout.gateway import ASGIUpstream, Gateway, load_config
from llm_rollout.gateway.types import ASGIApp, Message
from llm_rollout.policy import Policy, Route
from llm_rollout.registry import ModelVersion
from llm_rollout.store.base import Store
from llm_rollout.store.sqlite import SQLiteStore


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


KEY = "test-key"
BASE = {
    "latency_ms": 40,
    "latency_sigma": 0,
    "ttft_ms": 10,
    "ttft_sigma": 0,
    "completion_tokens": 16,
    "completion_sigma": 0,
    "error_rate": 0,
    "refusal_rate": 0,
    "cached_fraction": 0.25,
}
PROFILES: dict[str, dict[str, float]] = {
    "base": BASE,
    "cand": {**BASE, "latency_ms": 50},
    "terse": {**BASE, "completion_tokens": 8},  # answers with half of base's text
    "hung": {**BASE, "latency_ms": 1e9, "ttft_ms": 1e9},
    "fail": {**BASE, "error_rate": 1.0, "ttft_ms": 2},
    "slow": {**BASE, "latency_ms": 10_000, "ttft_ms": 10_000},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Mocks:
    ports: dict[str, int]

    def endpoint(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/v1"


@dataclass
class LiveGateway:
    url: str
    home: Path
    store: SQLiteStore
    models: dict[str, ModelVersion]
    app: Gateway

    def route(self, baseline: str, candidate: str | None = None, **kw: Any) -> Route:
        cand = self.models[candidate].digest if candidate else None
        return Route(baseline=self.models[baseline].digest, candidate=cand, **kw)

    def use_policy(self, routes: dict[str, Route]) -> int:
        """Publish and wait until the gateway routes by the new version."""
        version = self.store.publish_policy(Policy(0, routes).to_doc(), "test", "test", time.time())
        wait_until(lambda: self.policy_version() == version, 2, f"policy v{version}")
        return version

    def policy_version(self) -> int:
        status, _, body = http("GET", self.url + "/readyz")
        return int(json.loads(body)["policy_version"]) if status == 200 else -1


def start_gateway(
    home: Path, env: dict[str, str], **config: Any
) -> tuple[uvicorn.Server, threading.Thread, Gateway, int]:
    port = free_port()
    app = Gateway(load_config({"home": home, "seed": 3, **config}, env=env), env=env)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, name=f"gateway-{port}", daemon=True)
    thread.start()
    wait_until(lambda: server.started, 15, "gateway start")
    return server, thread, app, port
