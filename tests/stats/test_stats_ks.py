"""ks_cs: the statistic against a brute-force definition, the radius, edge cases."""

import math

import numpy as np

from llm_rollout.stats import Interval, dkw_radius, ks_cs, ks_distance


def _brute_force_ks(a: np.ndarray, b: np.ndarray) -> float:
    points = np.concatenate([a, b])
    fa = (a[None, :] <= points[:, None]).mean(axis=1)
    fb = (b[None, :] <= points[:, None]).mean(axis=1)
    return float(np.max(np.abs(fa - fb)))


def test_statistic_matches_definition_with_ties() -> None:
    rng = np.random.default_rng(6)
    for _ in range(20):
        a = rng.integers(0, 8, size=rng.integers(1, 60)).astype(float)
        b = rng.integers(0, 10, size=rng.integers(1, 60)).astype(float)
        assert math.isclose(ks_distance(a, b), _brute_force_ks(a, b), abs_tol=1e-12)


def test_identical_and_disjoint_samples() -> None:
    x = np.arange(100.0)
    d, iv = ks_cs(x, x.copy(), 0.05)
    assert d == 0.0
    assert iv.lo == 0.0
    d, iv = ks_cs(x, x + 1000.0, 0.05)
    assert d == 1.0
    assert iv.hi == 1.0


def test_empty_sample_is_everything() -> None:
    assert ks_cs(np.array([]), np.ones(5), 0.05) == (0.0, Interval(0.0, 1.0))


def test_radius_is_howard_ramdas_theorem_2() -> None:
    want = 0.85 * math.sqrt(
        (math.log(math.log(math.e * 1000)) + 0.8 * math.log(1612 / 0.05)) / 1000
    )
    assert math.isclose(dkw_radius(1000, 0.05), want)
    assert dkw_radius(0, 0.05) == 1.0
    assert dkw_radius(1, 0.05) == 1.0  # clipped: a CDF distance never exceeds 1


def test_interval_is_estimate_plus_minus_both_radii() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=4000), rng.normal(0.5, 1.0, size=9000)
    d, iv = ks_cs(a, b, 0.01)
    r = dkw_radius(4000, 0.005) + dkw_radius(9000, 0.005)
    assert math.isclose(iv.lo, d - r)
    assert math.isclose(iv.hi, d + r)
    assert iv.contains(2 * 0.5 * (1 + math.erf(0.25 / math.sqrt(2))) - 1)  # true distance


def test_nan_input_never_yields_nan() -> None:
    d, iv = ks_cs(np.array([1.0, math.nan, 3.0]), np.array([2.0, 4.0]), 0.05)
    assert not math.isnan(d)
    assert 0.0 <= iv.lo <= iv.hi <= 1.0
