"""Synthetic windows are reproducible from their parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llm_rollout.judge.synth import draw, make_window

PARAMS = {
    "seed": 42,
    "candidate_weight": 0.2,
    "baseline": {"n": 500, "error_rate": 0.1, "negative_rate": 0.1},
    "candidate": {
        "n": 300,
        "ttft_ms": {"dist": "lognormal", "median": 250, "sigma": 0.4, "share": 0.5},
        "error_rate": 0.2,
        "error_latency_ms": {"dist": "const", "value": 60000},
    },
}


def test_same_parameters_same_window() -> None:
    a, b = make_window(PARAMS), make_window(PARAMS)
    for col in ("latency_ms", "cost_usd", "completion_tokens", "error", "refused"):
        assert np.array_equal(getattr(a.candidate, col), getattr(b.candidate, col))
    assert np.array_equal(a.candidate.ttft_ms, b.candidate.ttft_ms, equal_nan=True)
    assert a.baseline.negative_feedback == b.baseline.negative_feedback
    assert (a.baseline.n, a.candidate.n, a.candidate_weight) == (500, 300, 0.2)


def test_changing_one_arm_leaves_the_other_alone() -> None:
    other = {**PARAMS, "candidate": {"n": 10}}
    a, b = make_window(PARAMS), make_window(other)
    assert np.array_equal(a.baseline.latency_ms, b.baseline.latency_ms)


def test_stated_columns_take_effect() -> None:
    w = make_window(PARAMS)
    c = w.candidate
    assert np.all(c.latency_ms[c.error] == 60000.0)
    streamed = ~np.isnan(c.ttft_ms)
    assert 0.35 < streamed.mean() < 0.65
    assert np.all(c.completion_tokens == np.round(c.completion_tokens))


def test_injection_and_feedback_override() -> None:
    params = {
        "seed": 1,
        "baseline": {"n": 5, "inject": [{"column": "cost_usd", "index": 2, "value": "nan"}]},
        "candidate": {"n": 5},
        "negative_feedback": {"candidate": 7},
    }
    w = make_window(params)
    assert math.isnan(w.baseline.cost_usd[2])
    assert w.candidate.negative_feedback == 7


def test_distributions() -> None:
    rng = np.random.default_rng(0)
    assert draw({"dist": "values", "values": [1, 2]}, 5, rng).tolist() == [1, 2, 1, 2, 1]
    assert draw({"dist": "const", "value": 3}, 2, rng).tolist() == [3.0, 3.0]
    u = draw({"dist": "uniform", "lo": 1, "hi": 2}, 100, rng)
    assert u.min() >= 1
    assert u.max() < 2
    assert draw({"dist": "exponential", "mean": 1}, 3, rng).shape == (3,)
    assert draw({"dist": "normal", "mean": 0, "sd": 1}, 3, rng).shape == (3,)
    with pytest.raises(ValueError, match="unknown distribution 'zipf'"):
        draw({"dist": "zipf"}, 3, rng)
