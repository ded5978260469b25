"""The mock model server in-process: OpenAI shapes, pacing, usage, errors, refusals."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from llm_rollout.mock import REFUSAL_TEXT, MockModel
from llm_rollout.profile import ModelProfile

STEADY = ModelProfile(
    latency_ms=200,
    latency_sigma=0,
    ttft_ms=50,
    ttft_sigma=0,
    completion_tokens=10,
    completion_sigma=0,
    error_rate=0,
    refusal_rate=0,
    cached_fraction=0.5,
    prompt_tokens=100,
)


def call(
    app: MockModel, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, list[tuple[float, bytes]]]:
    """(status, [(seconds since start, body chunk)])."""
    chunks: list[tuple[float, bytes]] = []
    status = 0

    async def go() -> None:
        nonlocal status
        data = b"" if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        t0 = time.perf_counter()

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": data, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message.get("body"):
                chunks.append((time.perf_counter() - t0, message["body"]))

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        }
        await app(scope, receive, send)

    asyncio.run(go())
    return status, chunks


def events(chunks: list[tuple[float, bytes]]) -> list[tuple[float, Any]]:
    out = []
    for t, data in chunks:
        for line in data.splitlines():
            if line.startswith(b"data: "):
                payload = line[6:]
                out.append((t, "[DONE]" if payload == b"[DONE]" else orjson.loads(payload)))
    return out


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_chat_answer_has_usage_with_cached_tokens_after_the_latency() -> None:
    status, chunks = call(MockModel(STEADY, seed=1), "POST", "/v1/chat/completions", CHAT)
    assert status == 200
    [(t, data)] = chunks
    assert 0.19 <= t < 0.4
    body = orjson.loads(data)
    assert body["object"] == "chat.completion"
    assert body["model"] == "m"
    usage = body["usage"]
    assert usage["completion_tokens"] == 10
    assert usage["prompt_tokens_details"]["cached_tokens"] == round(usage["prompt_tokens"] / 2)
    assert body["choices"][0]["message"]["content"].startswith("The model")


def test_stream_paces_ttft_then_chunks_and_ends_with_usage_when_asked() -> None:
    app = MockModel(STEADY, seed=1)
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    status, chunks = call(app, "POST", "/v1/chat/completions", body)
    assert status == 200
    evs = events(chunks)
    assert evs[-1][1] == "[DONE]"
    _, usage_chunk = evs[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 10
    content = [(t, e) for t, e in evs[:-2] if e["choices"][0]["delta"].get("content")]
    assert 0.045 <= content[0][0] < 0.15  # TTFT
    assert 0.19 <= content[-1][0] < 0.4  # the whole stream takes the latency
    assert content[-1][1]["choices"][0]["finish_reason"] == "stop"
    assert all(e["usage"] is None for _, e in evs[:-2])


def test_stream_without_include_usage_has_no_usage_chunk() -> None:
    app = MockModel(STEADY, seed=1, speed=0)
    _, chunks = call(app, "POST", "/v1/completions", {"model": "m", "prompt": "x", "stream": True})
    evs = [e for _, e in events(chunks)]
    assert evs[-1] == "[DONE]"
    assert all("usage" not in e for e in evs[:-1])
    assert "".join(e["choices"][0]["text"] for e in evs[:-1]).startswith("The model")


def test_speed_zero_never_sleeps() -> None:
    # No errors: this test is about sleeping; the default 0.5% error rate failed it now and then.
    slow = ModelProfile(latency_ms=5000, latency_sigma=0, ttft_ms=4000, ttft_sigma=0, error_rate=0)
    t0 = time.perf_counter()
    for stream in (False, True):
        status, _ = call(
            MockModel(slow, speed=0), "POST", "/v1/chat/completions", {**CHAT, "stream": stream}
        )
        assert status == 200
    assert time.perf_counter() - t0 < 1


def test_errors_are_500_with_an_openai_body() -> None:
    app = MockModel(ModelProfile(error_rate=1.0), speed=0)
    status, [(_, data)] = call(app, "POST", "/v1/chat/completions", CHAT)
    assert status == 500
    assert orjson.loads(data)["error"]["type"] == "server_error"


def test_refusals_carry_the_phrase_and_the_refusal_field() -> None:
    app = MockModel(ModelProfile(refusal_rate=1.0, error_rate=0), speed=0)
    _, [(_, data)] = call(app, "POST", "/v1/chat/completions", CHAT)
    message = orjson.loads(data)["choices"][0]["message"]
    assert message["content"] == message["refusal"] == REFUSAL_TEXT
    _, chunks = call(app, "POST", "/v1/chat/completions", {**CHAT, "stream": True})
    deltas = [e["choices"][0]["delta"] for _, e in events(chunks)[:-1]]
    assert any(d.get("refusal") == REFUSAL_TEXT for d in deltas)


def test_embeddings_models_and_bad_requests() -> None:
    app = MockModel(speed=0, model_id="mock-x")
    status, [(_, data)] = call(app, "POST", "/v1/embeddings", {"model": "e", "input": ["a", "b"]})
    assert status == 200
    assert [d["index"] for d in orjson.loads(data)["data"]] == [0, 1]
    status, [(_, data)] = call(app, "GET", "/v1/models")
    assert orjson.loads(data)["data"][0]["id"] == "mock-x"
    assert call(app, "POST", "/v1/chat/completions", b"{oops")[0] == 400
    assert call(app, "GET", "/v1/nothing")[0] == 404


def test_api_key_is_required_when_configured() -> None:
    app = MockModel(speed=0, api_key="k")
    assert call(app, "GET", "/v1/models")[0] == 401
    assert call(app, "GET", "/v1/models", headers={"authorization": "Bearer k"})[0] == 200


def test_negative_speed_is_rejected() -> None:
    with pytest.raises(ValueError, match="speed"):
        MockModel(speed=-1)
