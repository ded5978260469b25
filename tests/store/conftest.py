"""Fixtures for the store tests: every store test runs on a real SQLite file and in memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from llm_rollout.records import Arm, RequestRecord, Role, Status
from llm_rollout.registry import ModelVersion
from llm_rollout.store.sqlite import SQLiteStore

CLOCK_START = 1_700_000_000.0


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStore]:
    target = tmp_path / "store.db" if request.param == "file" else ":memory:"
    s = SQLiteStore(target, clock=lambda: CLOCK_START)
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "store.db", busy_timeout=0.05, clock=lambda: CLOCK_START)
    yield s
    s.close()


BASE_RECORD = RequestRecord(
    request_id="x",
    time=CLOCK_START,
    rollout_id="r1",
    step=0,
    arm=Arm.BASELINE,
    role=Role.SERVE,
    model_digest="b" * 64,
    status=Status.OK,
    http_status=200,
    latency_ms=800.0,
)


@pytest.fixture
def make_record() -> Callable[..., RequestRecord]:
    """``make_record("id", arm=Arm.CANDIDATE, latency_ms=12.5, ...)``: one valid record."""

    def make(request_id: str, **fields: Any) -> RequestRecord:
        if fields.get("arm") == Arm.CANDIDATE and "model_digest" not in fields:
            fields["model_digest"] = "c" * 64
        return replace(BASE_RECORD, request_id=request_id, **fields)

    return make


@pytest.fixture
def make_model() -> Callable[..., ModelVersion]:
    """``make_model("chat", upstream_model="gpt-x", ...)``: a valid model version."""

    def make(name: str = "chat", **fields: Any) -> ModelVersion:
        data: dict[str, Any] = {
            "name": name,
            "endpoint": "http://upstream.test/v1",
            "upstream_model": "model-a",
            "prices": {"input": 0.15, "output": 0.6},
        }
        data.update(fields)
        return ModelVersion.model_validate(data)

    return make
