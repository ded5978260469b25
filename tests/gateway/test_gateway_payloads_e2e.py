"""The payload log over loopback: a real gateway with ``store_payloads`` on mirrors every
request to a candidate that answers with half the text. Each request's served answer and its
shadow copy's answer land in the log under the same request id, and the shadow report's text
comparison reads them: the text difference works live, streamed or not."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import uvicorn
from gateway_helpers import LiveGateway, Mocks, start_gateway, wait_until

from llm_rollout.analysis import build_report, response_text
from llm_rollout.records import RequestRecord, Role
from llm_rollout.registry import ModelVersion
from llm_rollout.spec import parse_spec
from llm_rollout.store.sqlite import SQLiteStore

MESSAGES = [{"role": "user", "content": "Say hello"}]
ROLLOUT = "ro-payloads"


@pytest.fixture
def logging_gateway(mocks: Mocks, tmp_path: Path) -> Iterator[LiveGateway]:
    """A gateway of its own (the session one does not store payloads)."""
    home = tmp_path / "home"
    home.mkdir()
    store = SQLiteStore(home / "store.db")
    models = {}
    for name in ("base", "terse"):
        v = ModelVersion(
            name=name,
            endpoint=mocks.endpoint(name),
            upstream_model=f"{name}-m",
            prices={"input": 1.0, "output": 2.0},
        )
        store.put_model(v)
        models[name] = v
    server: uvicorn.Server
    thread: threading.Thread
    server, thread, app, port = start_gateway(home, {}, store_payloads=True)
    try:
        yield LiveGateway(f"http://127.0.0.1:{port}", home, store, models, app)
    finally:
        server.should_exit = True
        thread.join(15)
        store.close()


def payload_lines(home: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((home / "payloads").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def wait_for_lines(home: Path, ids: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The served and the shadow line of each request, once the log has been flushed."""
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def complete() -> bool:
        if not (home / "payloads").is_dir():
            return False
        found.clear()
        for line in payload_lines(home):
            if line["request_id"] in ids:
                found[(line["request_id"], line["role"])] = line
        return len(found) == 2 * len(ids)

    wait_until(complete, 5, "served and shadow payload lines")
    return found


def wait_for_records(gw: LiveGateway, ids: set[str]) -> list[RequestRecord]:
    found: list[RequestRecord] = []

    def landed() -> bool:
        nonlocal found
        found = [r for r in gw.store.read_records() if r.request_id in ids]
        return len(found) == 2 * len(ids)

    wait_until(landed, 5, "served and shadow records")
    return found


def test_shadow_answers_are_logged_and_the_report_compares_texts(
    logging_gateway: LiveGateway,
) -> None:
    gw = logging_gateway
    gw.use_policy(
        {"chat": gw.route("base", "terse", shadow_sample=1.0, rollout_id=ROLLOUT, step=-1)}
    )
    with openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0, timeout=10) as c:
        plain = c.chat.completions.with_raw_response.create(model="chat", messages=MESSAGES)
        served_text = plain.parse().choices[0].message.content or ""
        streamed = c.chat.completions.with_raw_response.create(
            model="chat", messages=MESSAGES, stream=True
        )
        streamed_text = "".join(
            chunk.choices[0].delta.content or "" for chunk in streamed.parse() if chunk.choices
        )
    plain_id, stream_id = plain.headers["x-request-id"], streamed.headers["x-request-id"]
    assert plain.headers["x-rollout-arm"] == "baseline"

    lines = wait_for_lines(gw.home, {plain_id, stream_id})
    # served lines: the client's request and the answer it got
    for rid in (plain_id, stream_id):
        assert "Say hello" in lines[(rid, "serve")]["request"]
        assert "request" not in lines[(rid, "shadow")]  # the served line holds it already
    assert response_text(lines[(plain_id, "serve")]["response"]) == served_text
    assert lines[(stream_id, "serve")]["response"] == streamed_text  # streamed: the text
    terse = response_text(lines[(plain_id, "shadow")]["response"])
    assert terse == served_text[: len(terse)]  # the candidate's shorter answer
    assert 0 < len(terse) < len(served_text)
    assert lines[(stream_id, "shadow")]["response"] == terse  # streamed copy, same answer

    records = wait_for_records(gw, {plain_id, stream_id})
    assert {(r.request_id, r.role) for r in records} == {
        (rid, role) for rid in (plain_id, stream_id) for role in (Role.SERVE, Role.SHADOW)
    }
    spec = parse_spec(
        {
            "name": "chat",
            "baseline": gw.models["base"].short_ref,
            "candidate": gw.models["terse"].short_ref,
            "shadow": {"sample": 1.0},
            "steps": [10, 100],
        }
    )
    report = build_report(records, spec, rollout=ROLLOUT, payloads=gw.home / "payloads")
    assert report.pairs == 2
    text = report.text
    assert text.available, text.reason
    assert text.pairs == 2
    assert text.identical == 0.0
    assert text.length_ratio == pytest.approx(len(terse) / len(served_text))
    assert 0 < text.similarity < 1
