"""A slow, failing, hung or unreachable candidate never changes what the user sees.

Requests alternate between a route without shadow and routes that mirror every request to a
misbehaving candidate; the user's median latency (or TTFT) and the response must match the
shadow-off route within a small tolerance. Candidates: hung (never answers), fail (500s),
slow (10 s), closed (nothing listens on the port).
"""

from __future__ import annotations

import statistics
import time

import openai
from gateway_helpers import KEY, LiveGateway, http, wait_until
from prometheus_client.parser import text_string_to_metric_families

from llm_rollout.records import Role, Status

CANDIDATES = ("hung", "fail", "slow", "closed")
ROUNDS = 12
BOUND = 8


def tolerance(off_s: float) -> float:
    return max(0.005, 0.1 * off_s)


def setup_routes(gw: LiveGateway) -> list[str]:
    routes = {"iso-off": gw.route("base", "cand", rollout_id="iso", step=-1)}
    for name in CANDIDATES:
        routes[f"iso-{name}"] = gw.route(
            "base",
            name,
            shadow_sample=1.0,
            shadow_max_concurrency=BOUND,
            shadow_timeout=30.0,
            rollout_id=f"iso-{name}",
            step=-1,
        )
    gw.use_policy(routes)
    return list(routes)


def shadow_dropped(gw: LiveGateway) -> dict[str, float]:
    _, _, body = http("GET", gw.url + "/metrics")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    return {s.labels["model"]: s.value for s in fams["llm_rollout_gateway_shadow_dropped"].samples}


def test_user_latency_and_response_unchanged_by_a_bad_candidate(gateway: LiveGateway) -> None:
    names = setup_routes(gateway)
    before = shadow_dropped(gateway)
    latency: dict[str, list[float]] = {n: [] for n in names}
    contents: dict[str, set[str]] = {n: set() for n in names}
    ids: dict[str, list[str]] = {n: [] for n in names}
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0, timeout=5) as c:
        c.chat.completions.create(model="iso-off", messages=[{"role": "user", "content": "w"}])
        for _ in range(ROUNDS):
            for name in names:
                t0 = time.perf_counter()
                raw = c.chat.completions.with_raw_response.create(
                    model=name, messages=[{"role": "user", "content": "hello"}]
                )
                latency[name].append(time.perf_counter() - t0)
                assert raw.http_response.status_code == 200
                contents[name].add(raw.parse().choices[0].message.content or "")
                ids[name].append(raw.headers["x-request-id"])
    off = statistics.median(latency["iso-off"])
    for name in names[1:]:
        on = statistics.median(latency[name])
        assert abs(on - off) <= tolerance(off), f"{name}: median {on:.4f}s vs {off:.4f}s off"
        assert contents[name] == contents["iso-off"]

    # the copies happened, failed and were recorded as shadow errors, or were dropped
    def shadow_errors() -> dict[str, int]:
        out: dict[str, int] = {}
        for r in gateway.store.read_records():
            if r.role is Role.SHADOW and r.status is Status.ERROR:
                out[r.rollout_id] = out.get(r.rollout_id, 0) + 1
        return out

    wait_until(
        lambda: (
            shadow_errors().get("iso-fail") == ROUNDS
            and shadow_errors().get("iso-closed") == ROUNDS
        ),
        3,
        "shadow error records",
    )
    dropped = shadow_dropped(gateway)
    for name in ("iso-hung", "iso-slow"):
        assert dropped[name] - before.get(name, 0.0) == ROUNDS - BOUND
    assert "iso-fail" not in dropped


def test_streamed_ttft_unchanged_by_a_hung_candidate(gateway: LiveGateway) -> None:
    setup_routes(gateway)
    ttft: dict[str, list[float]] = {"iso-off": [], "iso-hung": []}
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0, timeout=5) as c:
        for _ in range(ROUNDS):
            for name, values in ttft.items():
                t0 = time.perf_counter()
                first = None
                with c.chat.completions.create(
                    model=name, messages=[{"role": "user", "content": "hi"}], stream=True
                ) as stream:
                    for chunk in stream:
                        if first is None and chunk.choices and chunk.choices[0].delta.content:
                            first = time.perf_counter() - t0
                assert first is not None
                values.append(first)
    off = statistics.median(ttft["iso-off"])
    on = statistics.median(ttft["iso-hung"])
    assert abs(on - off) <= tolerance(off), f"TTFT {on:.4f}s with shadow vs {off:.4f}s off"
