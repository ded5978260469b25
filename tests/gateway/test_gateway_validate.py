"""Malformed requests become OpenAI-style 400s (pure validation)."""

from __future__ import annotations

import pytest

from llm_rollout.gateway.errors import GatewayHTTPError
from llm_rollout.gateway.validate import parse_feedback, parse_generation

CHAT = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'


@pytest.mark.parametrize(
    ("raw", "endpoint", "param"),
    [
        (b"", "chat", None),
        (b"{bad", "chat", None),
        (b"[1, 2]", "chat", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "chat", "model"),
        (b'{"model": 3, "messages": [{"role": "user"}]}', "chat", "model"),
        (b'{"model": "m"}', "chat", "messages"),
        (b'{"model": "m", "messages": ["x"]}', "chat", "messages"),
        (b'{"model": "m", "messages": [{}], "stream": "yes"}', "chat", "stream"),
        (b'{"model": "m", "messages": [{}], "max_tokens": true}', "chat", "max_tokens"),
        (b'{"model": "m", "messages": [{}], "temperature": "hot"}', "chat", "temperature"),
        (b'{"model": "m", "messages": [{}], "user": 5}', "chat", "user"),
        (b'{"model": "m", "prompt": 5}', "completions", "prompt"),
        (b'{"model": "m"}', "embeddings", "input"),
    ],
)
def test_malformed_generation_requests(raw: bytes, endpoint: str, param: str | None) -> None:
    with pytest.raises(GatewayHTTPError) as info:
        parse_generation(raw, endpoint)
    assert info.value.status == 400
    assert info.value.param == param
    assert info.value.type == "invalid_request_error"


def test_valid_generation_request() -> None:
    assert parse_generation(CHAT, "chat")["model"] == "m"
    assert parse_generation(b'{"model": "m", "prompt": "x", "stream": null}', "completions")


@pytest.mark.parametrize(
    ("rating", "value"), [('"up"', 1.0), ('"DOWN"', -1.0), ("0.5", 0.5), ("-1", -1.0)]
)
def test_feedback_ratings(rating: str, value: float) -> None:
    raw = b'{"request_id": "r1", "rating": ' + rating.encode() + b', "label": "tone"}'
    assert parse_feedback(raw) == ("r1", value, "tone")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"rating": "up"}',
        b'{"request_id": "", "rating": "up"}',
        b'{"request_id": "r", "rating": "meh"}',
        b'{"request_id": "r", "rating": 1.5}',
        b'{"request_id": "r", "rating": true}',
        b'{"request_id": "r", "rating": "up", "label": 3}',
    ],
)
def test_feedback_rejects_bad_bodies(raw: bytes) -> None:
    with pytest.raises(GatewayHTTPError) as info:
        parse_feedback(raw)
    assert info.value.status == 400
