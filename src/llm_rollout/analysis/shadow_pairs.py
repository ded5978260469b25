"""Reading a shadow phase's records and payloads: each shadow call paired with the served
baseline call of the same request (the gateway gives both the same request id), and the answer
texts of both from the payload log (``store_payloads``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ..records import Arm, RequestRecord, Role


def pair_records(
    records: Iterable[RequestRecord],
) -> tuple[list[tuple[RequestRecord, RequestRecord]], int, int, int]:
    """(pairs of (served baseline, shadow), shadow calls, unpaired shadow calls, served
    baseline calls). Records are matched on request id."""
    served: dict[str, RequestRecord] = {}
    shadows: list[RequestRecord] = []
    for r in records:
        if r.role is Role.SHADOW:
            shadows.append(r)
        elif r.arm is Arm.BASELINE:
            served[r.request_id] = r
    pairs = [(served[s.request_id], s) for s in shadows if s.request_id in served]
    return pairs, len(shadows), len(shadows) - len(pairs), len(served)


def payload_texts(payloads: Path | None, ids: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    served: dict[str, str] = {}
    shadow: dict[str, str] = {}
    if payloads is None or not payloads.is_dir():
        return served, shadow
    for path in sorted(payloads.glob("*.jsonl")):
        with path.open() as f:
            for line in f:
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError:
                    continue
                rid = doc.get("request_id")
                if rid not in ids:
                    continue
                text = response_text(str(doc.get("response", "")))
                target = shadow if doc.get("role") == Role.SHADOW.value else served
                target[rid] = text
    return served, shadow


def response_text(body: str) -> str:
    """The answer's text from a stored response: an OpenAI JSON body or plain streamed text."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        return body
    if not isinstance(doc, dict):
        return body
    parts = []
    for choice in doc.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") or choice.get("delta") or {}
        content = message.get("content") if isinstance(message, dict) else None
        parts.append(str(content if content is not None else choice.get("text") or ""))
    return "".join(parts)
