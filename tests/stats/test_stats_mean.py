"""mean_cs: edge cases, invariances and widths (coverage is in test_stats_coverage.py)."""

import math

import numpy as np
import pytest

from llm_rollout.stats import Interval, mean_cs
from llm_rollout.stats._mean import MIN_N, _hall_inverse, gaussian_mixture_radius

INF = math.inf


@pytest.mark.parametrize("values", [[], [3.0]])
def test_fewer_than_two_is_everything(values: list[float]) -> None:
    assert mean_cs(np.array(values), 0.05) == Interval(-INF, INF)
    assert mean_cs(np.array(values), 0.05, min_n=0) == Interval(-INF, INF)


def test_below_the_minimum_sample_count_is_everything() -> None:
    x = np.random.default_rng(1).lognormal(0.0, 1.0, MIN_N)
    assert mean_cs(x[: MIN_N - 1], 0.05) == Interval(-INF, INF)
    assert mean_cs(x, 0.05).bounded
    assert mean_cs(x[:5], 0.05, min_n=2).bounded


def test_all_equal_is_the_point() -> None:
    assert mean_cs(np.full(50, 7.5), 0.05) == Interval(7.5, 7.5)


def test_non_finite_input_gives_everything_not_nan() -> None:
    assert mean_cs(np.array([1.0, math.nan, 2.0]), 0.05) == Interval(-INF, INF)
    assert mean_cs(np.array([1.0, math.inf, 2.0]), 0.05) == Interval(-INF, INF)


def test_contains_sample_mean_and_shrinks() -> None:
    rng = np.random.default_rng(3)
    x = rng.lognormal(0.0, 1.0, 20_000)
    widths = []
    for n in (100, 1000, 10_000, 20_000):
        iv = mean_cs(x[:n], 0.05)
        assert iv.contains(float(np.mean(x[:n])))
        widths.append(iv.width)
    assert widths == sorted(widths, reverse=True)


def test_scale_and_shift_equivariant() -> None:
    rng = np.random.default_rng(4)
    x = rng.exponential(1.0, 500)
    base = mean_cs(x, 0.01)
    moved = mean_cs(1e-4 * x + 3.0, 0.01)  # e.g. USD instead of micro-dollars
    assert math.isclose(moved.lo, 1e-4 * base.lo + 3.0, rel_tol=1e-9)
    assert math.isclose(moved.hi, 1e-4 * base.hi + 3.0, rel_tol=1e-9)


def test_skewness_correction_leans_right_for_right_skewed_data() -> None:
    # Right skew: the upper side must be longer than the lower (Hall 1992); mirrored data mirror.
    rng = np.random.default_rng(5)
    x = rng.lognormal(0.0, 1.0, 300)
    m = float(np.mean(x))
    iv = mean_cs(x, 0.05)
    assert iv.hi - m > m - iv.lo
    mirrored = mean_cs(-x, 0.05)
    assert math.isclose(mirrored.lo, -iv.hi)
    assert math.isclose(mirrored.hi, -iv.lo)


def test_symmetric_data_gives_plain_gaussian_mixture_cs() -> None:
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0] * 40)  # skewness exactly 0
    half = (
        float(np.std(x, ddof=1)) / math.sqrt(x.size) * gaussian_mixture_radius(x.size, 0.05, 1000)
    )
    iv = mean_cs(x, 0.05)
    assert math.isclose(iv.lo, -half, rel_tol=1e-12)
    assert math.isclose(iv.hi, half, rel_tol=1e-12)


def test_radius_formula() -> None:
    # Waudby-Smith et al. (2023) eq.: sqrt(2 (n rho2 + 1) / (n rho2) log(sqrt(n rho2 + 1) / alpha))
    rho2 = (2 * math.log(20) + math.log(1 + 2 * math.log(20))) / 1000
    want = math.sqrt(
        2 * (1000 * rho2 + 1) / (1000 * rho2) * math.log(math.sqrt(1000 * rho2 + 1) / 0.05)
    )
    assert math.isclose(gaussian_mixture_radius(1000, 0.05, 1000), want)
    # Tuned at t_opt: the radius there is smaller than with t_opt 10x off either way.
    assert gaussian_mixture_radius(1000, 0.05, 1000) < gaussian_mixture_radius(1000, 0.05, 100)
    assert gaussian_mixture_radius(1000, 0.05, 1000) < gaussian_mixture_radius(1000, 0.05, 10_000)


@pytest.mark.parametrize("a", [0.4, 0.01, 1e-5, 1e-9, 0.0, -0.3])
@pytest.mark.parametrize("y", [-5.0, -1.0, 0.0, 2.5, 6.0])
def test_hall_inverse_inverts(a: float, y: float) -> None:
    t = _hall_inverse(y, a)
    g = t + a * t * t + a * a * t**3 / 3 + a / 2
    assert math.isclose(g, y, abs_tol=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1])
def test_rejects_bad_alpha(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        mean_cs(np.ones(3), alpha)
