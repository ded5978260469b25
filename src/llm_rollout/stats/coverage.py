"""Monte Carlo check of time-uniform coverage: how often a CS covers the truth at *every* look.

A confidence sequence at level ``1 - alpha`` promises ``P(truth in CS_n for all n) >= 1 -
alpha``. :func:`uniform_coverage` simulates ``runs`` independent streams of ``length``
observations from a scenario with a known true value, evaluates the CS after each of ``looks``
observations (through the public functions of this package, not a re-implementation) and
returns the fraction of runs in which the truth was inside at every look. Pure: the result
depends only on the arguments.

Scenarios (``param`` in brackets, default after ``=``):

==========================  =============================================================
``mean_lognormal``          :func:`mean_cs`, lognormal(0, sigma) [sigma = 1]
``mean_exponential``        :func:`mean_cs`, exponential(1)
``mean_fixed_n_lognormal``  a fixed-n z-interval on the same data: the repeated-looks
                            failure that confidence sequences exist to prevent (contrast)
``rate``                    :func:`rate_cs`, Bernoulli(p) [p = 0.02]
``quantile_lognormal``      :func:`quantile_cs`, p-quantile of lognormal(0, 1) [p = 0.99]
``ks_identical``            :func:`ks_cs`, two lognormal(0, 1) arms (distance 0)
``ks_shift``                :func:`ks_cs`, N(0, 1) vs N(delta, 1) [delta = 0.5], distance
                            ``2 Phi(delta / 2) - 1``
==========================  =============================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist

import numpy as np

from ._binomial import rate_cs_batch
from ._interval import FloatArray, Interval
from ._ks import ks_cs
from ._mean import mean_cs
from ._quantile import quantile_cs

_NORMAL = NormalDist()

SCENARIOS = (
    "mean_lognormal",
    "mean_exponential",
    "mean_fixed_n_lognormal",
    "rate",
    "quantile_lognormal",
    "ks_identical",
    "ks_shift",
)


def every(step: int, length: int, start: int | None = None) -> list[int]:
    """Looks after ``start, start + step, ...`` observations, up to ``length`` (default start:
    ``step``)."""
    first = step if start is None else start
    return list(range(first, length + 1, step))


def geometric(first: int, length: int, ratio: float = 1.2) -> list[int]:
    """Looks at ``first, first * ratio, ...`` (rounded, distinct) up to ``length``, plus
    ``length`` itself."""
    looks: list[int] = []
    x = float(first)
    while x < length:
        if not looks or round(x) > looks[-1]:
            looks.append(round(x))
        x *= ratio
    looks.append(length)
    return looks


def _fixed_n_mean(x: FloatArray, alpha: float) -> Interval:
    """The textbook interval ``mean +- z_(1 - alpha/2) s / sqrt(n)``: valid at one look only."""
    n = x.shape[0]
    if n < 2:
        return Interval.everything()
    half = _NORMAL.inv_cdf(1.0 - alpha / 2) * float(np.std(x, ddof=1)) / math.sqrt(n)
    mean = float(np.mean(x))
    return Interval(mean - half, mean + half)


def _covered_all(
    data: FloatArray, looks: Sequence[int], truth: float, cs: Callable[[FloatArray], Interval]
) -> float:
    """Fraction of rows of ``data`` whose prefix CS contains ``truth`` at every look."""
    hits = 0
    for row in data:
        if all(cs(row[:n]).contains(truth) for n in looks):
            hits += 1
    return hits / len(data)


def uniform_coverage(
    scenario: str,
    *,
    alpha: float,
    runs: int,
    length: int,
    looks: Sequence[int],
    seed: int,
    param: float | None = None,
) -> float:
    """The observed uniform coverage of one scenario (see the module docstring): the fraction
    of ``runs`` simulated streams in which the CS contained the truth at all ``looks``."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    if runs < 1 or not looks or min(looks) < 1 or max(looks) > length:
        raise ValueError("need runs >= 1 and looks within 1..length")
    rng = np.random.default_rng(seed)
    shape = (runs, length)

    if scenario in ("mean_lognormal", "mean_fixed_n_lognormal"):
        sigma = 1.0 if param is None else param
        data = rng.lognormal(0.0, sigma, shape)
        truth = math.exp(sigma * sigma / 2)
        if scenario == "mean_lognormal":
            return _covered_all(data, looks, truth, lambda x: mean_cs(x, alpha))
        return _covered_all(data, looks, truth, lambda x: _fixed_n_mean(x, alpha))
    if scenario == "mean_exponential":
        data = rng.exponential(1.0, shape)
        return _covered_all(data, looks, 1.0, lambda x: mean_cs(x, alpha))
    if scenario == "rate":
        p = 0.02 if param is None else param
        counts = np.cumsum(rng.random(shape) < p, axis=1)
        idx = np.asarray(looks) - 1
        k = counts[:, idx]
        lo, hi = rate_cs_batch(k, np.broadcast_to(np.asarray(looks), k.shape), alpha)
        inside = (lo <= p) & (p <= hi)
        return float(np.mean(np.all(inside.reshape(k.shape), axis=1)))
    if scenario == "quantile_lognormal":
        p = 0.99 if param is None else param
        data = rng.lognormal(0.0, 1.0, shape)
        truth = math.exp(_NORMAL.inv_cdf(p))
        return _covered_all(data, looks, truth, lambda x: quantile_cs(x, p, alpha))
    # The two KS scenarios: both arms grow together; `pairs` holds arm a then arm b per row.
    if scenario == "ks_identical":
        pairs = rng.lognormal(0.0, 1.0, (runs, 2 * length))
        truth = 0.0
    else:
        delta = 0.5 if param is None else param
        pairs = rng.normal(0.0, 1.0, (runs, 2 * length))
        pairs[:, length:] += delta
        truth = 2.0 * _NORMAL.cdf(delta / 2) - 1.0
    hits = 0
    for row in pairs:
        a, b = row[:length], row[length:]
        if all(ks_cs(a[:n], b[:n], alpha)[1].contains(truth) for n in looks):
            hits += 1
    return hits / runs
