"""The summary-statistic forms (many samples at once) agree with the per-sample functions."""

from __future__ import annotations

import numpy as np
import pytest

from llm_rollout.stats import (
    Interval,
    dkw_radii,
    dkw_radius,
    interpolated_quantile_ranks,
    mean_bounds,
    mean_cs,
    quantile_ranks,
    ratio_hi,
    ratio_interval,
    ratio_lo,
)


@pytest.mark.parametrize("n", [2, 29, 30, 500, 20_000])
@pytest.mark.parametrize("sigma", [0.3, 1.0])
def test_mean_bounds_equal_mean_cs_on_real_samples(n: int, sigma: float) -> None:
    x = np.random.default_rng(n).lognormal(0.0, sigma, n)
    alpha = 0.003
    cs = mean_cs(x, alpha)
    mean, sd = x.mean(), x.std(ddof=1)
    dev = x - mean
    skew = np.mean(dev**3) / np.mean(dev**2) ** 1.5
    lo, hi = mean_bounds(np.array([n]), np.array([mean]), np.array([sd]), np.array([skew]), alpha)
    assert lo[0] == pytest.approx(cs.lo, rel=1e-9, abs=1e-12)
    assert hi[0] == pytest.approx(cs.hi, rel=1e-9, abs=1e-12)


def test_interpolated_ranks_are_exact_at_the_anchors_and_close_in_between() -> None:
    n = np.arange(900, 1300, dtype=np.float64)
    s_min, s_max = interpolated_quantile_ranks(n, 0.99, 1e-4)
    for i in (0, len(n) // 3, len(n) - 1):
        lo, hi = quantile_ranks(int(n[i]), 0.99, 1e-4)
        assert abs(s_min[i] - lo) <= 1
        assert abs(s_max[i] - hi) <= 1


def test_dkw_radii_match_the_radius() -> None:
    for n in (1, 10, 1000, 123_456):
        assert dkw_radii(np.array([float(n)]), 0.01)[0] == pytest.approx(dkw_radius(n, 0.01))


def test_ratio_ends_match_the_ratio_interval() -> None:
    inf = float("inf")
    cases = [
        (Interval(2.0, 6.0), Interval(1.0, 2.0)),
        (Interval(2.0, 6.0), Interval(-1.0, 2.0)),
        (Interval(1.0, 2.0), Interval(0.0, 0.0)),
        (Interval(1.0, 2.0), Interval(1.0, inf)),
        (Interval(1.0, inf), Interval(1.0, 2.0)),
        (Interval(-inf, inf), Interval(-inf, inf)),
        (Interval(-1.0, 4.0), Interval(2.0, 4.0)),
    ]
    num_lo, num_hi = (np.array([getattr(num, end) for num, _ in cases]) for end in ("lo", "hi"))
    den_lo, den_hi = (np.array([getattr(den, end) for _, den in cases]) for end in ("lo", "hi"))
    lo, hi = ratio_lo(num_lo, den_hi), ratio_hi(num_hi, den_lo)
    for i, (num, den) in enumerate(cases):
        assert Interval(lo[i], hi[i]) == ratio_interval(num, den)
