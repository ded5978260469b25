"""A shadow phase in one process: a real gateway mirrors every request to a candidate that costs
40% more per request, then `llm-rollout shadow-report` reads the store.

    python examples/plan/shadow_demo.py [--requests 1000] [--home DIR]

Both models are mock model servers run in-process (no network; answers 100 times faster than
their profile's 800 ms, so latencies below are in the mock's compressed time); the rollout is
started with `shadow.sample: 1.0` and an alert rule `cost above 1.2`, and no controller runs,
so no user is ever served by the candidate. The script prints the command to run next;
docs/planning.md shows its output.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from llm_rollout.gateway import ASGIUpstream, Gateway, load_config
from llm_rollout.mock import MockModel
from llm_rollout.operations import start_rollout
from llm_rollout.profile import ModelProfile
from llm_rollout.registry import ModelVersion
from llm_rollout.spec import parse_spec
from llm_rollout.store import open_store

PROFILE = ModelProfile(
    latency_ms=800, latency_sigma=0.4, ttft_ms=250, ttft_sigma=0.3, completion_tokens=200,
    completion_sigma=0.5, error_rate=0.005, refusal_rate=0.01,
)  # fmt: skip
SPEED = 0.01  # the mocks answer 100 times faster than the profile says (8 ms, not 800 ms)


async def post(app: Any, body: dict[str, Any]) -> int:
    """One request through the gateway's ASGI interface, as a server would send it."""
    data = orjson.dumps(body)
    scope = {
        "type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode())],
        "http_version": "1.1", "scheme": "http", "client": ("127.0.0.1", 1),
        "server": ("gateway", 80),
    }  # fmt: skip
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--home", type=Path, default=None, help="store directory [a temp dir]")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="llm-rollout-shadow-"))
    store = open_store(home)
    base = ModelVersion(name="support-v1", endpoint="http://base/v1", upstream_model="small",
                        prices={"input": 0.15, "output": 0.60})  # fmt: skip
    cand = ModelVersion(name="support-v2", endpoint="http://cand/v1", upstream_model="large",
                        prices={"input": 0.21, "output": 0.84})  # 1.4x per token  # fmt: skip
    store.put_model(base)
    store.put_model(cand)
    spec = parse_spec({
        "name": "support", "baseline": base.name, "candidate": cand.name,
        "shadow": {"sample": 1.0, "min_duration": "1h",
                   "alerts": [{"gate": "cost", "above": 1.2}]},
        "steps": [10, 50, 100],
    })  # fmt: skip
    row = start_rollout(store, spec, actor="demo", now=time.time(), rollout_id="support-shadow")
    apps = {
        "base": MockModel(PROFILE, seed=1, speed=SPEED),
        "cand": MockModel(PROFILE, seed=2, speed=SPEED),
    }

    async def traffic() -> None:
        gw = Gateway(load_config({"seed": 1}, env={}), store=store, upstream=ASGIUpstream(apps),
                     shadow_upstream=ASGIUpstream(apps), env={})  # fmt: skip
        await gw.startup()
        try:
            for i in range(args.requests):
                body: dict[str, Any] = {
                    "model": "support",
                    "user": f"user-{i}",
                    "messages": [{"role": "user", "content": f"question {i}"}],
                }
                if i % 4 == 0:  # a quarter of the clients stream: those calls have a TTFT
                    body |= {"stream": True, "stream_options": {"include_usage": True}}
                await post(gw, body)
        finally:
            await gw.shutdown()

    asyncio.run(traffic())
    store.close()
    print(f"rollout {row.id}: {args.requests} requests served by the baseline, each mirrored")
    print(f"next: llm-rollout shadow-report {row.id} --home {home} --fail-on-alert")


if __name__ == "__main__":
    main()
