"""ab_verdict: superiority and non-inferiority on rates (excess) and on means / medians
(ratio)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llm_rollout.judge import ab_verdict
from llm_rollout.records import ArmWindow, Window
from llm_rollout.spec import ABStep, Decision
from llm_rollout.testing import arm, window
from llm_rollout.verdict import Outcome

N = 20_000


def _rates(n: int, k: int, what: str) -> ArmWindow:
    """An arm of ``n`` calls, the first ``k`` of them flagged as ``what``."""
    flags = [i < k for i in range(n)]
    if what == "feedback":
        return arm([100.0] * n, negative_feedback=k)
    if what == "errors":
        return arm([100.0] * n, error=flags)
    return arm([100.0] * n, refused=flags)


def _rate_window(metric: str, p_baseline: float, p_candidate: float) -> Window:
    return window(
        _rates(N, round(p_baseline * N), metric), _rates(N, round(p_candidate * N), metric)
    )


@pytest.mark.parametrize("metric", ["feedback", "errors", "refusals"])
@pytest.mark.parametrize(
    ("rule", "margin", "p_candidate", "outcome"),
    [
        ("non-inferiority", 0.3, 0.10, Outcome.PASS),
        ("non-inferiority", 0.3, 0.20, Outcome.FAIL),
        ("non-inferiority", 0.3, 0.13, Outcome.INCONCLUSIVE),
        ("superiority", 0.3, 0.05, Outcome.PASS),
        ("superiority", 0.3, 0.10, Outcome.INCONCLUSIVE),
        ("superiority", 0.3, 0.15, Outcome.FAIL),
    ],
)
def test_rate_metrics_compare_the_excess_over_the_margin(
    metric: str, rule: str, margin: float, p_candidate: float, outcome: Outcome
) -> None:
    ab = ABStep(metric=metric, rule=rule, margin=margin)  # type: ignore[arg-type]
    v = ab_verdict(ab, _rate_window(metric, 0.10, p_candidate), 0.01)
    assert v.outcome is outcome, v.explanation
    assert (v.gate, v.statistic, v.bound) == ("ab", f"{metric}_rate_excess", 0.0)
    factor = 1 + (margin if rule == "non-inferiority" else 0.0)
    assert v.estimate == pytest.approx(p_candidate - factor * 0.10)
    assert v.lo <= v.estimate <= v.hi
    assert (v.n_baseline, v.n_candidate) == (N, N)


def test_refusals_count_only_ok_calls() -> None:
    # Every candidate refusal sits on an errored call: those had no chance to refuse.
    n = 1000
    errored = [i < 300 for i in range(n)]
    candidate = arm([100.0] * n, error=errored, refused=errored)
    v = ab_verdict(ABStep(metric="refusals"), window(arm([100.0] * n), candidate), 0.01)
    assert (v.estimate, v.n_baseline, v.n_candidate) == (0.0, n, 700)


def _costs(mean: float, n: int = 5000, seed: int = 1) -> ArmWindow:
    rng = np.random.default_rng(seed)
    return arm([100.0] * n, cost_usd=list(rng.normal(mean, 0.1 * mean, n)))


@pytest.mark.parametrize(
    ("rule", "candidate_mean", "outcome"),
    [
        (Decision.NON_INFERIORITY, 1.0, Outcome.PASS),
        (Decision.NON_INFERIORITY, 1.5, Outcome.FAIL),
        (Decision.SUPERIORITY, 0.8, Outcome.PASS),
        (Decision.SUPERIORITY, 1.0, Outcome.INCONCLUSIVE),
        (Decision.SUPERIORITY, 1.2, Outcome.FAIL),
    ],
)
def test_cost_compares_the_mean_ratio(
    rule: Decision, candidate_mean: float, outcome: Outcome
) -> None:
    ab = ABStep(metric="cost", rule=rule, margin=0.05)
    v = ab_verdict(ab, window(_costs(1.0), _costs(candidate_mean, seed=2)), 0.01)
    assert v.outcome is outcome, v.explanation
    assert v.statistic == "cost_mean_ratio"
    assert v.bound == (1.05 if rule is Decision.NON_INFERIORITY else 1.0)
    assert v.estimate == pytest.approx(candidate_mean, rel=0.02)


def test_latency_compares_the_median_of_ok_calls() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    baseline = arm(list(rng.uniform(100, 200, n)))
    # Half the candidate's calls fail instantly; its successful calls take twice as long.
    slow = list(rng.uniform(200, 400, n))
    candidate = arm([1.0] * n + slow, error=[True] * n + [False] * n)
    v = ab_verdict(ABStep(metric="latency", margin=0.1), window(baseline, candidate), 0.01)
    assert (v.outcome, v.statistic, v.n_candidate) == (Outcome.FAIL, "latency_p50_ratio", n)
    assert v.estimate == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("metric", ["feedback", "cost", "latency"])
def test_an_empty_arm_is_nodata(metric: str) -> None:
    ab = ABStep(metric=metric)  # type: ignore[arg-type]
    v = ab_verdict(ab, window(_costs(1.0), ArmWindow.empty()), 0.01)
    assert v.outcome is Outcome.NODATA
    assert v.to_dict()["estimate"] is None  # strict JSON: no NaN


def test_zero_in_both_arms_is_nodata_and_a_surely_zero_baseline_fails() -> None:
    zero = arm([100.0] * 100, cost_usd=[0.0] * 100)
    paid = arm([100.0] * 100, cost_usd=[0.01] * 100)
    ab = ABStep(metric="cost")
    assert ab_verdict(ab, window(zero, zero), 0.01).outcome is Outcome.NODATA
    surely_worse = ab_verdict(ab, window(zero, paid), 0.01)
    assert (surely_worse.outcome, surely_worse.lo) == (Outcome.FAIL, math.inf)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1])
def test_alpha_must_be_a_probability(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        ab_verdict(ABStep(), _rate_window("feedback", 0.1, 0.1), alpha)
