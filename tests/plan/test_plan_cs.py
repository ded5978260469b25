"""The planner's summary-statistic intervals agree with the stats package's own."""

from __future__ import annotations

import numpy as np
import pytest

from llm_rollout.plan import _cs
from llm_rollout.plan.detect import _rate_cs
from llm_rollout.stats import dkw_radius, mean_cs, quantile_ranks, rate_cs_batch


@pytest.mark.parametrize("n", [2, 29, 30, 500, 20_000])
@pytest.mark.parametrize("sigma", [0.3, 1.0])
def test_mean_bounds_equal_mean_cs_on_real_samples(n: int, sigma: float) -> None:
    x = np.random.default_rng(n).lognormal(0.0, sigma, n)
    alpha = 0.003
    cs = mean_cs(x, alpha)
    mean, sd = x.mean(), x.std(ddof=1)
    dev = x - mean
    skew = np.mean(dev**3) / np.mean(dev**2) ** 1.5
    lo, hi = _cs.mean_bounds(
        np.array([n]), np.array([mean]), np.array([sd]), np.array([skew]), alpha
    )
    assert lo[0] == pytest.approx(cs.lo, rel=1e-9, abs=1e-12)
    assert hi[0] == pytest.approx(cs.hi, rel=1e-9, abs=1e-12)


def test_ranks_are_exact_at_the_anchors_and_close_in_between() -> None:
    n = np.arange(900, 1300, dtype=np.float64)
    s_min, s_max = _cs.ranks(n, 0.99, 1e-4)
    for i in (0, len(n) // 3, len(n) - 1):
        lo, hi = quantile_ranks(int(n[i]), 0.99, 1e-4)
        assert abs(s_min[i] - lo) <= 1
        assert abs(s_max[i] - hi) <= 1


def test_dkw_matches_the_stats_radius() -> None:
    for n in (1, 10, 1000, 123_456):
        assert _cs.dkw(np.array([float(n)]), 0.01)[0] == pytest.approx(dkw_radius(n, 0.01))


def test_interpolated_rate_intervals_stay_close_to_exact() -> None:
    rng = np.random.default_rng(3)
    k = rng.binomial(20_000, 0.05, (1, 500)).astype(np.float64)
    n = np.full_like(k, 20_000.0)
    lo, hi = _rate_cs(k, n, np.ones_like(k, dtype=np.bool_), 1e-4)
    exact_lo, exact_hi = rate_cs_batch(k[0], 20_000, 1e-4)
    assert np.max(np.abs(lo[0] - exact_lo)) < 2e-5
    assert np.max(np.abs(hi[0] - exact_hi)) < 2e-5
