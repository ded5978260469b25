"""Usage, TTFT, refusal and SSE handling (pure)."""

from __future__ import annotations

import orjson
import pytest

from llm_rollout.gateway.capture import (
    RefusalMatcher,
    StreamCapture,
    Usage,
    estimate_tokens,
    prompt_chars,
    summarize_body,
    usage_from,
)
from llm_rollout.gateway.config import DEFAULT_REFUSAL_PHRASES

MATCH = RefusalMatcher(DEFAULT_REFUSAL_PHRASES)


def sse(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def chunk(content: str | None = None, finish: str | None = None, **delta: object) -> bytes:
    d = dict(delta)
    if content is not None:
        d["content"] = content
    return sse({"choices": [{"index": 0, "delta": d, "finish_reason": finish}], "usage": None})


USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 4}}


def test_usage_reads_cached_tokens_and_ignores_garbage() -> None:
    assert usage_from(USAGE) == Usage(11, 7, 4)
    assert usage_from({"prompt_tokens": -3, "completion_tokens": "x"}) == Usage(0, 0, 0)
    assert usage_from(None) is None
    assert usage_from([1]) is None


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("I'm sorry, but I can't help with that.", True),
        ("  i\u2019M SORRY, BUT I CAN\u2019T do it", True),
        ("Sure! I'm sorry, but I can't stop smiling", False),
        ("", False),
    ],
)
def test_refusal_phrases_match_case_insensitively_at_the_start(text: str, refused: bool) -> None:
    assert MATCH(text) is refused


def test_no_phrases_never_match() -> None:
    assert RefusalMatcher([]).__call__("I'm sorry, but I can't") is False


def test_summarize_chat_body() -> None:
    body = {
        "choices": [{"message": {"content": "Hello", "refusal": None}, "finish_reason": "stop"}],
        "usage": USAGE,
    }
    out = summarize_body(body, 40, MATCH)
    assert out.usage == Usage(11, 7, 4)
    assert out.finish_reason == "stop"
    assert not out.refused


@pytest.mark.parametrize(
    "choice",
    [
        {"message": {"content": None, "refusal": "No."}, "finish_reason": "stop"},
        {"message": {"content": "ok"}, "finish_reason": "content_filter"},
        {"message": {"content": "I cannot help with this."}, "finish_reason": "stop"},
        {"text": "I can't assist with that", "finish_reason": "stop"},
    ],
)
def test_summarize_detects_each_kind_of_refusal(choice: dict[str, object]) -> None:
    assert summarize_body({"choices": [choice], "usage": USAGE}, 0, MATCH).refused


def test_summarize_estimates_missing_usage_from_characters() -> None:
    body = {"choices": [{"message": {"content": "x" * 41}, "finish_reason": "stop"}]}
    out = summarize_body(body, 80, MATCH)
    assert out.usage == Usage(20, 11, 0, estimated=True)
    assert estimate_tokens(0) == 0


def test_prompt_chars_counts_messages_parts_and_prompts() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "abcd"},
            {"role": "user", "content": [{"type": "text", "text": "ef"}, {"type": "image"}]},
        ],
        "prompt": ["gh", 3],
    }
    assert prompt_chars(body) == 8


def test_stream_ttft_is_first_non_empty_content_and_usage_chunk_is_hidden() -> None:
    cap = StreamCapture(keep_usage_chunk=False, request_prompt_chars=10)
    out = cap.feed(chunk("", role="assistant"), 0.010)
    assert out  # the role chunk is forwarded but is no first token
    assert cap.ttft_s is None
    cap.feed(chunk("Hel"), 0.050)
    cap.feed(chunk("lo", finish="stop"), 0.090)
    usage_event = sse({"choices": [], "usage": USAGE})
    assert cap.feed(usage_event + b"data: [DONE]\n\n", 0.1) == b"data: [DONE]\n\n"
    o = cap.outcome(MATCH)
    assert o.ttft_s == 0.050
    assert o.usage == Usage(11, 7, 4)
    assert o.finish_reason == "stop"
    assert cap.done


def test_stream_keeps_usage_chunk_for_a_client_that_asked() -> None:
    cap = StreamCapture(keep_usage_chunk=True)
    usage_event = sse({"choices": [], "usage": USAGE})
    assert cap.feed(usage_event, 0.1) == usage_event


def test_stream_events_split_across_reads_are_reassembled() -> None:
    whole = chunk("I'm sorry, but ") + chunk("I can't help") + b"data: [DONE]\n\n"
    cap = StreamCapture(keep_usage_chunk=False, request_prompt_chars=40)
    forwarded = b"".join(cap.feed(whole[i : i + 7], i / 1000) for i in range(0, len(whole), 7))
    assert forwarded + cap.flush() == whole
    o = cap.outcome(MATCH)
    assert o.refused
    assert o.usage.estimated
    assert o.usage.prompt_tokens == 10
    assert o.usage.completion_tokens == estimate_tokens(len("I'm sorry, but I can't help"))


def test_stream_crlf_events_and_refusal_delta() -> None:
    event = b'data: {"choices":[{"delta":{"refusal":"no"},"finish_reason":null}]}\r\n\r\n'
    cap = StreamCapture(keep_usage_chunk=False)
    assert cap.feed(event, 0.2) == event
    assert cap.outcome(MATCH).refused
    assert cap.ttft_s == 0.2


def test_stream_completions_text_and_content_filter() -> None:
    cap = StreamCapture(keep_usage_chunk=False, collect=True)
    cap.feed(sse({"choices": [{"text": "abc", "finish_reason": "content_filter"}]}), 0.3)
    o = cap.outcome(MATCH)
    assert o.refused
    assert cap.text() == "abc"


def test_stream_tolerates_comments_and_bad_json() -> None:
    cap = StreamCapture(keep_usage_chunk=False)
    data = b": keep-alive\n\ndata: {not json\n\n"
    assert cap.feed(data, 0.1) == data
    assert cap.flush() == b""
