"""The in-memory source's columns: growth in place, time order, units, views not copies."""

from __future__ import annotations

import numpy as np
import pytest

from llm_rollout.errors import InvalidDataError
from llm_rollout.records import Arm, Role, WindowQuery
from llm_rollout.sim.behaviour import Batch
from llm_rollout.sources import ArmColumns, InMemorySource


def _batch(t0: float, n: int, seed: int) -> Batch:
    rng = np.random.default_rng(seed)
    return Batch(
        time=t0 + np.sort(rng.uniform(0, 10, n)),
        latency_ms=rng.lognormal(6, 0.5, n),
        ttft_ms=np.full(n, np.nan),
        prompt_tokens=np.full(n, 100.0),
        completion_tokens=rng.integers(0, 500, n).astype(np.float64),
        cached_tokens=np.zeros(n),
        cost_usd=rng.random(n),
        error=rng.random(n) < 0.1,
        refused=rng.random(n) < 0.1,
        rated=rng.random(n) < 0.5,
        negative=rng.random(n) < 0.2,
    )


def test_columns_grow_past_their_capacity_and_window_by_time() -> None:
    cols = ArmColumns(capacity=4)
    first, second = _batch(0.0, 3, 1), _batch(10.0, 10, 2)
    cols.extend(first)
    cols.extend(second)
    whole = cols.window(0.0, 20.0)
    assert whole.n == 13
    np.testing.assert_array_equal(whole.latency_ms[:3], first.latency_ms)
    np.testing.assert_array_equal(whole.cost_usd[3:], second.cost_usd)
    assert whole.negative_feedback == int(first.negative.sum() + second.negative.sum())
    assert whole.feedback_count == int(first.rated.sum() + second.rated.sum())
    later = cols.window(10.0, 20.0)
    np.testing.assert_array_equal(later.latency_ms, second.latency_ms)
    assert later.negative_feedback == int(second.negative.sum())
    assert np.shares_memory(later.latency_ms, whole.latency_ms)  # a view, not a copy


def test_out_of_order_observations_are_refused() -> None:
    cols = ArmColumns()
    cols.extend(_batch(10.0, 5, 1))
    with pytest.raises(InvalidDataError, match="time order"):
        cols.extend(_batch(0.0, 5, 2))


def test_units_travel_with_their_observations() -> None:
    source = InMemorySource()
    batch = _batch(0.0, 6, 3)
    units = np.arange(6, dtype=np.int64) * 7
    source.extend("r", 0, Arm.CANDIDATE, Role.SERVE, batch, unit=units)
    window = source.read_window(WindowQuery("r", 0, Role.SERVE, float(batch.time[2]), 99.0, 0.5))
    assert window.candidate.unit is not None
    np.testing.assert_array_equal(window.candidate.unit, units[2:])
    assert window.baseline.unit is None
    with pytest.raises(InvalidDataError, match="units"):
        source.extend("r", 0, Arm.CANDIDATE, Role.SERVE, _batch(20.0, 2, 4))


def test_clear_forgets_everything() -> None:
    source = InMemorySource()
    source.extend("r", 0, Arm.BASELINE, Role.SERVE, _batch(0.0, 5, 1))
    source.clear()
    assert source.read_window(WindowQuery("r", 0, Role.SERVE, 0.0, 99.0, 0.0)).baseline.n == 0
