"""What one upstream call tells us: usage, TTFT, finish reason, refusal. Pure functions.

Non-streamed responses are summarised from their JSON body with :func:`summarize_body`.
Streams go through :class:`StreamCapture`, which splits the upstream bytes into SSE events,
records the time of the first non-empty content, reads the usage from the final chunk (the
gateway always asks for ``stream_options.include_usage``) and drops that usage-only chunk for a
client that did not ask for it. When a provider returns no usage, tokens are estimated at four
characters per token and flagged ``usage_estimated``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

HEAD_CHARS = 200  # how much of the output is kept to match refusal phrases against


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """The summary of one response, ready to become a RequestRecord."""

    usage: Usage
    finish_reason: str | None
    refused: bool
    ttft_s: float | None = None  # seconds after the request was sent; streams only


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / 4) if chars > 0 else 0


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from(obj: Any) -> Usage | None:
    """OpenAI ``usage`` -> Usage; None when absent or not an object."""
    if not isinstance(obj, dict):
        return None
    details = obj.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return Usage(_int(obj.get("prompt_tokens")), _int(obj.get("completion_tokens")), cached)


def prompt_chars(body: dict[str, Any]) -> int:
    """Characters of the request's prompt, for estimating usage a provider did not return."""
    total = 0
    messages = body.get("messages")
    if isinstance(messages, list):
        for m in messages:
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, str):
                total += len(content)
            elif isinstance(content, list):
                total += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        total += len(prompt)
    elif isinstance(prompt, list):
        total += sum(len(p) for p in prompt if isinstance(p, str))
    return total


class RefusalMatcher:
    """Case-insensitive match of configured phrases at the start of the output."""

    __slots__ = ("_phrases",)

    def __init__(self, phrases: Iterable[str]) -> None:
        self._phrases = tuple(_norm(p) for p in phrases if p.strip())

    def __call__(self, text: str) -> bool:
        head = _norm(text[:HEAD_CHARS])
        return bool(self._phrases) and head.startswith(self._phrases)


def _norm(text: str) -> str:
    return text.lstrip().replace("\u2019", "'").casefold()


def _choice_text(choice: dict[str, Any]) -> tuple[str, bool]:
    """(content, explicit refusal) of a non-streamed choice, chat or completions."""
    message = choice.get("message")
    if isinstance(message, dict):
        content = message.get("content")
        refusal = message.get("refusal")
        return (content if isinstance(content, str) else ""), bool(refusal)
    text = choice.get("text")
    return (text if isinstance(text, str) else ""), False


def summarize_body(body: Any, request_prompt_chars: int, is_refusal: RefusalMatcher) -> Outcome:
    """Summarise a non-streamed chat or completions response body (already parsed)."""
    if not isinstance(body, dict):
        return Outcome(Usage(estimated=True), None, False)
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    text, explicit = _choice_text(first) if isinstance(first, dict) else ("", False)
    finish = first.get("finish_reason") if isinstance(first, dict) else None
    finish = finish if isinstance(finish, str) else None
    usage = usage_from(body.get("usage"))
    if usage is None:
        chars = (
            sum(len(_choice_text(c)[0]) for c in choices if isinstance(c, dict))
            if isinstance(choices, list)
            else 0
        )
        usage = Usage(estimate_tokens(request_prompt_chars), estimate_tokens(chars), 0, True)
    refused = explicit or finish == "content_filter" or is_refusal(text)
    return Outcome(usage, finish, refused)


class StreamCapture:
    """Incremental SSE reader. ``feed(chunk, now)`` returns the bytes to forward.

    ``now`` is seconds since the upstream request was sent (the caller's clock), so this class
    stays pure and testable with made-up times.
    """

    __slots__ = (
        "_buf",
        "_collect",
        "_head",
        "_head_len",
        "_keep_usage_chunk",
        "_prompt_chars",
        "chars",
        "done",
        "explicit_refusal",
        "finish_reason",
        "ttft_s",
        "usage",
    )

    def __init__(
        self, keep_usage_chunk: bool, request_prompt_chars: int = 0, collect: bool = False
    ) -> None:
        self._buf = b""
        self._collect = collect
        self._keep_usage_chunk = keep_usage_chunk
        self._prompt_chars = request_prompt_chars
        self._head: list[str] = []
        self._head_len = 0
        self.chars = 0
        self.ttft_s: float | None = None
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.explicit_refusal = False
        self.done = False

    def feed(self, chunk: bytes, now: float) -> bytes:
        buf = self._buf + chunk if self._buf else chunk
        out: list[bytes] = []
        start = 0
        while True:
            end = _event_end(buf, start)
            if end < 0:
                break
            event = buf[start:end]
            if self._read_event(event, now):
                out.append(event)
            start = end
        self._buf = buf[start:]
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def flush(self) -> bytes:
        """What is left when the upstream closed mid-event (forwarded as is)."""
        rest, self._buf = self._buf, b""
        return rest

    def _read_event(self, event: bytes, now: float) -> bool:
        """Update the capture from one event; False when the event must not be forwarded."""
        for line in event.splitlines():
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
                continue
            try:
                obj = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict) and not self._read_chunk(obj, now):
                return False
        return True

    def _read_chunk(self, obj: dict[str, Any], now: float) -> bool:
        choices = obj.get("choices")
        usage = usage_from(obj.get("usage"))
        if usage is not None:
            self.usage = usage
        if not choices:
            # the usage-only final chunk exists because the gateway asked for it
            return usage is None or self._keep_usage_chunk
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text = delta.get("content")
                if delta.get("refusal"):
                    self.explicit_refusal = True
                    text = text or delta.get("refusal")
            else:
                text = choice.get("text")
            if isinstance(text, str) and text:
                if self.ttft_s is None:
                    self.ttft_s = now
                if self._collect or self._head_len < HEAD_CHARS:
                    self._head.append(text)
                    self._head_len += len(text)
                self.chars += len(text)
            finish = choice.get("finish_reason")
            if isinstance(finish, str):
                self.finish_reason = finish
        return True

    def text(self) -> str:
        """The output seen so far (all of it with ``collect=True``, else its head)."""
        return "".join(self._head)

    def outcome(self, is_refusal: RefusalMatcher) -> Outcome:
        usage = self.usage
        if usage is None:
            usage = Usage(estimate_tokens(self._prompt_chars), estimate_tokens(self.chars), 0, True)
        refused = (
            self.explicit_refusal
            or self.finish_reason == "content_filter"
            or is_refusal("".join(self._head))
        )
        return Outcome(usage, self.finish_reason, refused, self.ttft_s)


def _event_end(buf: bytes, start: int) -> int:
    """Index just past the blank line ending the next SSE event, or -1."""
    lf = buf.find(b"\n\n", start)
    crlf = buf.find(b"\r\n\r\n", start) if b"\r" in buf else -1
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf + 4
    return lf + 2 if lf >= 0 else -1
