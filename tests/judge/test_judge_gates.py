"""Each gate on hand-made windows: which calls it uses, its contrast, its edge cases."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from judge_helpers import arm, lognormal_arm, pair

from llm_rollout.judge import judge_gate
from llm_rollout.spec import (
    CostGate,
    FeedbackGate,
    LatencyGate,
    Method,
    OutputLengthGate,
    RateGate,
)
from llm_rollout.stats import rate_cs
from llm_rollout.verdict import Outcome, Verdict

ALPHA = 0.01
POINT = Method.THRESHOLD  # point estimates, for exact arithmetic checks


def _by_stat(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.statistic: v for v in verdicts}


# --- latency -------------------------------------------------------------------------------


def test_latency_excludes_errored_calls() -> None:
    lat = list(np.linspace(100.0, 200.0, 101))
    base = arm(lat)
    # The candidate repeats the baseline's ok calls and adds 60 s timeouts that errored.
    cand = arm(lat + [60_000.0] * 50, error=[False] * 101 + [True] * 50)
    gate = LatencyGate(p50=1.5, p95=1.5, p99=1.5, ttft_p99=None, min_samples=1)
    got = _by_stat(judge_gate("latency", gate, pair(base, cand), ALPHA, POINT))
    assert set(got) == {"p50_ratio", "p95_ratio", "p99_ratio"}
    for v in got.values():
        assert v.estimate == 1.0
        assert v.outcome is Outcome.PASS
        assert (v.n_baseline, v.n_candidate) == (101, 101)


def test_latency_regression_in_the_tail_fails() -> None:
    base = lognormal_arm(5000, 1)
    cand = lognormal_arm(5000, 2, latency=2400.0)
    got = _by_stat(judge_gate("latency", LatencyGate(), pair(base, cand), ALPHA))
    assert got["p50_ratio"].outcome is Outcome.FAIL
    assert got["p99_ratio"].outcome is Outcome.FAIL
    assert got["ttft_p99_ratio"].outcome is Outcome.FAIL  # TTFT scales with latency here
    assert re.fullmatch(
        r"p99 latency ratio [\d.]+ \[[\d.]+, [\d.]+\] > 1\.5", got["p99_ratio"].explanation
    )


def test_ttft_is_omitted_without_streams_but_keeps_its_alpha_share() -> None:
    base = lognormal_arm(300, 1, stream=False)
    cand = lognormal_arm(300, 2, stream=False)
    verdicts = judge_gate("latency", LatencyGate(), pair(base, cand), ALPHA)
    assert [v.statistic for v in verdicts] == ["p50_ratio", "p99_ratio"]
    assert all(v.alpha == pytest.approx(ALPHA / 3) for v in verdicts)


def test_ttft_is_nodata_when_only_one_arm_streams() -> None:
    base = lognormal_arm(300, 1, stream=True)
    cand = lognormal_arm(300, 2, stream=False)
    got = _by_stat(judge_gate("latency", LatencyGate(), pair(base, cand), ALPHA))
    assert got["ttft_p99_ratio"].outcome is Outcome.NODATA
    assert "candidate has no streamed ok calls" in got["ttft_p99_ratio"].explanation


def test_ttft_uses_only_streamed_calls() -> None:
    ttft = [50.0, math.nan, 60.0, math.nan, 70.0]
    base = arm([100.0] * 5, ttft_ms=ttft)
    cand = arm([100.0] * 5, ttft_ms=[100.0, math.nan, 120.0, math.nan, 140.0])
    gate = LatencyGate(p50=None, p99=None, ttft_p99=1.5, min_samples=3)
    (v,) = judge_gate("latency", gate, pair(base, cand), ALPHA, POINT)
    assert (v.n_baseline, v.n_candidate) == (3, 3)
    assert v.estimate == pytest.approx(2.0)
    assert v.outcome is Outcome.FAIL


# --- cost ----------------------------------------------------------------------------------


def test_cost_uses_all_calls_and_the_ratio_of_means() -> None:
    base = arm([1.0] * 4, cost_usd=[1.0, 1.0, 1.0, 1.0])
    cand = arm([1.0] * 4, cost_usd=[2.0, 2.0, 0.0, 0.0], error=[False, False, True, True])
    (v,) = judge_gate("cost", CostGate(min_samples=4), pair(base, cand), ALPHA, POINT)
    assert v.estimate == 1.0  # the errored calls cost 0 and still count as requests
    assert v.n_candidate == 4


def test_cost_zero_over_zero_is_nodata() -> None:
    zero = arm([1.0] * 50, cost_usd=[0.0] * 50)
    for method in Method:
        (v,) = judge_gate("cost", CostGate(), pair(zero, zero), ALPHA, method)
        assert v.outcome is Outcome.NODATA
        assert "0/0" in v.explanation


def test_cost_zero_baseline_is_an_infinite_ratio_not_a_crash() -> None:
    base = arm([1.0] * 50, cost_usd=[0.0] * 50)
    cand = arm([1.0] * 50, cost_usd=[0.001] * 50)
    (v,) = judge_gate("cost", CostGate(), pair(base, cand), ALPHA)
    assert v.estimate == math.inf
    assert v.outcome is Outcome.FAIL


def test_cost_double_fails_and_explains() -> None:
    base = lognormal_arm(3000, 1)
    cand = lognormal_arm(3000, 2, cost=0.004)
    (v,) = judge_gate("cost", CostGate(), pair(base, cand), ALPHA)
    assert v.outcome is Outcome.FAIL
    assert re.fullmatch(r"cost ratio [\d.]+ \[[\d.]+, [\d.]+\] > 1\.2", v.explanation)
    assert 1.8 < v.lo < v.estimate < v.hi < 2.2


# --- rate gates ----------------------------------------------------------------------------


def test_error_contrast_combines_the_two_rate_intervals() -> None:
    n = 400
    base = arm([1.0] * n, error=[i < 8 for i in range(n)])  # 2%
    cand = arm([1.0] * n, error=[i < 40 for i in range(n)])  # 10%
    gate = RateGate(ratio=2.0, floor=0.005)
    (v,) = judge_gate("errors", gate, pair(base, cand), ALPHA)
    cs_b, cs_c = rate_cs(8, n, ALPHA / 2), rate_cs(40, n, ALPHA / 2)
    assert v.estimate == pytest.approx(0.10 - 2 * 0.02)
    assert v.lo == pytest.approx(cs_c.lo - 2 * cs_b.hi)
    assert v.hi == pytest.approx(cs_c.hi - 2 * cs_b.lo)
    assert (v.bound, v.direction) == (0.005, "above")
    assert "candidate 10.00% vs baseline 2.00%" in v.explanation


def test_refusals_count_over_ok_calls_only() -> None:
    # Every errored candidate call is flagged refused too; none of them may count.
    error = [i < 50 for i in range(200)]
    base = arm([1.0] * 200, refused=[i < 2 for i in range(200)])  # 1% of 200 ok
    cand = arm([1.0] * 200, error=error, refused=error)
    (v,) = judge_gate("refusals", RateGate(min_samples=1), pair(base, cand), ALPHA, POINT)
    assert v.n_candidate == 150
    assert v.estimate == pytest.approx(0.0 - 2 * 0.01)


def test_feedback_rate_is_per_served_request() -> None:
    base = arm([1.0] * 200, negative_feedback=10)  # 5%
    cand = arm([1.0] * 100, error=[True] * 20 + [False] * 80, negative_feedback=20)  # 20%
    gate = FeedbackGate(min_samples=1)
    (v,) = judge_gate("feedback", gate, pair(base, cand), ALPHA, POINT)
    assert (v.n_baseline, v.n_candidate) == (200, 100)
    assert v.estimate == pytest.approx(0.20 - 1.5 * 0.05)
    assert v.outcome is Outcome.FAIL


def test_all_zero_error_rates_pass_with_enough_calls() -> None:
    clean = arm([1.0] * 20_000)
    (v,) = judge_gate("errors", RateGate(), pair(clean, clean), ALPHA)
    assert v.estimate == 0.0
    assert v.outcome is Outcome.PASS


# --- output length -------------------------------------------------------------------------


def test_output_length_statistics_and_band() -> None:
    base = lognormal_arm(3000, 1)
    cand = lognormal_arm(3000, 2, tokens=400.0)
    got = _by_stat(judge_gate("output_length", OutputLengthGate(), pair(base, cand), ALPHA))
    assert list(got) == ["mean_ratio", "p99_ratio", "ks_distance"]
    mean = got["mean_ratio"]
    assert (mean.bound, mean.bound_hi, mean.direction) == (0.8, 1.25, "outside")
    assert mean.outcome is Outcome.FAIL
    assert got["ks_distance"].outcome is Outcome.FAIL
    assert 0.0 <= got["ks_distance"].lo <= got["ks_distance"].hi <= 1.0


def test_output_length_ignores_errored_calls() -> None:
    tokens = [100.0, 200.0, 300.0, 400.0]
    base = arm([1.0] * 4, completion_tokens=tokens)
    cand = arm([1.0] * 6, completion_tokens=[*tokens, 0.0, 0.0], error=[False] * 4 + [True] * 2)
    gate = OutputLengthGate(p99=None, ks=None, min_samples=4)
    (v,) = judge_gate("output_length", gate, pair(base, cand), ALPHA, POINT)
    assert v.estimate == 1.0
    assert v.n_candidate == 4


def test_a_gate_with_nothing_configured_returns_no_verdicts() -> None:
    gate = OutputLengthGate(mean=None, p99=None, ks=None)
    assert judge_gate("output_length", gate, pair(arm([1.0]), arm([1.0])), ALPHA) == []


# --- generic -------------------------------------------------------------------------------


def test_method_argument_overrides_the_gate_method() -> None:
    base, cand = lognormal_arm(500, 1), lognormal_arm(500, 2)
    gate = CostGate(method=Method.THRESHOLD)
    (own,) = judge_gate("cost", gate, pair(base, cand), ALPHA)
    (seq,) = judge_gate("cost", gate, pair(base, cand), ALPHA, Method.SEQUENTIAL)
    assert (own.method, seq.method) == ("threshold", "sequential")
    assert "point estimate" in own.explanation
    assert "[" in seq.explanation


def test_alpha_is_split_over_configured_statistics() -> None:
    base, cand = lognormal_arm(300, 1), lognormal_arm(300, 2)
    gate = OutputLengthGate(ks=None)
    verdicts = judge_gate("output_length", gate, pair(base, cand), 0.004)
    assert [v.alpha for v in verdicts] == [pytest.approx(0.002)] * 2


def test_critical_flag_is_carried() -> None:
    base, cand = lognormal_arm(100, 1), lognormal_arm(100, 2)
    (v,) = judge_gate("cost", CostGate(critical=False), pair(base, cand), ALPHA)
    assert v.critical is False


def test_misuse_is_a_programming_error() -> None:
    w = pair(arm([1.0]), arm([1.0]))
    with pytest.raises(ValueError, match="unknown gate 'speed'"):
        judge_gate("speed", CostGate(), w, ALPHA)
    with pytest.raises(TypeError, match="needs a CostGate"):
        judge_gate("cost", RateGate(), w, ALPHA)
    with pytest.raises(ValueError, match="alpha"):
        judge_gate("cost", CostGate(), w, 0.0)


@pytest.mark.parametrize("name", ["latency", "cost", "errors", "output_length", "feedback"])
def test_either_arm_empty_is_nodata(name: str) -> None:
    from llm_rollout.judge import GATE_TYPES

    gate = GATE_TYPES[name]()
    for w in (pair(arm([]), lognormal_arm(50, 1)), pair(lognormal_arm(50, 1), arm([]))):
        verdicts = judge_gate(name, gate, w, ALPHA)
        assert verdicts
        assert {v.outcome for v in verdicts} == {Outcome.NODATA}
