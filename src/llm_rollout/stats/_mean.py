"""Asymptotic confidence sequence for a mean (cost per request, output tokens, latency).

Base construction: the Gaussian-mixture asymptotic CS (AsympCS) of Waudby-Smith, Arbour,
Sinha, Kennedy & Ramdas (2023, "Time-uniform central limit theory and asymptotic confidence
sequences", Ann. Statist.). With sample mean ``mu_n``, sample standard deviation ``s_n`` and a
tuning ``rho > 0``,

    mu_n +- s_n * sqrt( 2 (n rho^2 + 1) / (n^2 rho^2) * log( sqrt(n rho^2 + 1) / alpha ) )

covers the mean at all ``n`` simultaneously with probability tending to ``>= 1 - alpha``. It is
the two-sided normal-mixture boundary of Howard et al. (2021), ``|S| <= sqrt((V + r) log((V +
r) / (r alpha^2)))`` with ``r = 1 / rho^2``, applied to the standardised sum (``V = n``), i.e.
a strong-approximation argument replaces the data by Brownian motion. ``rho^2 = (2 log(1/alpha)
+ log(1 + 2 log(1/alpha))) / t_opt`` makes it tightest at ``n = t_opt``. We keep ``s_n``
*outside* the square root (as in the unit-variance form of the paper), so the CS does not
depend on the units of ``x``.

Skewness correction (our addition, documented because the plain CS failed our own coverage
test). The studentised mean ``T = sqrt(n) (mu_n - mu) / s_n`` of right-skewed data (costs,
latencies, token counts) has a heavy *left* tail: samples that missed the rare large values
have both a low mean and a low ``s_n``. The Edgeworth expansion (Hall 1992, "The Bootstrap and
Edgeworth Expansion", chapter 2) is ``P(T <= t) = Phi(t) + n^-1/2 gamma (2 t^2 + 1) / 6
phi(t) + O(1/n)``, with ``gamma`` the skewness. Hall's (1992, "On the removal of skewness by
transformation", JRSS-B 54(1)) monotone transformation

    g(t) = t + a t^2 + a^2 t^3 / 3 + a / 2,   a = gamma_hat / (3 sqrt(n))
         = ((1 + a t)^3 - 1) / (3 a) + a / 2

removes that term (``g' = (1 + a t)^2 >= 0``, so ``g`` is increasing and invertible in closed
form: ``g^-1(y) = (cbrt(1 + 3 a (y - a/2)) - 1) / a``). We bound ``g(T)``, not ``T``, by the
standardised boundary ``c_n``: ``T in [g^-1(-c_n), g^-1(c_n)]``, i.e.

    mu in [mu_n - s_n g^-1(c_n) / sqrt(n),  mu_n - s_n g^-1(-c_n) / sqrt(n)].

The shift is ``O(c_n^2 / sqrt(n))`` standard errors, so the width ratio to the plain CS tends
to 1 and the result is still an asymptotic CS in the paper's sense. In 2000-run simulations
(alpha = 0.05, looks every 50 observations up to n = 2000 or 5000, two seeds) the uniform
coverage on lognormal(0, 1) data rose from 0.93-0.95 to 0.965-0.975, on lognormal(0, 1.5)
from 0.82-0.84 to 0.94-0.96, on exponential from 0.963 to 0.976, and normal data were
unchanged (0.974). Known limit: data whose mean is dominated by rare values not yet seen (5%
of requests 20x slower, tails heavier than lognormal(0, 1.5)) still under-cover at small
``n`` (about 0.90 for the 5%-at-20x mixture, and for lognormal(0, 2)); no CS for an unbounded
mean can avoid that, so gates should keep a minimum sample count. Rates (0/1 data) belong to
:func:`rate_cs`: before a rare event first happens all values are 0 and this CS is the point
``[0, 0]``.

Degenerate input: ``n < 2`` (no spread estimate) gives ``(-inf, inf)``; all-equal values give
the point ``[x, x]`` (nothing observed varies); non-finite results give ``(-inf, inf)``.
"""

from __future__ import annotations

import math

import numpy as np

from ._interval import FloatArray, Interval
from ._mixture import normal_mixture_c

_SERIES = 1e-4  # below |a (y - a/2)| of this, invert g by its series (no cancellation)


def mixture_radius(n: FloatArray, alpha: float, t_opt: int = 1000) -> FloatArray:
    """The standardised boundary ``c_n``: ``sqrt(n) / s_n`` times the half-width of the
    Waudby-Smith et al. (2023) Gaussian-mixture asymptotic CS, elementwise (``n < 1`` counts as
    1)."""
    rho2 = normal_mixture_c(alpha) / t_opt
    n_rho2 = np.maximum(n, 1.0) * rho2
    out: FloatArray = np.sqrt(2.0 * (n_rho2 + 1.0) / n_rho2 * np.log(np.sqrt(n_rho2 + 1.0) / alpha))
    return out


