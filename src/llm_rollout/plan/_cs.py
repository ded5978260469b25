"""The judge's confidence sequences, evaluated from summary statistics for many runs at once.

The planner never holds the requests of a window, only their count, mean, spread and skewness
(or counts per value cell). These functions give the interval the judge would compute from the
requests themselves: :func:`mean_bounds` is :func:`llm_rollout.stats.mean_cs` written in its
inputs ``(n, mean, sd, skewness)`` (a test checks both agree on real samples), the others call
the stats package directly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..stats import dkw_radius, quantile_ranks
from ..stats._mean import MIN_N
from ..stats._mixture import normal_mixture_c

FloatArray = npt.NDArray[np.float64]
T_OPT = 1000  # the judge's default tuning of every confidence sequence
_SERIES = 1e-4


def mixture_radius(n: FloatArray, alpha: float) -> FloatArray:
    """The standardised Gaussian-mixture boundary ``c_n`` of :func:`mean_cs`, elementwise."""
    rho2 = normal_mixture_c(alpha) / T_OPT
    n_rho2 = np.maximum(n, 1.0) * rho2
    out: FloatArray = np.sqrt(2.0 * (n_rho2 + 1.0) / n_rho2 * np.log(np.sqrt(n_rho2 + 1.0) / alpha))
    return out


def _hall_inverse(y: FloatArray | float, a: FloatArray) -> FloatArray:
    w = y - 0.5 * a
    u = a * w
    small = np.abs(u) < _SERIES
    safe_a = np.where(small, 1.0, a)
    series = w - a * w * w + 5.0 / 3.0 * a * a * w * w * w
    exact = (np.cbrt(1.0 + 3.0 * u) - 1.0) / safe_a
    out: FloatArray = np.where(small, series, exact)
    return out


def mean_bounds(
    n: FloatArray, mean: FloatArray, sd: FloatArray, skew: FloatArray, alpha: float
) -> tuple[FloatArray, FloatArray]:
    """``(lo, hi)`` of ``mean_cs`` for samples with these statistics (``sd`` with ``n - 1``)."""
    c = mixture_radius(n, alpha)
    root = np.sqrt(np.maximum(n, 1.0))
    a = skew / (3.0 * root)
    se = sd / root
    lo = mean - se * _hall_inverse(c, a)
    hi = mean - se * _hall_inverse(-c, a)
    # As mean_cs: unbounded below MIN_N observations, and whenever the ends are not finite
    # or cross; a point when nothing varies.
    bad = (n < max(2, MIN_N)) | ~np.isfinite(lo) | ~np.isfinite(hi) | (lo > hi)
    point = (sd == 0) & ~bad
    lo = np.where(bad, -np.inf, np.where(point, mean, lo))
    hi = np.where(bad, np.inf, np.where(point, mean, hi))
    return lo, hi


def ratio_lo(num_lo: FloatArray, den_hi: FloatArray) -> FloatArray:
    """Low end of ``ratio_interval``: ``max(num.lo, 0) / max(den.hi, 0)`` (0 when den is inf)."""
    den = np.maximum(den_hi, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.isinf(den) | (den <= 0), 0.0, np.maximum(num_lo, 0.0) / den)
    result: FloatArray = np.asarray(out, dtype=np.float64)
    return result


def ratio_hi(num_hi: FloatArray, den_lo: FloatArray) -> FloatArray:
    """High end of ``ratio_interval``: ``num.hi / den.lo`` (inf when den.lo <= 0)."""
    den = np.maximum(den_lo, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, np.maximum(num_hi, 0.0) / den, np.inf)
    result: FloatArray = np.asarray(out, dtype=np.float64)
    return result


def ranks(n: FloatArray, p: float, alpha: float) -> tuple[FloatArray, FloatArray]:
    """``quantile_ranks`` for many counts: exact at up to 17 distinct counts spread over the
    observed range, piecewise linear in between (the ranks are smooth in ``n`` except at the
    smallest counts, which are all anchors when the range is narrow)."""
    lo_n, hi_n = int(np.min(n)), int(np.max(n))
    points = 5 if lo_n > 1000 else 17  # large counts: the ranks are nearly linear in n
    anchors = np.unique(np.rint(np.linspace(lo_n, hi_n, points)).astype(np.int64))
    table = [quantile_ranks(int(a), p, alpha, T_OPT) if a > 0 else (0, 0) for a in anchors]
    s_lo = np.array([t[0] for t in table], dtype=np.float64)
    s_hi = np.array([t[1] for t in table], dtype=np.float64)
    s_min = np.clip(np.floor(np.interp(n, anchors, s_lo)), 0, n)
    s_max = np.clip(np.ceil(np.interp(n, anchors, s_hi)), 0, n)
    return s_min, s_max


def dkw(n: FloatArray, alpha: float) -> FloatArray:
    """:func:`llm_rollout.stats.dkw_radius`, elementwise."""
    safe = np.maximum(n, 1.0)
    eps = 0.85 * np.sqrt((np.log1p(np.log(safe)) + 0.8 * np.log(1612.0 / alpha)) / safe)
    out: FloatArray = np.where(n <= 0, 1.0, np.minimum(eps, 1.0))
    return out


__all__ = ["dkw", "dkw_radius", "mean_bounds", "mixture_radius", "ranks", "ratio_hi", "ratio_lo"]
