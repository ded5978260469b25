"""Helpers for the loopback tests: ports, HTTP calls, the live gateway handle."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from llm_rollout.gateway import Gateway, load_config
from llm_rollout.policy import Policy, Route
from llm_rollout.registry import ModelVersion
from llm_rollout.store.sqlite import SQLiteStore

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
