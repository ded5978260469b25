"""An exact interval for a proportion seen once: the share of simulated runs that did something.

Not a confidence sequence: :func:`binomial_interval` is the fixed-sample Clopper-Pearson
interval, for reporting a rate counted after all its trials (a study's false-FAIL rate, a
Monte Carlo's share of rollbacks), never for a judge that looks repeatedly.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def _binomial_log_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    log_choose = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return log_choose + k * math.log(p) + (n - k) * math.log1p(-p)


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """``P(X <= k)`` for ``X ~ Binomial(n, p)``, summed exactly (n up to ~1e5 is fine)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return min(1.0, math.fsum(math.exp(_binomial_log_pmf(i, n, p)) for i in range(k + 1)))


def _solve(f: Callable[[float], float], target: float, *, increasing: bool) -> float:
    """The ``p`` in [0, 1] where the monotone ``f(p)`` crosses ``target`` (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = f(mid) < target
        if below == increasing:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def binomial_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (exact) two-sided interval for a proportion ``k / n``.

    Its ends are the ``p`` where ``P(X >= k) = (1 - level) / 2`` and ``P(X <= k) = (1 -
    level) / 2``; ``k = 0`` gives ``lo = 0`` and ``k = n`` gives ``hi = 1``.
    """
    if n < 1 or not 0 <= k <= n:
        raise ValueError("need n >= 1 and 0 <= k <= n")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = (1.0 - level) / 2.0
    lo = 0.0
    if k > 0:
        lo = _solve(lambda p: 1.0 - _binomial_cdf(k - 1, n, p), tail, increasing=True)
    hi = 1.0
    if k < n:
        hi = _solve(lambda p: _binomial_cdf(k, n, p), tail, increasing=False)
    return lo, hi
