"""Impossible or malformed data raises InvalidDataError with a clear message, never numpy's."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from judge_helpers import arm, make_spec, pair

from llm_rollout.errors import InvalidDataError
from llm_rollout.judge import judge_gate, judge_srm, judge_step
from llm_rollout.spec import CostGate, LatencyGate, SrmCheck

GOOD = arm([100.0, 110.0, 120.0], cost_usd=[0.1, 0.2, 0.3], completion_tokens=[1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("latency_ms", math.nan, "candidate arm: latency_ms holds NaN"),
        ("latency_ms", -1.0, "candidate arm: latency_ms holds NaN, infinite or negative"),
        ("cost_usd", math.inf, "candidate arm: cost_usd holds NaN, infinite or negative"),
        ("completion_tokens", -3.0, "candidate arm: completion_tokens holds"),
        ("ttft_ms", -5.0, "candidate arm: ttft_ms holds infinite or negative values"),
        ("ttft_ms", math.inf, "candidate arm: ttft_ms holds infinite or negative values"),
    ],
)
def test_impossible_values_are_rejected(column: str, value: float, message: str) -> None:
    col = getattr(GOOD, column).copy()
    col[1] = value
    bad = replace(GOOD, **{column: col})
    with pytest.raises(InvalidDataError, match=f"^{message}"):
        judge_gate("cost", CostGate(), pair(GOOD, bad), 0.01)


def test_nan_ttft_means_not_streamed_and_is_fine() -> None:
    assert np.isnan(GOOD.ttft_ms).all()
    assert judge_gate("latency", LatencyGate(), pair(GOOD, GOOD), 0.01)


def test_columns_of_different_lengths() -> None:
    bad = replace(GOOD, cost_usd=np.array([0.1, 0.2]))
    with pytest.raises(InvalidDataError, match="baseline arm: column cost_usd has 2 values"):
        judge_gate("cost", CostGate(), pair(bad, GOOD), 0.01)


def test_integer_error_flags_are_rejected() -> None:
    bad = replace(GOOD, error=np.array([0, 1, 0]))
    with pytest.raises(InvalidDataError, match="error must be boolean, got int64"):
        judge_gate("cost", CostGate(), pair(GOOD, bad), 0.01)


def test_non_numeric_and_multidimensional_columns() -> None:
    text = replace(GOOD, latency_ms=np.array(["a", "b", "c"]))
    with pytest.raises(InvalidDataError, match="latency_ms must be numeric"):
        judge_gate("cost", CostGate(), pair(GOOD, text), 0.01)
    square = replace(GOOD, latency_ms=np.ones((3, 1)))
    with pytest.raises(InvalidDataError, match="one-dimensional"):
        judge_gate("cost", CostGate(), pair(GOOD, square), 0.01)


def test_feedback_count_above_served_count() -> None:
    bad = replace(GOOD, negative_feedback=4)
    with pytest.raises(InvalidDataError, match="candidate arm: negative_feedback must be"):
        judge_step(make_spec(), pair(GOOD, bad))


@pytest.mark.parametrize("weight", [-0.1, 1.5, math.nan])
def test_weight_outside_unit_interval(weight: float) -> None:
    with pytest.raises(InvalidDataError, match="candidate_weight must be a share"):
        judge_srm(pair(GOOD, GOOD, weight), SrmCheck())
