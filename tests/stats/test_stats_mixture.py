"""The beta-binomial mixture and the vectorised lgamma underneath rate_cs and quantile_cs."""

import math

import numpy as np

from llm_rollout.stats._mixture import lgamma, log_mixture, normal_mixture_c, prior_size


def test_lgamma_matches_libm_on_both_paths() -> None:
    x = np.concatenate([np.geomspace(1e-40, 1e9, 3000), np.arange(1, 60) + 0.5])
    ref = np.array([math.lgamma(v) for v in x])
    got = lgamma(x)  # large array: the Stirling path
    assert x.size > 16
    assert np.all(np.abs(got - ref) <= 1e-13 * np.maximum(1.0, np.abs(ref)))
    small = x[:: x.size // 10][:10]  # small array: the libm path
    assert np.array_equal(lgamma(small), np.array([math.lgamma(v) for v in small]))


def test_tuning_constant() -> None:
    # 2 log(1/alpha) + log(1 + 2 log(1/alpha)) at alpha = 0.05 is 5.99 + 1.94.
    assert math.isclose(normal_mixture_c(0.05), 7.93, abs_tol=0.01)
    assert math.isclose(prior_size(1000, 0.05), 1000 / normal_mixture_c(0.05) - 1)
    assert prior_size(1, 0.05) == 1e-3  # floored, never zero


def test_mixture_is_at_most_one_at_the_mle() -> None:
    # M_n(k/n) <= 1: the reason k/n is always inside the rate CS.
    n = np.full(7, 500.0)
    k = np.array([1.0, 2.0, 10.0, 100.0, 250.0, 400.0, 499.0])
    p = k / n
    assert np.all(log_mixture(k, n, p, 1.0 - p, prior_size(1000, 0.05)) <= 1e-12)


def test_mixture_is_convex_in_s() -> None:
    # quantile_cs relies on convexity in s (one interval of accepted counts).
    s = np.arange(0.0, 1001.0)
    f = log_mixture(s, np.full_like(s, 1000.0), np.full_like(s, 0.99), np.full_like(s, 0.01), 50.0)
    assert np.all(np.diff(f, 2) >= -1e-9)


def test_mixture_n_equals_one_is_uninformative() -> None:
    # One observation: E_prior[theta] / p = 1 for every p, so nothing can be rejected.
    p = np.array([0.001, 0.3, 0.9])
    got = log_mixture(np.ones(3), np.ones(3), p, 1.0 - p, 100.0)
    assert np.allclose(got, 0.0, atol=1e-12)
