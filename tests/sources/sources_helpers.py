"""Helpers of the window-source conformance suite: one traffic history, loaded into each kind of
source the way that source is fed in production."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from llm_rollout.records import Arm, Feedback, FloatArray, RequestRecord, Role, Status
from llm_rollout.sources import InMemorySource, RecordStoreSource, WindowSource
from llm_rollout.store.sqlite import MEMORY, SQLiteStore

T0 = 1_700_000_000.0
ROLLOUT = "r1"


def history(seed: int = 5, n: int = 400) -> tuple[list[RequestRecord], list[Feedback]]:
    """Calls of two rollouts over two steps, both arms, served and shadow, with feedback."""
    rng = np.random.default_rng(seed)
    base = RequestRecord(
        request_id="",
        time=T0,
        rollout_id=ROLLOUT,
        step=0,
        arm=Arm.BASELINE,
        role=Role.SERVE,
        model_digest="b" * 64,
        status=Status.OK,
        http_status=200,
        latency_ms=1.0,
    )
    records: list[RequestRecord] = []
    feedback: list[Feedback] = []
    for i in range(n):
        arm = Arm.CANDIDATE if rng.random() < 0.4 else Arm.BASELINE
        role = Role.SHADOW if arm is Arm.CANDIDATE and rng.random() < 0.3 else Role.SERVE
        error = rng.random() < 0.05
        record = replace(
            base,
            request_id=f"q{i}",
            time=T0 + i * 0.5,
            rollout_id=ROLLOUT if rng.random() < 0.8 else "other",
            step=int(rng.integers(-1, 2)),
            arm=arm,
            role=role,
            model_digest=("c" if arm is Arm.CANDIDATE else "b") * 64,
            status=Status.ERROR if error else Status.OK,
            http_status=502 if error else 200,
            latency_ms=float(rng.lognormal(6, 0.5)),
            ttft_ms=float(rng.lognormal(5, 0.3)) if rng.random() < 0.5 else None,
            completion_tokens=int(rng.integers(0, 900)),
            cost_usd=float(rng.random() / 100),
            refused=bool(rng.random() < 0.1),
        )
        records.append(record)
        if role is Role.SERVE and rng.random() < 0.3:
            feedback.append(
                Feedback(record.request_id, record.time + 1, float(rng.choice([-1, 1])))
            )
    return records, feedback


@dataclass(frozen=True)
class _Batch:
    time: FloatArray
    latency_ms: FloatArray
    ttft_ms: FloatArray
    cost_usd: FloatArray
    completion_tokens: FloatArray
    error: np.ndarray
    refused: np.ndarray
    rated: np.ndarray
    negative: np.ndarray


def _memory(records: list[RequestRecord], feedback: list[Feedback]) -> InMemorySource:
    last: dict[str, Feedback] = {}
    for f in sorted(feedback, key=lambda f: f.time):
        last[f.request_id] = f
    source = InMemorySource()
    keys = sorted({(r.rollout_id, r.step, r.arm, r.role) for r in records}, key=str)
    for key in keys:
        rows = sorted(
            (r for r in records if (r.rollout_id, r.step, r.arm, r.role) == key),
            key=lambda r: r.time,
        )
        served = key[3] is Role.SERVE
        rated = [served and r.request_id in last for r in rows]
        source.extend(
            *key,
            _Batch(
                time=np.array([r.time for r in rows]),
                latency_ms=np.array([r.latency_ms for r in rows]),
                ttft_ms=np.array([np.nan if r.ttft_ms is None else r.ttft_ms for r in rows]),
                cost_usd=np.array([r.cost_usd for r in rows]),
                completion_tokens=np.array([float(r.completion_tokens) for r in rows]),
                error=np.array([r.status is Status.ERROR for r in rows]),
                refused=np.array([r.refused for r in rows]),
                rated=np.array(rated, dtype=np.bool_),
                negative=np.array(
                    [ok and last[r.request_id].negative for ok, r in zip(rated, rows, strict=True)],
                    dtype=np.bool_,
                ),
            ),
        )
    return source


def _store(records: list[RequestRecord], feedback: list[Feedback]) -> Iterator[WindowSource]:
    store = SQLiteStore(MEMORY)
    try:
        store.append_records(records)
        for f in feedback:
            store.append_feedback(f)
        yield RecordStoreSource(store)
    finally:
        store.close()


def _memory_source(
    records: list[RequestRecord], feedback: list[Feedback]
) -> Iterator[WindowSource]:
    yield _memory(records, feedback)


#: Each kind of source, fed one history: a new kind adds its loader here.
LOADERS: dict[str, Callable[[list[RequestRecord], list[Feedback]], Iterator[WindowSource]]] = {
    "store": _store,
    "memory": _memory_source,
}
