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


def ratio_interval(num: Interval, den: Interval) -> Interval:
    """Interval for ``num / den`` when both are positive-valued quantities (means, quantiles,
    rates of non-negative metrics).

    Negative parts of either interval are impossible values and are clipped to 0 first. Then
    ``[num.lo / den.hi, num.hi / den.lo]``, with ``x / inf = 0`` and ``x / 0 = inf`` (a
    denominator that may be 0 leaves the ratio unbounded above). If ``num`` and ``den`` are
    confidence sequences at levels ``1 - a1`` and ``1 - a2``, the result covers the true ratio
    at all times with probability at least ``1 - a1 - a2`` (union bound).
    """
    num_lo, num_hi = max(num.lo, 0.0), max(num.hi, 0.0)
    den_lo, den_hi = max(den.lo, 0.0), max(den.hi, 0.0)
    if den_hi == 0.0:
        # The denominator is certainly 0: the ratio is undefined, say nothing.
        return Interval(0.0, INF)
    lo = 0.0 if math.isinf(den_hi) else num_lo / den_hi  # inf / inf counts as 0 (widest)
    hi = INF if den_lo == 0.0 or math.isinf(num_hi) else num_hi / den_lo
    return Interval(lo, max(lo, hi))
