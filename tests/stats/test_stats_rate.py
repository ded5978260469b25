"""rate_cs / rate_cs_batch / srm_check: exactness of the inversion, edge cases, widths."""

import math

import numpy as np
import pytest

from llm_rollout.stats import Interval, rate_cs, rate_cs_batch, srm_check
from llm_rollout.stats._mixture import log_mixture, prior_size


def test_no_trials_is_everything() -> None:
    assert rate_cs(0, 0, 0.05) == Interval(0.0, 1.0)


def test_one_trial_is_uninformative() -> None:
    # With n = 1 the mixture martingale is identically 1: nothing can be excluded.
    assert rate_cs(0, 1, 0.05) == Interval(0.0, 1.0)
    assert rate_cs(1, 1, 0.05) == Interval(0.0, 1.0)


def test_zero_successes() -> None:
    iv = rate_cs(0, 2000, 0.05)
    assert iv.lo == 0.0
    assert 0.0 < iv.hi < 0.01
    # Still below 1% at the small alphas a split rollout budget hands to one gate.
    assert rate_cs(0, 2000, 1e-4).hi < 0.01


def test_all_successes_mirrors_zero_successes() -> None:
    none, every = rate_cs(0, 2000, 0.05), rate_cs(2000, 2000, 0.05)
    assert every.hi == 1.0
    assert math.isclose(every.lo, 1.0 - none.hi, rel_tol=1e-9)


def test_contains_estimate_and_shrinks() -> None:
    widths = []
    for n in (100, 1000, 10_000, 100_000):
        k = n // 50
        iv = rate_cs(k, n, 0.05)
        assert iv.contains(k / n)
        widths.append(iv.width)
    assert widths == sorted(widths, reverse=True)


def test_batch_matches_scalar_and_mirror_symmetry() -> None:
    k = np.arange(0, 301)
    lo, hi = rate_cs_batch(k, 300, 0.01)
    for i in range(301):
        # The scalar path runs the same bisection on Python floats: libm's exp/log and numpy's
        # may differ in the last bit, and lgamma sums of ~1e4 carry ~1e-12 of rounding, which
        # moves a crossing by about 1e-12 relative: floating noise, not a different interval.
        iv = rate_cs(i, 300, 0.01)
        assert iv.lo == pytest.approx(float(lo[i]), rel=1e-9, abs=1e-300)
        assert iv.hi == pytest.approx(float(hi[i]), rel=1e-9)
    assert np.allclose(lo, 1.0 - hi[::-1], atol=1e-12)
    assert np.all(np.diff(lo) >= 0)
    assert np.all(np.diff(hi) >= 0)
    rng = np.random.default_rng(3)
    n_b = rng.integers(1, 10**6, 200)
    k_b = rng.binomial(n_b, rng.choice([1e-4, 0.01, 0.3, 0.999], 200))
    lo_b, hi_b = rate_cs_batch(k_b, n_b, 1e-4)
    for i in range(200):
        iv = rate_cs(int(k_b[i]), int(n_b[i]), 1e-4)
        assert iv.lo == pytest.approx(float(lo_b[i]), rel=1e-9, abs=1e-300)
        assert 1 - iv.hi == pytest.approx(1 - float(hi_b[i]), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    ("k", "n", "alpha"),
    [(0, 50, 0.05), (1, 50, 0.05), (3, 1000, 0.01), (20, 1000, 0.05), (500, 1000, 0.3),
     (990, 1000, 0.05), (7, 100_000, 1e-4), (0, 10**6, 0.05), (10**6, 10**6, 0.05)],
)  # fmt: skip
def test_interval_is_exactly_the_accepted_set(k: int, n: int, alpha: float) -> None:
    # The CS is {p : M_n(p) < 1/alpha}. On a dense grid, every p clearly inside [lo, hi] must be
    # accepted and every p clearly outside rejected: this checks both the bisection and the
    # "falls then rises" shape it relies on.
    iv = rate_cs(k, n, alpha)
    center = math.log(k + 0.5) - math.log(n - k + 0.5)  # logit of the estimate, roughly
    x = np.concatenate([np.linspace(-40, 40, 4001), center + np.linspace(-3, 3, 2001)])
    p, q = 1 / (1 + np.exp(-x)), 1 / (1 + np.exp(x))
    f = log_mixture(np.full_like(p, k), np.full_like(p, n), p, q, prior_size(1000, alpha))
    accepted = f < math.log(1 / alpha)
    tol = 1e-6
    above_lo = (p > iv.lo * (1 + tol)) | (iv.lo == 0.0)
    below_hi = (q > (1 - iv.hi) * (1 + tol)) | (iv.hi == 1.0)
    outside = (p < iv.lo * (1 - tol)) | (q < (1 - iv.hi) * (1 - tol))
    assert np.all(accepted[above_lo & below_hi])
    assert not np.any(accepted[outside])
    assert outside.any() or (iv.lo == 0.0 and iv.hi == 1.0)  # the check is not vacuous


def test_width_at_two_percent() -> None:
    # 20 errors in 1000 requests: the time-uniform CS is wider than a one-look Wilson interval
    # (about [0.013, 0.031]) but still bounded away from 0 and well under 2x.
    iv = rate_cs(20, 1000, 0.05)
    assert 0.005 < iv.lo < 0.013
    assert 0.031 < iv.hi < 0.04


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="0 <= k <= n"):
        rate_cs(k, n, 0.05)


def test_rejects_bad_alpha() -> None:
    with pytest.raises(ValueError, match="alpha"):
        rate_cs(1, 5, 1.0)


def test_srm_check_flags_a_broken_split_only() -> None:
    share, iv = srm_check(1000, 10_000, 0.1, 0.001)
    assert share == 0.1
    assert iv.contains(0.1)
    share, iv = srm_check(1300, 10_000, 0.1, 0.001)  # 13% observed at a 10% policy
    assert share == 0.13
    assert not iv.contains(0.1)


def test_srm_check_without_traffic() -> None:
    assert srm_check(0, 0, 0.25, 0.01) == (0.25, Interval(0.0, 1.0))
    with pytest.raises(ValueError, match="weight"):
        srm_check(1, 2, 1.5, 0.01)
