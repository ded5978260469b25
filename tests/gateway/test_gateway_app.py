"""The gateway in-process: real mock-model ASGI apps upstream, a real in-memory SQLite store."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson
import pytest
from gateway_helpers import chat, publish, request, running, version

from llm_rollout.gateway.handlers import RequestIds
from llm_rollout.mock import MockModel
from llm_rollout.policy import Route, bucket
from llm_rollout.profile import ModelProfile
from llm_rollout.records import Arm, RequestRecord, Role, Status, cost_usd
from llm_rollout.store.sqlite import SQLiteStore
from llm_rollout.testing import memory_store

FAST = ModelProfile(
    latency_ms=5,
    latency_sigma=0,
    ttft_ms=1,
    ttft_sigma=0,
    completion_tokens=8,
    completion_sigma=0,
    error_rate=0,
    refusal_rate=0,
    cached_fraction=0.25,
)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def mock(**changes: float) -> MockModel:
    return MockModel(ModelProfile(**{**FAST.__dict__, **changes}), seed=1, speed=1.0)


class Capturing:
    """Wraps an upstream app and keeps what it was sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[bytes, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(orjson.loads(message["body"]) if message["body"] else {})
        self.headers.append(dict(scope["headers"]))
        first = True

        async def replay() -> Any:
            nonlocal first
            if first:
                first = False
                return message
            return await receive()

        await self.inner(scope, replay, send)


class Hung:
    """Accepts the request and never answers; counts cancellations."""

    def __init__(self) -> None:
        self.cancelled = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def setup(store: SQLiteStore, **route: Any) -> tuple[str, str]:
    base = version("base", "base", params={"temperature": 0.5}, prompt_template="Be terse.")
    cand = version("cand", "cand")
    store.put_model(base)
    store.put_model(cand)
    route.setdefault("rollout_id", "r1")
    route.setdefault("step", 2)
    publish(store, {"chat": Route(baseline=base.digest, candidate=cand.digest, **route)})
    return base.digest, cand.digest


def records(store: SQLiteStore) -> list[RequestRecord]:
    return store.read_records()


def test_served_request_is_rewritten_answered_and_recorded() -> None:
    store = memory_store()
    base, _ = setup(store)
    upstream = Capturing(mock())

    async def scenario() -> None:
        async with running(store, {"base": upstream, "cand": mock()}) as gw:
            resp = await request(
                gw, "POST", "/v1/chat/completions", chat("chat", temperature=0.9, max_tokens=50)
            )
            assert resp.status == 200
            assert resp.headers["x-rollout-arm"] == "baseline"
            assert resp.headers["x-rollout-model"] == base
            assert resp.headers["x-request-id"].startswith("req_")
            assert 0 <= float(resp.headers["x-rollout-overhead-ms"]) < 50
            assert resp.json()["usage"]["prompt_tokens_details"]["cached_tokens"] > 0
            assert resp.headers["content-length"] == str(len(resp.body))  # not chunked
            default = await request(gw, "POST", "/v1/chat/completions", chat("chat"))
            assert default.status == 200

    run(scenario)
    sent = upstream.bodies[0]
    assert upstream.headers[0][b"accept-encoding"] == b"identity"  # bodies pass through as is
    assert sent["model"] == "base-upstream"
    assert sent["temperature"] == 0.9  # the client's value wins over the version default
    assert upstream.bodies[1]["temperature"] == 0.5
    assert sent["messages"][0] == {"role": "system", "content": "Be terse."}
    assert sent["messages"][1]["content"] == "hello"
    [first, _] = sorted(records(store), key=lambda r: r.time)
    assert (first.arm, first.role, first.status, first.rollout_id, first.step) == (
        Arm.BASELINE,
        Role.SERVE,
        Status.OK,
        "r1",
        2,
    )
    assert first.model_digest == base
    assert first.cached_tokens > 0
    assert first.completion_tokens == 8
    assert first.ttft_ms is None
    assert first.policy_version == 1
    expected = cost_usd(
        version("base", "base").prices.as_prices(),
        first.prompt_tokens,
        first.completion_tokens,
        first.cached_tokens,
    )
    assert first.cost_usd == pytest.approx(expected)


def test_sticky_key_from_header_or_user_field_keeps_the_arm() -> None:
    store = memory_store()
    setup(store, candidate_bp=5000, salt="s")

    async def scenario() -> None:
        async with running(store, {"base": mock(), "cand": mock()}) as gw:
            arms: dict[str, set[str]] = {}
            for i in range(40):
                key = f"user-{i % 8}"
                via_header = i % 2 == 0
                body = chat("chat") if via_header else chat("chat", user=key)
                hdrs = {"x-rollout-key": key} if via_header else {}
                resp = await request(gw, "POST", "/v1/chat/completions", body, hdrs)
                arms.setdefault(key, set()).add(resp.headers["x-rollout-arm"])
            assert all(len(a) == 1 for a in arms.values())
            assert {next(iter(a)) for a in arms.values()} == {"baseline", "candidate"}

    run(scenario)
    for r in records(store):
        assert r.sticky_bucket is not None
    keyed = {r.sticky_bucket for r in records(store)}
    assert keyed <= {bucket("s", f"user-{i}") for i in range(8)}
    assert all((r.arm is Arm.CANDIDATE) == (r.sticky_bucket < 5000) for r in records(store))


def test_without_a_key_each_request_draws() -> None:
    store = memory_store()
    setup(store, candidate_bp=5000)

    async def scenario() -> None:
        async with running(store, {"base": mock(), "cand": mock()}) as gw:
            for _ in range(60):
                await request(gw, "POST", "/v1/chat/completions", chat("chat"))

    run(scenario)
    arms = [r.arm for r in records(store)]
    assert 10 < arms.count(Arm.CANDIDATE) < 50
    assert all(r.sticky_bucket is None for r in records(store))


def test_registered_model_is_served_directly_and_unknown_is_404() -> None:
    store = memory_store()
    base, _ = setup(store)

    async def scenario() -> None:
        async with running(store, {"base": mock(), "cand": mock()}) as gw:
            by_name = await request(gw, "POST", "/v1/chat/completions", chat("base"))
            by_ref = await request(
                gw, "POST", "/v1/completions", {"model": f"base@sha256:{base[:16]}", "prompt": "hi"}
            )
            missing = await request(gw, "POST", "/v1/chat/completions", chat("nope"))
            assert by_name.status == by_ref.status == 200
            assert by_ref.json()["object"] == "text_completion"
            assert missing.status == 404
            assert missing.json()["error"]["code"] == "model_not_found"
            models = await request(gw, "GET", "/v1/models")
            assert {m["id"] for m in models.json()["data"]} == {"base", "cand", "chat"}

    run(scenario)
    assert {(r.rollout_id, r.step, r.model_digest) for r in records(store)} == {("", -1, base)}


def test_stream_ttft_usage_and_the_hidden_usage_chunk() -> None:
    store = memory_store()
    setup(store)
    upstream = Capturing(mock(latency_ms=60, ttft_ms=30))

    async def scenario() -> None:
        async with running(store, {"base": upstream, "cand": mock()}) as gw:
            plain = await request(gw, "POST", "/v1/chat/completions", chat("chat", stream=True))
            asked = await request(
                gw,
                "POST",
                "/v1/chat/completions",
                chat("chat", stream=True, stream_options={"include_usage": True}),
            )
            for resp in (plain, asked):
                assert resp.status == 200
                assert resp.headers["content-type"] == "text/event-stream"
                assert resp.events()[-1] == "[DONE]"
            assert not any(e != "[DONE]" and e["choices"] == [] for e in plain.events())
            assert asked.events()[-2]["usage"]["completion_tokens"] == 8
            text = "".join(e["choices"][0]["delta"].get("content", "") for e in plain.events()[:-1])
            assert text.startswith("The model")

    run(scenario)
    assert all(b["stream_options"] == {"include_usage": True} for b in upstream.bodies)
    for r in records(store):
        assert r.ttft_ms is not None
        assert 25 <= r.ttft_ms < r.latency_ms
        assert r.completion_tokens == 8
        assert r.cached_tokens > 0
        assert r.cost_usd > 0
        assert not r.usage_estimated
        assert r.finish_reason == "stop"


def test_refusals_are_detected_streamed_or_not() -> None:
    store = memory_store()
    setup(store)

    async def scenario() -> None:
        async with running(store, {"base": mock(refusal_rate=1.0), "cand": mock()}) as gw:
            await request(gw, "POST", "/v1/chat/completions", chat("chat"))
            await request(gw, "POST", "/v1/chat/completions", chat("chat", stream=True))
            await request(gw, "POST", "/v1/completions", {"model": "chat", "prompt": "x"})

    run(scenario)
    assert [r.refused for r in records(store)] == [True, True, True]


def test_missing_usage_is_estimated() -> None:
    store = memory_store()
    setup(store)

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        body = {"choices": [{"message": {"content": "x" * 40}, "finish_reason": "stop"}]}
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": orjson.dumps(body)})

    async def scenario() -> None:
        async with running(store, {"base": bare, "cand": mock()}) as gw:
            await request(gw, "POST", "/v1/chat/completions", chat("chat", content="y" * 80))

    run(scenario)
    [r] = records(store)
    assert r.usage_estimated
    assert r.completion_tokens == 10
    assert r.prompt_tokens == 23  # 80 user characters + the 10-character system prompt


async def _boom(scope: Any, receive: Any, send: Any) -> None:
    raise ConnectionResetError("reset by peer")


async def _bad_request(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 400, "headers": []})
    await send({"type": "http.response.body", "body": b"nope"})


