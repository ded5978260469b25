"""Monte Carlo: seeded, parallel, summarised per method with exact (Clopper-Pearson) intervals."""

from __future__ import annotations

import pytest
from sim_helpers import small

from llm_rollout.sim import Rate, monte_carlo
from llm_rollout.spec import Method
from llm_rollout.stats import binomial_interval


def test_rate_interval_is_clopper_pearson() -> None:
    assert Rate(0, 0).interval == (0.0, 1.0)
    lo, hi = Rate(0, 500).interval
    assert lo == 0.0
    assert hi == pytest.approx(1 - 0.025 ** (1 / 500))  # 0/500 still allows ~0.7%
    lo, hi = Rate(50, 100).interval
    assert (lo, hi) == pytest.approx((0.3983, 0.6017), abs=1e-4)
    assert Rate(3, 100).text() == "3.0% [0.6%, 8.5%]"
    lo, hi = binomial_interval(3, 100)
    assert Rate(3, 100).to_dict() == {"k": 3, "n": 100, "rate": 0.03, "lo": lo, "hi": hi}


def test_aa_is_rarely_rolled_back_and_a_regression_nearly_always() -> None:
    (aa,) = monte_carlo(small(), 40, [Method.SEQUENTIAL], first_seed=100, workers=2)
    assert aa.runs == 40
    assert aa.outcomes["rolled_back"].k <= 1
    assert aa.outcomes["promoted"].k >= 38
    assert aa.exposure["median"] is None  # nothing regressed
    bad = small(regressions=[{"metric": "output_length", "factor": 2.0}])
    seq, thr = monte_carlo(bad, 40, [Method.SEQUENTIAL, Method.THRESHOLD], first_seed=100)
    for summary in (seq, thr):
        assert summary.outcomes["rolled_back"].k >= 39
        assert summary.halted_before_50.k >= 39
        assert summary.detect_time["median"] is not None
        assert summary.exposure["p90"] >= summary.exposure["median"] >= 0
        assert sum(summary.stages["rolled_back"].values()) == summary.outcomes["rolled_back"].k
    assert seq.method == "sequential"
    assert thr.method == "threshold"
    # the threshold rule judges the point estimate: it never needs more time than the margin rule
    assert thr.detect_time["median"] <= seq.detect_time["median"]


def test_runs_are_reproducible_in_and_out_of_process() -> None:
    sc = small(regressions=[{"metric": "cost", "factor": 1.5}])
    inproc = monte_carlo(sc, 6, first_seed=7, workers=1)[0].to_dict()
    pooled = monte_carlo(sc, 6, first_seed=7, workers=2)[0].to_dict()
    assert inproc == pooled
    assert inproc["first_seed"] == 7


def test_runs_must_be_positive() -> None:
    with pytest.raises(ValueError, match="runs"):
        monte_carlo(small(), 0)
