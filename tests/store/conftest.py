"""The store contract suite's fixtures: every backend in :data:`BACKENDS` runs every test that
takes ``store`` (and, where the backend reaches one database from several connections, every
test that takes ``backend`` and opens a second one). A new backend proves itself by adding one
entry here and passing the suite. Tests of one backend's own mechanics (SQLite files, locks,
migrations on disk) take ``file_store`` or build a ``SQLiteStore`` themselves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from store_helpers import BACKENDS, CLOCK_START, Backend

from llm_rollout.records import Arm, RequestRecord, Role, Status
from llm_rollout.registry import ModelVersion
from llm_rollout.store import Store
from llm_rollout.store.sqlite import SQLiteStore


@pytest.fixture(params=BACKENDS, ids=str)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend of the contract suite; the test's database is dropped afterwards."""
    chosen: Backend = request.param
    yield chosen
    chosen.drop(tmp_path)


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    s = backend.connect(tmp_path)
    yield s
    s.close()


@pytest.fixture(params=[b for b in BACKENDS if b.shared], ids=str)
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend whose connections share one database; dropped afterwards."""
    chosen: Backend = request.param
    yield chosen
    chosen.drop(tmp_path)


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