@pytest.mark.parametrize(
    ("upstream", "status", "code", "recorded"),
    [
        (lambda: mock(error_rate=1.0), 500, "server_error", Status.ERROR),
        (Hung, 504, "timeout", Status.ERROR),
        (lambda: _boom, 502, "bad_gateway", Status.ERROR),
        (lambda: _bad_request, 400, "upstream_error", Status.CLIENT_ERROR),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_failures_become_openai_errors(
    upstream: Callable[[], Any], status: int, code: str, recorded: Status, stream: bool
) -> None:
    store = memory_store()
    base = version("base", "base", timeout=0.2)
    store.put_model(base)
    publish(store, {"chat": Route(baseline=base.digest)})

    async def scenario() -> None:
        async with running(store, {"base": upstream()}) as gw:
            resp = await request(gw, "POST", "/v1/chat/completions", chat("chat", stream=stream))
            assert resp.status == status
            assert resp.json()["error"]["code"] == code
            assert resp.headers["x-rollout-arm"] == "baseline"

    run(scenario)
    [r] = records(store)
    assert (r.status, r.http_status) == (recorded, status)


def test_failed_candidate_falls_back_to_baseline_when_configured() -> None:
    store = memory_store()
    base, _ = setup(store, candidate_bp=10_000)

    async def scenario() -> None:
        apps = {"base": mock(), "cand": mock(error_rate=1.0)}
        async with running(store, apps, fallback_to_baseline=True) as gw:
            for stream in (False, True):
                resp = await request(
                    gw, "POST", "/v1/chat/completions", chat("chat", stream=stream)
                )
                assert resp.status == 200
                assert resp.headers["x-rollout-arm"] == "baseline"
                assert resp.headers["x-rollout-model"] == base

    run(scenario)
    rs = records(store)
    failed = [r for r in rs if r.arm is Arm.CANDIDATE]
    served = [r for r in rs if r.arm is Arm.BASELINE]
    assert len(failed) == len(served) == 2
    assert all(r.status is Status.ERROR and r.request_id.endswith(":candidate") for r in failed)
    assert all(r.status is Status.OK and r.role is Role.SERVE for r in served)
    assert {r.request_id + ":candidate" for r in served} == {r.request_id for r in failed}


def test_feedback_for_a_queued_record_unknown_ids_and_last_wins() -> None:
    store = memory_store()
    setup(store)

    async def scenario() -> None:
        # a long flush interval keeps the record queued when its feedback arrives
        async with running(
            store, {"base": mock(), "cand": mock()}, record_flush_interval=10.0
        ) as gw:
            resp = await request(gw, "POST", "/v1/chat/completions", chat("chat"))
            rid = resp.headers["x-request-id"]
            first = await request(gw, "POST", "/v1/feedback", {"request_id": rid, "rating": "up"})
            assert first.status == 200
            second = await request(
                gw, "POST", "/v1/feedback", {"request_id": rid, "rating": "down", "label": "rude"}
            )
            assert second.json() == {
                "request_id": rid,
                "rating": -1.0,
                "label": "rude",
                "status": "recorded",
            }
            unknown = await request(
                gw, "POST", "/v1/feedback", {"request_id": "req_nope", "rating": 1}
            )
            assert unknown.status == 404
            assert unknown.json()["error"]["code"] == "request_not_found"
            bad = await request(gw, "POST", "/v1/feedback", {"request_id": rid, "rating": 3})
            assert bad.status == 400
            store_fb = store.get_feedback(rid)
            assert store_fb is not None
            assert (store_fb.rating, store_fb.label) == (-1.0, "rude")
            now = time.time()
            base_w, _ = store.read_window("r1", 2, Role.SERVE, now - 60, now + 60)
            assert (base_w.negative_feedback, base_w.n) == (1, 1)

    run(scenario)


@pytest.mark.parametrize("chunked", [False, True])
def test_oversize_bodies_are_refused_with_413(chunked: bool) -> None:
    store = memory_store()
    setup(store)
    big = orjson.dumps(chat("chat", content="x" * 5000))

    async def scenario() -> None:
        async with running(store, {"base": mock(), "cand": mock()}, max_body_bytes=4096) as gw:
            if chunked:
                parts = [big[i : i + 1000] for i in range(0, len(big), 1000)]
                resp = await request(gw, "POST", "/v1/chat/completions", body_parts=parts)
            else:
                resp = await request(gw, "POST", "/v1/chat/completions", raw=big)
            assert resp.status == 413
            assert resp.json()["error"]["code"] == "request_too_large"

    run(scenario)
    assert records(store) == []


def test_client_keys_paths_and_methods() -> None:
    store = memory_store()
    setup(store)

    async def scenario() -> None:
        async with running(store, {"base": mock(), "cand": mock()}) as gw:
            gw._keys = (b"k1", b"k2")  # as load_config resolves them from api_key_env
            path = "/v1/chat/completions"
            none = await request(gw, "POST", path, chat("chat"))
            wrong = await request(gw, "POST", path, chat("chat"), {"authorization": "Bearer k3"})
            right = await request(gw, "POST", path, chat("chat"), {"authorization": "Bearer k2"})
            assert (none.status, wrong.status, right.status) == (401, 401, 200)
            assert none.json()["error"]["code"] == "invalid_api_key"
            assert (await request(gw, "GET", "/healthz")).status == 200
            assert (await request(gw, "GET", "/readyz")).json()["policy_version"] == 1
            authed = {"authorization": "Bearer k1"}
            assert (await request(gw, "GET", path, headers=authed)).status == 405
            assert (await request(gw, "GET", "/v2/nothing", headers=authed)).status == 404

    run(scenario)


def test_upstream_key_comes_from_the_named_environment_variable() -> None:
    store = memory_store()
    base = version("base", "base", api_key_env="UPSTREAM_KEY")
    store.put_model(base)
    publish(store, {"chat": Route(baseline=base.digest)})
    guarded = MockModel(FAST, seed=1, speed=0, api_key="s3cret")

    async def scenario() -> None:
        async with running(store, {"base": guarded}, env={"UPSTREAM_KEY": "s3cret"}) as gw:
            ok = await request(gw, "POST", "/v1/chat/completions", chat("chat"))
            assert ok.status == 200
        async with running(store, {"base": guarded}, env={"UPSTREAM_KEY": "wrong"}) as gw:
            denied = await request(gw, "POST", "/v1/chat/completions", chat("chat"))
            assert denied.status == 401

    run(scenario)
    assert sorted(r.status for r in records(store)) == [Status.CLIENT_ERROR, Status.OK]


def test_client_disconnect_cancels_the_upstream_stream() -> None:
    store = memory_store()
    setup(store)
    slow = mock(latency_ms=60_000, ttft_ms=1, completion_tokens=64)

    async def scenario() -> None:
        async with running(store, {"base": slow, "cand": mock()}) as gw:
            t0 = time.perf_counter()
            resp = await request(
                gw,
                "POST",
                "/v1/chat/completions",
                chat("chat", stream=True),
                disconnect_after_chunks=2,
            )
            assert time.perf_counter() - t0 < 5
            assert resp.status == 200

    run(scenario)
    [r] = records(store)
    assert (r.status, r.http_status) == (Status.CLIENT_ERROR, 499)


def test_shadow_copies_are_bounded_dropped_and_recorded() -> None:
    store = memory_store()
    setup(store, shadow_sample=1.0, shadow_max_concurrency=2, shadow_timeout=0.3)
    hung = Hung()

    async def scenario() -> None:
        async with running(store, {"base": mock(), "cand": hung}) as gw:
            for _ in range(5):
                resp = await request(gw, "POST", "/v1/chat/completions", chat("chat"))
                assert resp.status == 200
            text = gw.metrics.render().decode()
            assert 'llm_rollout_gateway_shadow_dropped_total{model="chat"} 3' in text
            await asyncio.sleep(0.5)  # the two copies time out

    run(scenario)
    shadows = [r for r in records(store) if r.role is Role.SHADOW]
    assert len(shadows) == 2
    assert all(r.arm is Arm.CANDIDATE and r.status is Status.ERROR for r in shadows)
    assert hung.cancelled == 2


def test_streamed_shadow_copy_captures_ttft_and_usage() -> None:
    store = memory_store()
    _, cand = setup(store, shadow_sample=1.0)

    async def scenario() -> None:
        async with running(store, {"base": mock(), "cand": mock(ttft_ms=5)}) as gw:
            await request(gw, "POST", "/v1/chat/completions", chat("chat", stream=True))
            await asyncio.sleep(0.1)

    run(scenario)
    [shadow] = [r for r in records(store) if r.role is Role.SHADOW]
    assert shadow.model_digest == cand
    assert shadow.ttft_ms is not None
    assert shadow.completion_tokens == 8
    assert shadow.cost_usd > 0


def test_policy_change_applies_to_the_next_request_not_in_flight_ones() -> None:
    store = memory_store()
    base, cand = setup(store, candidate_bp=10_000)

    async def scenario() -> None:
        apps = {"base": mock(), "cand": mock(latency_ms=300)}
        async with running(store, apps) as gw:
            in_flight = asyncio.create_task(
                request(gw, "POST", "/v1/chat/completions", chat("chat"))
            )
            await asyncio.sleep(0.05)
            publish(store, {"chat": Route(baseline=base, candidate=cand, candidate_bp=0)})
            t0 = time.perf_counter()
            while gw.handlers is not None and gw.handlers.watcher.table.policy.version != 2:
                await asyncio.sleep(0.005)
            assert time.perf_counter() - t0 < 0.2
            after = await request(gw, "POST", "/v1/chat/completions", chat("chat"))
            assert after.headers["x-rollout-arm"] == "baseline"
            assert (await in_flight).headers["x-rollout-arm"] == "candidate"

    run(scenario)
    assert sorted((r.policy_version, r.arm.value) for r in records(store)) == [
        (1, "candidate"),
        (2, "baseline"),
    ]


def test_full_record_queue_drops_and_counts_and_shutdown_flushes_the_rest() -> None:
    store = memory_store()
    setup(store)

    async def scenario() -> None:
        async with running(
            store, {"base": mock(), "cand": mock()}, record_queue_max=2, record_flush_interval=10.0
        ) as gw:
            for _ in range(5):
                await request(gw, "POST", "/v1/chat/completions", chat("chat"))
            text = gw.metrics.render().decode()
            assert 'records_dropped_total{reason="queue_full"} 3' in text
            assert "llm_rollout_gateway_record_queue_depth 2" in text

    run(scenario)
    assert len(records(store)) == 2


def test_payloads_are_stored_only_when_asked(tmp_path: Path) -> None:
    store = memory_store()
    setup(store)

    async def scenario(store_payloads: bool) -> None:
        async with running(
            store, {"base": mock(), "cand": mock()}, home=tmp_path, store_payloads=store_payloads
        ) as gw:
            await request(gw, "POST", "/v1/chat/completions", chat("chat", content="secret-1"))
            await request(
                gw, "POST", "/v1/chat/completions", chat("chat", content="secret-2", stream=True)
            )

    asyncio.run(scenario(False))
    assert not (tmp_path / "payloads").exists()
    asyncio.run(scenario(True))
    [log] = (tmp_path / "payloads").iterdir()
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert ["secret-1" in x["request"] for x in lines] == [True, False]
    assert all("The model" in x["response"] for x in lines)
    assert {x["role"] for x in lines} == {"serve"}


def test_shadow_answers_are_logged_even_when_the_candidate_fails(tmp_path: Path) -> None:
    store = memory_store()
    setup(store, shadow_sample=1.0)
    ids: list[str] = []

    async def scenario() -> None:
        apps = {"base": mock(), "cand": mock(error_rate=1.0)}
        async with running(store, apps, home=tmp_path, store_payloads=True) as gw:
            for stream in (False, True):
                resp = await request(
                    gw, "POST", "/v1/chat/completions", chat("chat", stream=stream)
                )
                ids.append(resp.headers["x-request-id"])
            await asyncio.sleep(0.1)  # the copies finish; shutdown flushes the log

    run(scenario)
    [log] = (tmp_path / "payloads").iterdir()
    lines = {
        (x["request_id"], x["role"]): x for x in map(orjson.loads, log.read_bytes().splitlines())
    }
    assert set(lines) == {(rid, role) for rid in ids for role in ("serve", "shadow")}
    for rid in ids:
        assert "The model" in lines[(rid, "serve")]["response"]
        assert orjson.loads(lines[(rid, "shadow")]["response"])["error"]  # the 500's body
        assert "request" not in lines[(rid, "shadow")]


def test_embeddings_pass_through_to_the_baseline() -> None:
    store = memory_store()
    setup(store, candidate_bp=10_000)
    upstream = Capturing(mock())

    async def scenario() -> None:
        async with running(store, {"base": upstream, "cand": mock()}) as gw:
            resp = await request(gw, "POST", "/v1/embeddings", {"model": "chat", "input": "hi"})
            assert resp.status == 200
            assert len(resp.json()["data"][0]["embedding"]) == 8

    run(scenario)
    assert upstream.bodies[0] == {"model": "base-upstream", "input": "hi"}
    assert records(store) == []


def test_a_failing_store_still_gets_an_openai_style_500() -> None:
    store = memory_store()
    setup(store)

    def broken(_: object) -> bool:
        raise RuntimeError("disk on fire")

    async def scenario() -> None:
        async with running(store, {"base": mock(), "cand": mock()}) as gw:
            store.append_feedback = broken  # type: ignore[method-assign]
            resp = await request(gw, "POST", "/v1/feedback", {"request_id": "x", "rating": 1})
            assert resp.status == 500
            assert resp.json()["error"]["code"] == "internal_error"

    run(scenario)


def test_request_ids_sort_by_time_and_never_repeat() -> None:
    now = [1_700_000_000.0]
    ids = RequestIds(lambda: now[0])
    same_millisecond = [ids.next() for _ in range(1000)]  # several refills of the random pool
    now[0] += 0.002
    later = ids.next()
    assert len(set(same_millisecond)) == 1000
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", i) for i in [*same_millisecond, later])
    assert all(i < later for i in same_millisecond)
