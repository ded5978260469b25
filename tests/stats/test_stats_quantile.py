"""quantile_cs and its ranks: edge cases, ties, the P99 width requirement."""

import math

import numpy as np
import pytest

from llm_rollout.stats import Interval, quantile_cs, quantile_ranks
from llm_rollout.stats._mixture import log_mixture, prior_size

INF = math.inf


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_samples_are_everything(n: int) -> None:
    assert quantile_cs(np.ones(n), 0.5, 0.05) == Interval(-INF, INF)


def test_all_equal_samples_give_the_point() -> None:
    assert quantile_cs(np.full(1000, 4.0), 0.5, 0.05) == Interval(4.0, 4.0)


def test_p99_is_finite_on_both_sides_with_a_few_thousand_samples() -> None:
    rng = np.random.default_rng(11)
    x = rng.lognormal(0.0, 1.0, 5000)
    truth = math.exp(2.3263478740408408)  # P99 of lognormal(0, 1)
    iv = quantile_cs(x, 0.99, 0.05)
    assert iv.bounded
    assert iv.contains(truth)
    # Also at the small alpha one statistic gets from a split rollout budget.
    assert quantile_cs(x, 0.99, 1e-3).bounded
    # And already at n = 1000 for alpha = 0.05.
    assert quantile_cs(x[:1000], 0.99, 0.05).bounded


def test_p99_upper_end_is_open_with_few_samples() -> None:
    iv = quantile_cs(np.arange(100.0), 0.99, 0.05)
    assert iv.hi == INF
    assert math.isfinite(iv.lo)


def test_ranks_are_the_accepted_band_of_the_mixture() -> None:
    # s_min - 1 and s_max + 1 are rejected, s_min and s_max accepted, for the known p.
    # The integer bisection is checked against the vectorised mixture, over sizes from a few
    # observations (where the band reaches an edge of [0, n]) to a million.
    rng = np.random.default_rng(7)
    cases = [(1000, 0.99, 0.05), (5000, 0.5, 0.01), (200, 0.9, 0.2)]
    cases += [
        (int(n), float(p), float(a))
        for n, p, a in zip(
            np.concatenate([rng.integers(1, 3000, 150), rng.integers(3000, 10**6, 150)]),
            rng.choice([0.5, 0.95, 0.99, 0.05], 300),
            rng.choice([1e-4, 1e-3, 0.05], 300),
            strict=True,
        )
    ]
    for n, p, alpha in cases:
        s_min, s_max = quantile_ranks(n, p, alpha)
        s = np.array([s_min - 1, s_min, s_max, s_max + 1], dtype=float)
        f = log_mixture(
            s, np.full(4, float(n)), np.full(4, p), np.full(4, 1 - p), prior_size(1000, alpha)
        )
        accepted = list(f < math.log(1 / alpha))
        # Outside [0, n] there is nothing to reject: the band reached the edge.
        assert accepted[1:3] == [True, True], (n, p, alpha)
        assert s_min == 0 or not accepted[0], (n, p, alpha)
        assert s_max == n or not accepted[3], (n, p, alpha)


def test_variance_adaptive_band_is_narrower_at_the_tail() -> None:
    # Half-width in ranks scales with sqrt(p (1 - p)): P99's band is much narrower than P50's.
    lo50, hi50 = quantile_ranks(5000, 0.5, 0.05)
    lo99, hi99 = quantile_ranks(5000, 0.99, 0.05)
    assert (hi99 - lo99) < 0.35 * (hi50 - lo50)


def test_ties_bracket_the_quantile() -> None:
    # Token counts: heavy ties. The true median of {0:30%, 1:40%, 2:30%} is 1.
    rng = np.random.default_rng(2)
    x = rng.choice([0.0, 1.0, 2.0], p=[0.3, 0.4, 0.3], size=2000)
    assert quantile_cs(x, 0.5, 0.05) == Interval(1.0, 1.0)


def test_order_statistics_match_a_full_sort() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=3000)
    s_min, s_max = quantile_ranks(3000, 0.95, 0.01)
    xs = np.sort(x)
    assert quantile_cs(x, 0.95, 0.01) == Interval(float(xs[s_min - 1]), float(xs[s_max]))


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_rejects_degenerate_p(p: float) -> None:
    with pytest.raises(ValueError, match="p must be"):
        quantile_cs(np.ones(5), p, 0.05)


def test_nan_input_never_yields_nan() -> None:
    x = np.concatenate([np.arange(1000.0), [math.nan] * 10])
    iv = quantile_cs(x, 0.99, 0.05)
    assert not math.isnan(iv.lo)
    assert not math.isnan(iv.hi)
