"""Confidence sequences for a quantile (P50, P95, P99 of latency or output length).

Howard & Ramdas (2022, "Sequential estimation of quantiles with applications to A/B-testing
and best-arm identification", Bernoulli 28(3)): let ``q`` be the true p-quantile,
``q = inf{x : F(x) >= p}``. Couple the data to uniforms, ``X_i = F^-1(U_i)``, and let
``B_n = #{i <= n : U_i <= p}``, which is Binomial(n, p) with *known* ``p``. Since
``F(q-) <= p <= F(q)``:

    #{i <= n : X_i <= q} >= B_n        and        #{i <= n : X_i < q} <= B_n

(for continuous ``F`` both counts equal ``B_n``; with ties, e.g. token counts, they bracket
it). A time-uniform band ``s_min(n) <= B_n <= s_max(n)`` for all ``n`` with probability
``>= 1 - alpha`` therefore gives, on the same event and for all ``n`` at once:

* at least ``s_min`` observations are ``<= q``, so the order statistic ``X_(s_min) <= q``;
* at most ``s_max`` observations are ``< q``, so ``X_(s_max + 1) >= q``

(1-based order statistics; ``s_min = 0`` leaves ``lo = -inf`` and ``s_max = n`` leaves
``hi = +inf``). The band is the beta-binomial mixture of :mod:`._mixture` at the known ``p``:
``{s : M_n(s) < 1/alpha}``. ``log M_n`` is convex in ``s`` and ``<= 0`` at ``s = n p``, so the
band is an interval ``(L, U)`` around ``n p`` found by two bisections, and
``s_min = floor(L) + 1``, ``s_max = ceil(U) - 1`` (the extreme integers inside the band).
Its half-width is about
``sqrt((V + rho) log((V + rho) / (rho alpha^2)))`` with ``V = n p (1 - p)``: proportional to
``sqrt(p (1 - p))``, so at P99 it is 0.2 times a band built for p = 1/2 (e.g. from the DKW-type
bound), which is what makes P99 usable after a few hundred observations, not tens of
thousands.

The ranks depend only on ``(n, p, alpha, t_opt)``, so they are cached; the data cost is one
``np.partition`` (O(n)).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ._interval import INF, FloatArray, Interval
from ._mixture import log_mixture_scalar, prior_size


@lru_cache(maxsize=65536)
def quantile_ranks(n: int, p: float, alpha: float, t_opt: int = 1000) -> tuple[int, int]:
    """``(s_min, s_max)``: w.p. ``>= 1 - alpha``, for all ``n``, the Binomial(n, p) count lies
    in ``[s_min, s_max]``. The CS is ``[X_(s_min), X_(s_max + 1)]`` (1-based order statistics).

    ``s_min`` is the smallest integer inside the band ``(L, U)`` and ``s_max`` the largest, so
    two integer bisections find them (``log2 n`` steps each, not a float bisection to full
    precision): the band is one interval containing ``n p`` (``log M`` is convex in ``s``).
    """
    if n <= 0:
        return 0, max(n, 0)
    m = prior_size(t_opt, alpha)
    threshold = math.log(1.0 / alpha)
    nf = float(n)

    def inside(s: int) -> bool:
        return log_mixture_scalar(float(s), nf, p, 1.0 - p, m) < threshold

    center = nf * p
    # floor(n p) and ceil(n p) are inside: log M <= 0 at n p and changes by far less than
    # log(1/alpha) over one unit there.
    s_min = 0 if inside(0) else _edge_of_band(inside, accepted=math.floor(center), rejected=0)
    s_max = n if inside(n) else _edge_of_band(inside, accepted=math.ceil(center), rejected=n)
    return s_min, s_max


def interpolated_quantile_ranks(
    n: FloatArray, p: float, alpha: float, t_opt: int = 1000
) -> tuple[FloatArray, FloatArray]:
    """:func:`quantile_ranks` for many counts ``n`` at once: exact at up to 17 distinct counts
    spread over the observed range, piecewise linear in between (the ranks are smooth in ``n``
    except at the smallest counts, which are all anchors when the range is narrow)."""
    lo_n, hi_n = int(np.min(n)), int(np.max(n))
    points = 5 if lo_n > 1000 else 17  # large counts: the ranks are nearly linear in n
    anchors = np.unique(np.rint(np.linspace(lo_n, hi_n, points)).astype(np.int64))
    table = [quantile_ranks(int(a), p, alpha, t_opt) if a > 0 else (0, 0) for a in anchors]
    s_lo = np.array([t[0] for t in table], dtype=np.float64)
    s_hi = np.array([t[1] for t in table], dtype=np.float64)
    s_min = np.clip(np.floor(np.interp(n, anchors, s_lo)), 0, n)
    s_max = np.clip(np.ceil(np.interp(n, anchors, s_hi)), 0, n)
    return s_min, s_max


def _edge_of_band(inside: Callable[[int], bool], accepted: int, rejected: int) -> int:
    """The band's last integer going from ``accepted`` (inside) towards ``rejected`` (outside),
    in either direction, by integer bisection."""
    while abs(rejected - accepted) > 1:
        mid = (rejected + accepted) // 2
        if inside(mid):
            accepted = mid
        else:
            rejected = mid
    return accepted


def quantile_cs(x: FloatArray, p: float, alpha: float, t_opt: int = 1000) -> Interval:
    """Two-sided CS for the ``p``-quantile of iid observations ``x`` (any distribution, ties
    allowed), valid at every sample size at once with probability ``>= 1 - alpha``.

    Order statistics picked by the variance-adaptive beta-binomial boundary of Howard & Ramdas
    (2022), tuned to be tightest after ``t_opt`` observations. ``lo = -inf`` / ``hi = +inf``
    when the rank falls outside the sample (e.g. P99 with fewer than ~500 observations).
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = int(x.shape[0])
    s_min, s_max = quantile_ranks(n, p, alpha, t_opt)
    # 0-based positions of X_(s_min) and X_(s_max + 1).
    kth = [i for i in (s_min - 1, s_max) if 0 <= i < n]
    if not kth:
        return Interval.everything()
    part = np.partition(x, kth)
    lo = float(part[s_min - 1]) if s_min >= 1 else -INF
    hi = float(part[s_max]) if s_max < n else INF
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        return Interval.everything()
    return Interval(lo, hi)
