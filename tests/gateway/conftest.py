"""Session-scoped servers for the loopback tests: mock-model processes and a gateway.

Mock models run as real processes (``python -m llm_rollout.mock``); the gateway runs under
uvicorn in a background thread of the test process with its own SQLite store file. Everything
starts once per session and stops at its end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from gateway_helpers import (
    KEY,
    PROFILES,
    LiveGateway,
    Mocks,
    free_port,
    http,
    start_gateway,
    wait_until,
)

from llm_rollout.registry import ModelVersion
from llm_rollout.store.sqlite import SQLiteStore


@pytest.fixture(scope="session")
def mocks() -> Iterator[Mocks]:
    ports = {name: free_port() for name in PROFILES}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llm_rollout.mock",
                "--port",
                str(ports[name]),
                "--seed",
                "1",
                "--model-id",
                name,
                "--profile",
                json.dumps(profile),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, profile in PROFILES.items()
    ]
    ports["closed"] = free_port()  # nothing listens here
    try:
        for name in PROFILES:
            url = f"http://127.0.0.1:{ports[name]}/v1/models"
            wait_until(lambda u=url: http("GET", u)[0] == 200, 30, f"mock {name}")
        yield Mocks(ports)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stderr is not None:
                p.stderr.close()


@pytest.fixture(scope="session")
def gateway(mocks: Mocks, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    home = tmp_path_factory.mktemp("gateway-home")
    store = SQLiteStore(home / "store.db")  # the file open_store(home) opens
    models = {}
    for name in (*PROFILES, "closed"):
        v = ModelVersion(
            name=name,
            endpoint=mocks.endpoint(name),
            upstream_model=f"{name}-m",
            prices={"input": 1.0, "output": 2.0, "cached_input": 0.5},
        )
        store.put_model(v)
        models[name] = v
    env = {"GATEWAY_KEYS": KEY}
    server, thread, app, port = start_gateway(
        home, env, api_key_env="GATEWAY_KEYS", max_body_bytes=1 << 20
    )
    live = LiveGateway(f"http://127.0.0.1:{port}", home, store, models, app)
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(15)
        store.close()
