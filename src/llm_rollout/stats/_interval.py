"""The interval type every confidence sequence returns, and intervals for ratios of them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

INF = math.inf


@dataclass(frozen=True)
class Interval:
    """A closed interval ``[lo, hi]``; ``lo`` may be ``-inf`` and ``hi`` may be ``+inf``.

    Never NaN, never inverted: the constructors in this package return the widest interval
    instead of a NaN, and this class refuses one so a bug cannot travel silently into a verdict.
    """

    lo: float
    hi: float

    def __post_init__(self) -> None:
        if math.isnan(self.lo) or math.isnan(self.hi) or self.lo > self.hi:
            raise ValueError(f"invalid interval [{self.lo}, {self.hi}]")

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    @property
    def width(self) -> float:
        return self.hi - self.lo

    @property
    def bounded(self) -> bool:
        """Both ends finite."""
        return math.isfinite(self.lo) and math.isfinite(self.hi)

    @classmethod
    def everything(cls) -> Interval:
        return cls(-INF, INF)


def ratio_lo(num_lo: FloatArray, den_hi: FloatArray) -> FloatArray:
    """Low end of :func:`ratio_interval`, elementwise: ``max(num_lo, 0) / max(den_hi, 0)``, 0
    where the denominator may be infinite or is certainly 0 (``inf / inf`` counts as 0, the
    widest)."""
    den = np.maximum(den_hi, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.isinf(den) | (den <= 0), 0.0, np.maximum(num_lo, 0.0) / den)
    result: FloatArray = np.asarray(out, dtype=np.float64)
    return result


def ratio_hi(num_hi: FloatArray, den_lo: FloatArray) -> FloatArray:
    """High end of :func:`ratio_interval`, elementwise: ``max(num_hi, 0) / max(den_lo, 0)``,
    ``inf`` where the denominator may be 0 or the numerator is unbounded."""
    num = np.maximum(num_hi, 0.0)
    den = np.maximum(den_lo, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((den > 0) & ~np.isinf(num), num / den, INF)
    result: FloatArray = np.asarray(out, dtype=np.float64)
    return result


def ratio_interval(num: Interval, den: Interval) -> Interval:
    """Interval for ``num / den`` when both are positive-valued quantities (means, quantiles,
    rates of non-negative metrics).

    Negative parts of either interval are impossible values and are clipped to 0 first. Then
    ``[num.lo / den.hi, num.hi / den.lo]``, with ``x / inf = 0`` and ``x / 0 = inf`` (a
    denominator that may be 0 leaves the ratio unbounded above; one that is certainly 0 says
    nothing: ``[0, inf]``). If ``num`` and ``den`` are confidence sequences at levels
    ``1 - a1`` and ``1 - a2``, the result covers the true ratio at all times with probability
    at least ``1 - a1 - a2`` (union bound).
    """
    lo = float(ratio_lo(np.array([num.lo]), np.array([den.hi]))[0])
    hi = float(ratio_hi(np.array([num.hi]), np.array([den.lo]))[0])
    return Interval(lo, max(lo, hi))
