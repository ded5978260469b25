"""An OpenAI-compatible mock model server (raw ASGI) whose behaviour comes from a ModelProfile.

Endpoints: POST /v1/chat/completions and /v1/completions (streamed or not), POST
/v1/embeddings, GET /v1/models. Non-streamed answers arrive after the drawn latency; streams
send the first content after the drawn TTFT and the remaining chunks evenly spaced so that the
whole stream takes the drawn latency. Usage (with ``prompt_tokens_details.cached_tokens``) is in
every answer, and in a final usage-only chunk when a stream asks with
``stream_options.include_usage``. Errors are 500s with an OpenAI error body. ``speed`` scales
every delay (0: no sleeping at all, for throughput benchmarks).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
from typing import Any

import orjson

from ..profile import ModelProfile
from .behaviour import REFUSAL_TEXT, Plan, draw

Scope = dict[str, Any]
MAX_CHUNKS = 64  # longer outputs are streamed a few tokens per chunk


class MockModel:
    def __init__(
        self,
        profile: ModelProfile | None = None,
        seed: int | None = None,
        speed: float = 1.0,
        model_id: str = "mock-model",
        api_key: str | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.profile = profile or ModelProfile()
        self.rng = random.Random(seed)
        self.speed = speed
        self.model_id = model_id
        self._key = api_key.encode() if api_key else None
        self.requests = 0

    async def _sleep(self, seconds: float) -> None:
        if self.speed > 0 and seconds > 0:
            await asyncio.sleep(seconds * self.speed)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        path, method = scope["path"], scope["method"]
        if self._key is not None and not self._authorized(scope):
            await _json(send, 401, _error("Incorrect API key provided.", "invalid_api_key"))
            return
        if path == "/v1/models" and method == "GET":
            await _json(
                send,
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": self.model_id, "object": "model", "created": 0, "owned_by": "mock"}
                    ],
                },
            )
            return
        endpoint = {
            "/v1/chat/completions": "chat",
            "/v1/completions": "completions",
            "/v1/embeddings": "embeddings",
        }.get(path)
        if endpoint is None or method != "POST":
            await _json(send, 404, _error(f"Unknown path {path}", "not_found"))
            return
        try:
            body = orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            await _json(send, 400, _error("Invalid JSON body", "invalid_request"))
            return
        self.requests += 1
        if endpoint == "embeddings":
            await self._embeddings(send, body)
            return
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        plan = draw(self.profile, self.rng, max_tokens if isinstance(max_tokens, int) else None)
        requested = body.get("model")
        model = requested if isinstance(requested, str) else self.model_id
        if plan.error:
            await self._sleep(plan.ttft_s)
            await _json(
                send,
                500,
                _error("The mock model failed (drawn error).", "server_error", "server_error"),
            )
        elif body.get("stream") is True:
            options = body.get("stream_options")
            usage = isinstance(options, dict) and options.get("include_usage") is True
            await self._stream(send, plan, endpoint, model, usage)
        else:
            await self._sleep(plan.latency_s)
            await _json(send, 200, _completion(plan, endpoint, model))

    def _authorized(self, scope: Scope) -> bool:
        given = dict(scope["headers"]).get(b"authorization", b"")
        return self._key is not None and hmac.compare_digest(given, b"Bearer " + self._key)

    async def _stream(
        self, send: Any, plan: Plan, endpoint: str, model: str, include_usage: bool
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        cid = f"mock-{self.requests}"
        usage_field: dict[str, Any] = {"usage": None} if include_usage else {}
        if endpoint == "chat":
            first = _chunk(cid, model, endpoint, {"role": "assistant", "content": ""}, None)
            await _event(send, {**first, **usage_field})
        pieces = plan.pieces()
        per = max(1, -(-len(pieces) // MAX_CHUNKS))
        groups = ["".join(pieces[i : i + per]) for i in range(0, len(pieces), per)]
        await self._sleep(plan.ttft_s)
        gap = (plan.latency_s - plan.ttft_s) / max(len(groups) - 1, 1)  # last chunk at latency
        for i, text in enumerate(groups):
            if i:
                await self._sleep(gap)
            last = i == len(groups) - 1
            delta: dict[str, Any] = {"content": text}
            if plan.refused and endpoint == "chat" and i == 0:
                delta["refusal"] = REFUSAL_TEXT
            chunk = _chunk(cid, model, endpoint, delta, plan.finish_reason if last else None)
            await _event(send, {**chunk, **usage_field})
        if include_usage:
            await _event(
                send,
                {
                    "id": cid,
                    "object": _object(endpoint, True),
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": _usage(plan),
                },
            )
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _embeddings(self, send: Any, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        data = []
        tokens = 0
        for i, item in enumerate(items):
            text = str(item)
            tokens += max(1, len(text) // 4)
            digest = hashlib.sha256(text.encode()).digest()
            data.append(
                {"object": "embedding", "index": i, "embedding": [b / 255 for b in digest[:8]]}
            )
        await self._sleep(self.profile.ttft_ms / 1000)
        await _json(
            send,
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


def _object(endpoint: str, stream: bool) -> str:
    if endpoint == "chat":
        return "chat.completion.chunk" if stream else "chat.completion"
    return "text_completion"


def _usage(plan: Plan) -> dict[str, Any]:
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": plan.cached_tokens},
    }


def _completion(plan: Plan, endpoint: str, model: str) -> dict[str, Any]:
    text = "".join(plan.pieces())
    if endpoint == "chat":
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text,
            "refusal": text if plan.refused else None,
        }
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "finish_reason": plan.finish_reason,
        }
    else:
        choice = {"index": 0, "text": text, "finish_reason": plan.finish_reason}
    return {
        "id": "mock-cmpl",
        "object": _object(endpoint, False),
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": _usage(plan),
    }


def _chunk(
    cid: str, model: str, endpoint: str, delta: dict[str, Any], finish: str | None
) -> dict[str, Any]:
    if endpoint == "chat":
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
    else:
        choice = {"index": 0, "text": delta.get("content", ""), "finish_reason": finish}
    return {
        "id": cid,
        "object": _object(endpoint, True),
        "created": 0,
        "model": model,
        "choices": [choice],
    }


async def _event(send: Any, obj: dict[str, Any]) -> None:
    await send(
        {
            "type": "http.response.body",
            "body": b"data: " + orjson.dumps(obj) + b"\n\n",
            "more_body": True,
        }
    )


def _error(message: str, code: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


async def _json(send: Any, status: int, obj: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(obj)})