def gaussian_mixture_radius(n: int, alpha: float, t_opt: int) -> float:
    """:func:`mixture_radius` for one sample size."""
    return float(mixture_radius(np.array([float(n)]), alpha, t_opt)[0])


def _hall_inverse(y: FloatArray | float, a: FloatArray | float) -> FloatArray:
    """``g^-1(y)`` for Hall's transformation ``g(t) = ((1 + a t)^3 - 1) / (3 a) + a / 2``,
    elementwise."""
    w = y - 0.5 * a
    u = a * w
    small = np.abs(u) < _SERIES
    # cbrt(1 + 3u) = 1 + u - u^2 + 5u^3/3 - ...  =>  g^-1 = w - a w^2 + 5 a^2 w^3 / 3 - ...
    series = w - a * w * w + 5.0 / 3.0 * a * a * w * w * w
    safe_a = np.where(small, 1.0, a)  # the closed form is not used there: keep it finite
    exact = (np.cbrt(1.0 + 3.0 * u) - 1.0) / safe_a
    out: FloatArray = np.where(small, series, exact)
    return out


# Below this many observations the interval is unbounded. The CS is only asymptotically valid:
# a right-skewed sample that has not yet seen its tail has a low mean *and* a low spread, so at
# n <= 20 the interval can sit wholly below the truth far more often than alpha (measured in
# docs/statistics.md, section 4: at the judge's alpha, 10-29 misses per 2,000 runs with looks
# from n = 5, against none with looks from n = 30 on the gates' own data).
MIN_N = 30


def mean_bounds(
    n: FloatArray,
    mean: FloatArray,
    sd: FloatArray,
    skew: FloatArray,
    alpha: float,
    t_opt: int = 1000,
    min_n: int = MIN_N,
) -> tuple[FloatArray, FloatArray]:
    """``(lo, hi)`` of :func:`mean_cs` for many samples at once, from their summary statistics:
    count ``n``, ``mean``, ``sd`` (with ``n - 1``) and ``skew`` (central moments with ``1/n``).

    Ends are ``-inf`` / ``inf`` below ``max(2, min_n)`` observations and wherever they are not
    finite or cross; ``sd == 0`` (nothing observed varies) gives the point ``[mean, mean]``.
    """
    c = mixture_radius(n, alpha, t_opt)
    root = np.sqrt(np.maximum(n, 1.0))
    # An overflowing skewness (a spread that rounds to nearly 0) gives NaN ends: declared bad
    # below, so the warning numpy would raise on the way says nothing new.
    with np.errstate(over="ignore", invalid="ignore"):
        a = skew / (3.0 * root)
        se = sd / root
        lo = mean - se * _hall_inverse(c, a)
        hi = mean - se * _hall_inverse(-c, a)
    bad = (n < max(2, min_n)) | ~np.isfinite(lo) | ~np.isfinite(hi) | (lo > hi)
    point = (sd == 0) & ~bad
    lo = np.where(bad, -np.inf, np.where(point, mean, lo))
    hi = np.where(bad, np.inf, np.where(point, mean, hi))
    return lo, hi


def mean_cs(x: FloatArray, alpha: float, t_opt: int = 1000, min_n: int = MIN_N) -> Interval:
    """Two-sided asymptotic CS for the mean of iid observations ``x`` (in arrival order), valid
    uniformly over ``n >= min_n`` at level ``1 - alpha`` (asymptotically).

    Gaussian-mixture AsympCS of Waudby-Smith et al. (2023), tightest at ``n = t_opt``, with
    Hall's (1992) skewness correction (see the module docstring). ``n < max(2, min_n)``:
    ``(-inf, inf)`` (see :data:`MIN_N`).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if t_opt < 1:
        raise ValueError(f"t_opt must be >= 1, got {t_opt}")
    n = int(x.shape[0])
    if n < 2:
        return Interval.everything()  # no spread to estimate
    mean = float(np.mean(x))
    if not math.isfinite(mean):
        return Interval.everything()
    dev = x - mean
    dev2 = dev * dev
    m2 = float(np.sum(dev2)) / n  # central moments with 1/n (skewness); s_n uses n - 1
    m3 = float(np.dot(dev2, dev)) / n
    if not (math.isfinite(m2) and math.isfinite(m3)):
        return Interval.everything()
    sd = math.sqrt(m2 * n / (n - 1))
    skew = m3 / m2**1.5 if m2 > 0.0 else 0.0
    lo, hi = mean_bounds(
        np.array([float(n)]),
        np.array([mean]),
        np.array([sd]),
        np.array([skew]),
        alpha,
        t_opt,
        min_n,
    )
    return Interval(float(lo[0]), float(hi[0]))
