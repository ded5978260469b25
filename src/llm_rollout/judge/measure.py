"""Measurements: a point estimate plus an anytime-valid interval for one comparison.

Ratios compare candidate / baseline; each arm's interval takes half of the statistic's alpha
so the ratio interval holds with probability 1 - alpha (union bound). All compared quantities
(latencies, costs, token counts, rates) are non-negative (``ratio_interval`` clips the arm
intervals at 0), and a baseline of exactly 0 never reaches a division: 0/0 is NODATA, x/0 an
infinite estimate.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..records import ArmWindow, FloatArray
from ..stats import Interval, ks_cs, mean_cs, quantile_cs, rate_cs, ratio_interval
from .decide import Measurement, empty_arm, nodata


class Count(NamedTuple):
    """``k`` events out of ``n`` trials in one arm."""

    k: int
    n: int


def errors(arm: ArmWindow) -> Count:
    """Errored calls out of all calls."""
    return Count(int(arm.error.sum()), arm.n)


def refusals(arm: ArmWindow) -> Count:
    """Refusals out of ok calls: an errored call had no chance to refuse."""
    return Count(int(arm.refused[arm.ok].sum()), int(arm.ok.sum()))


def ok_values(arm: ArmWindow, column: str) -> FloatArray:
    """A column over the calls that succeeded (``error`` False)."""
    values: FloatArray = getattr(arm, column)
    return values[arm.ok]


def ratio_bounds(num: Interval, den: Interval) -> tuple[float, float]:
    """Interval of ``num / den`` for non-negative quantities: :func:`ratio_interval`, except
    where the denominator is certainly 0."""
    if max(den.hi, 0.0) == 0.0:
        # The baseline is certainly 0 (a free model: every cost exactly 0). ratio_interval
        # says nothing here ([0, inf]); but a surely positive candidate is surely an infinite
        # ratio, and a free baseline must not hide a paid candidate.
        return (math.inf if num.lo > 0.0 else 0.0), math.inf
    r = ratio_interval(num, den)
    return r.lo, r.hi


def ratio(
    num_point: float,
    den_point: float,
    num_cs: Interval,
    den_cs: Interval,
    *,
    n_baseline: int,
    n_candidate: int,
    what: str,
) -> Measurement:
    """Candidate (num) over baseline (den); 0/0 is NODATA, x/0 an infinite estimate."""
    if den_point == 0.0 and num_point == 0.0:
        return nodata(n_baseline, n_candidate, f"{what} is 0 in both arms, 0/0 is undefined")
    estimate = math.inf if den_point == 0.0 else num_point / den_point
    lo, hi = ratio_bounds(num_cs, den_cs)
    return Measurement(estimate, lo, hi, n_baseline, n_candidate)


def quantile_ratio(
    baseline: FloatArray,
    candidate: FloatArray,
    p: float,
    alpha: float,
    *,
    population: str,
    quantity: str,
) -> Measurement:
    if (missing := empty_arm(baseline.size, candidate.size, population)) is not None:
        return missing
    return ratio(
        float(np.quantile(candidate, p)),
        float(np.quantile(baseline, p)),
        quantile_cs(candidate, p, alpha / 2),
        quantile_cs(baseline, p, alpha / 2),
        n_baseline=baseline.size,
        n_candidate=candidate.size,
        what=f"the p{round(100 * p)} {quantity}",
    )


def mean_ratio(
    baseline: FloatArray, candidate: FloatArray, alpha: float, *, population: str, quantity: str
) -> Measurement:
    if (missing := empty_arm(baseline.size, candidate.size, population)) is not None:
        return missing
    return ratio(
        float(candidate.mean()),
        float(baseline.mean()),
        mean_cs(candidate, alpha / 2),
        mean_cs(baseline, alpha / 2),
        n_baseline=baseline.size,
        n_candidate=candidate.size,
        what=f"the mean {quantity}",
    )


def rate_excess(
    baseline: Count, candidate: Count, ratio: float, alpha: float, *, population: str
) -> Measurement:
    """d = p_c - ratio * p_b, breach when d > floor; interval from the two rate CS."""
    if (missing := empty_arm(baseline.n, candidate.n, population)) is not None:
        return missing
    p_b, p_c = baseline.k / baseline.n, candidate.k / candidate.n
    cs_b = rate_cs(baseline.k, baseline.n, alpha / 2)
    cs_c = rate_cs(candidate.k, candidate.n, alpha / 2)
    return Measurement(
        estimate=p_c - ratio * p_b,
        lo=cs_c.lo - ratio * cs_b.hi,
        hi=cs_c.hi - ratio * cs_b.lo,
        n_baseline=baseline.n,
        n_candidate=candidate.n,
        detail=f"candidate {p_c:.2%} vs baseline {p_b:.2%}, excess = candidate - {ratio:g}x base",
    )


def rate_ratio(
    baseline: Count, candidate: Count, alpha: float, *, population: str, quantity: str
) -> Measurement:
    """p_c / p_b (shadow alerts); both rates 0 is NODATA."""
    if (missing := empty_arm(baseline.n, candidate.n, population)) is not None:
        return missing
    return ratio(
        candidate.k / candidate.n,
        baseline.k / baseline.n,
        rate_cs(candidate.k, candidate.n, alpha / 2),
        rate_cs(baseline.k, baseline.n, alpha / 2),
        n_baseline=baseline.n,
        n_candidate=candidate.n,
        what=f"the {quantity}",
    )


def ks_distance(
    baseline: FloatArray, candidate: FloatArray, alpha: float, *, population: str
) -> Measurement:
    if (missing := empty_arm(baseline.size, candidate.size, population)) is not None:
        return missing
    estimate, cs = ks_cs(baseline, candidate, alpha)
    return Measurement(estimate, cs.lo, cs.hi, baseline.size, candidate.size)
