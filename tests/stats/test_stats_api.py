"""The public surface of llm_rollout.stats and the Interval / ratio_interval helpers."""

import math

import pytest

from llm_rollout import stats
from llm_rollout.stats import Interval, ratio_interval

INF = math.inf


def test_exports_match_all() -> None:
    # The judge is written against these names; __all__ must list exactly what is exported.
    for name in ("Interval", "mean_cs", "rate_cs", "quantile_cs", "ks_cs", "ratio_interval"):
        assert name in stats.__all__
    assert "srm_check" in stats.__all__
    assert sorted(stats.__all__) == stats.__all__
    for name in stats.__all__:
        assert hasattr(stats, name), name


def test_interval_contains_is_closed_and_handles_infinite_ends() -> None:
    iv = Interval(1.0, 2.0)
    assert iv.contains(1.0)
    assert iv.contains(2.0)
    assert not iv.contains(2.0000001)
    assert iv.width == 1.0
    assert iv.bounded
    wide = Interval.everything()
    assert wide.contains(-1e300)
    assert wide.contains(1e300)
    assert not wide.bounded


@pytest.mark.parametrize(("lo", "hi"), [(math.nan, 1.0), (0.0, math.nan), (2.0, 1.0)])
def test_interval_refuses_nan_and_inverted(lo: float, hi: float) -> None:
    with pytest.raises(ValueError, match="invalid interval"):
        Interval(lo, hi)


def test_ratio_interval_finite() -> None:
    assert ratio_interval(Interval(2.0, 6.0), Interval(1.0, 2.0)) == Interval(1.0, 6.0)


def test_ratio_interval_denominator_may_be_zero() -> None:
    r = ratio_interval(Interval(2.0, 6.0), Interval(-1.0, 2.0))
    assert r == Interval(1.0, INF)


def test_ratio_interval_denominator_certainly_zero_says_nothing() -> None:
    assert ratio_interval(Interval(1.0, 2.0), Interval(0.0, 0.0)) == Interval(0.0, INF)


def test_ratio_interval_unbounded_parts() -> None:
    # An unbounded denominator makes the lower end 0; an unbounded numerator the upper end inf.
    assert ratio_interval(Interval(1.0, 2.0), Interval(1.0, INF)) == Interval(0.0, 2.0)
    assert ratio_interval(Interval(1.0, INF), Interval(1.0, 2.0)) == Interval(0.5, INF)
    assert ratio_interval(Interval(-INF, INF), Interval(-INF, INF)) == Interval(0.0, INF)


def test_ratio_interval_clips_negative_numerator() -> None:
    # Asymptotic mean CSs can dip below 0 for a non-negative metric; the ratio cannot.
    assert ratio_interval(Interval(-1.0, 4.0), Interval(2.0, 4.0)) == Interval(0.0, 2.0)
    assert ratio_interval(Interval(0.0, 0.0), Interval(1.0, 2.0)) == Interval(0.0, 0.0)
