"""Synthetic windows are reproducible from their parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llm_rollout.judge.evaluation.synth import draw, make_window

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


def test_tail_scales_only_above_the_stated_quantile() -> None:
    from llm_rollout.judge.evaluation.synth import LLM_ARM

    plain = LLM_ARM["latency_ms"]
    tail = {**plain, "tail": {"quantile": 0.98, "factor": 2.0}}
    a = draw(plain, 200_000, np.random.default_rng(3))
    b = draw(tail, 200_000, np.random.default_rng(3))
    cut = 800.0 * math.exp(0.5 * 2.053748910631823)  # the log-normal's P98
    assert np.array_equal(a[a <= cut], b[a <= cut])
    assert np.array_equal(2 * a[a > cut], b[a > cut])
    assert np.quantile(b, 0.99) / np.quantile(a, 0.99) == pytest.approx(2.0, rel=0.02)
    assert np.quantile(b, 0.95) == np.quantile(a, 0.95)
    with pytest.raises(ValueError, match="continuous"):
        draw({"dist": "const", "value": 1, "tail": {"quantile": 0.9, "factor": 2}}, 3, rng(0))
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        draw({**plain, "tail": {"quantile": 1.0, "factor": 2}}, 3, rng(0))


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_cost_from_prices_and_tokens() -> None:
    from llm_rollout.judge.evaluation.synth import draw_arm, token_cost

    params = {
        "n": 2000,
        "completion_tokens": {"dist": "lognormal", "median": 200, "sigma": 0.6},
        "error_rate": 0.1,
    }
    priced = {
        **params,
        "prompt_tokens": {"dist": "const", "value": 400},
        "prices": {"input": 2.5, "output": 10.0},
    }
    plain, arm = draw_arm(params, rng(5)), draw_arm(priced, rng(5))
    # Stating prices changes the cost column only.
    assert np.array_equal(plain.latency_ms, arm.latency_ms)
    assert np.array_equal(plain.completion_tokens, arm.completion_tokens)
    assert np.array_equal(plain.error, arm.error)
    expected = token_cost(
        {"input": 2.5, "output": 10.0}, np.full(2000, 400.0), arm.completion_tokens
    )
    assert np.array_equal(arm.cost_usd[~arm.error], expected[~arm.error])
    assert np.all(arm.cost_usd[arm.error] == 0.0)
    assert expected[0] == pytest.approx((400 * 2.5 + arm.completion_tokens[0] * 10) / 1e6)


def test_with_drift_scales_blocks_of_calls() -> None:
    from llm_rollout.judge.evaluation.synth import LLM_ARM, draw_arm, with_drift

    arm = draw_arm({**LLM_ARM, "n": 1000}, rng(8))
    drifted = with_drift(arm, 100, 0.07, rng(9))
    ratio = drifted.latency_ms / arm.latency_ms
    blocks = ratio.reshape(10, 100)
    assert np.allclose(blocks, blocks[:, :1])  # one factor per block of 100 calls
    assert np.all((blocks >= 0.93) & (blocks <= 1.07))
    assert len(np.unique(np.round(blocks[:, 0], 12))) == 10
    cost_ratio = (drifted.cost_usd / np.where(arm.cost_usd > 0, arm.cost_usd, 1.0))[~arm.error]
    assert not np.allclose(cost_ratio, ratio[~arm.error])  # cost has its own factors
    streamed = ~np.isnan(arm.ttft_ms)
    assert np.allclose(drifted.ttft_ms[streamed] / arm.ttft_ms[streamed], ratio[streamed])
    assert np.all(drifted.completion_tokens == np.round(drifted.completion_tokens))
    assert np.array_equal(drifted.error, arm.error)
    assert np.array_equal(drifted.negative, arm.negative)
    with pytest.raises(ValueError, match="block"):
        with_drift(arm, 0, 0.07, rng(1))
