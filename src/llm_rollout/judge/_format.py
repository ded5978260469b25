"""Number formatting shared by verdict explanations and the verdict table.

Every statistic has one unit, known from its name: ratios (``*_ratio``) print with two
decimals, the rate contrast (``rate_excess``) in percentage points, the SRM share in percent,
the KS distance with three decimals.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Formatter = Callable[[float], str]


def _special(x: float) -> str | None:
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return None


def ratio(x: float) -> str:
    return _special(x) or f"{x:.2f}"


def points(x: float) -> str:
    """An absolute rate difference, in percentage points with an explicit sign."""
    return _special(x) or f"{100 * x:+.2f} pp"


def percent(x: float) -> str:
    return _special(x) or f"{100 * x:.2f}%"


def distance(x: float) -> str:
    return _special(x) or f"{x:.3f}"


def bound(x: float) -> str:
    """A configured bound: as short as it was written (1.5, not 1.50)."""
    return _special(x) or f"{x:g}"


def formatter_for(statistic: str) -> Formatter:
    if statistic == "rate_excess":
        return points
    if statistic == "share":
        return percent
    if statistic == "ks_distance":
        return distance
    return ratio


def unsigned_points(x: float) -> str:
    return _special(x) or f"{100 * x:.2f} pp"


def bound_for(statistic: str) -> Formatter:
    """Bounds of rate and share statistics keep their unit; ratio bounds print bare."""
    if statistic == "rate_excess":
        return unsigned_points
    if statistic == "share":
        return percent
    return bound


def interval(lo: float, hi: float, fmt: Formatter) -> str:
    return f"[{fmt(lo)}, {fmt(hi)}]"
