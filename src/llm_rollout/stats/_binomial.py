"""Confidence sequences for a Bernoulli rate (errors, refusals, thumbs-down) and the SRM guard.

Construction: invert the beta-binomial mixture test of :mod:`._mixture` (Howard, Ramdas,
McAuliffe & Sekhon 2021): the CS after ``k`` successes in ``n`` trials is

    C_n = {p in [0, 1] : M_n(p) < 1/alpha}

which covers the true rate at every ``n`` simultaneously with probability ``>= 1 - alpha``.
It is exact for every ``n`` (no normal approximation), so it is valid for ``k = 0`` and tiny
``n``; with ``k = 0`` the lower end is 0 (and with one success in far more than ``t_opt``
trials, too: the mixture cannot tell a rate of 1e-7 from 0 then). Two facts make the
inversion a pair of bisections:

* ``M_n(k/n) <= 1 < 1/alpha``: ``M_n(p)`` averages likelihood ratios ``L_n(theta)`` of
  alternatives against ``p``; at ``p = k/n`` (the MLE) none of them exceeds 1. So ``k/n`` is
  always inside.
* ``M_n(p)`` falls and then rises in ``p`` (checked numerically over ``n`` up to 1e6, all ``k``
  regimes and ``alpha`` down to 1e-4; ``tests/stats/test_stats_rate.py`` checks the hull on a
  grid). So each side of ``k/n`` has one crossing.

Bisection runs on the logit scale, where ``p`` and ``1 - p`` both keep full relative precision;
it keeps the rejected end of the final bracket, so the interval errs wide (by < 2e-13 in logit).
The same code answers many ``(k, n)`` at once (:func:`rate_cs_batch`), which coverage
simulations use; :func:`rate_cs` runs the identical bisection on Python floats, because for one
``(k, n)`` numpy's per-call overhead on two-element arrays costs ten times the arithmetic (the
judge calls it several times a check).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._interval import FloatArray, Interval
from ._mixture import log_mixture, log_mixture_scalar, prior_size

_LOGIT_MAX = 100.0  # p = expit(-100) ~ 4e-44: every rate below it counts as 0
_ITERATIONS = 50  # bracket width 200 / 2**50 ~ 2e-13 on the logit scale (relative, in p)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def _expit_pair(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``p = 1 / (1 + e^-x)`` and ``1 - p = 1 / (1 + e^x)``, each to full relative precision."""
    return 1.0 / (1.0 + np.exp(-x)), 1.0 / (1.0 + np.exp(x))


def rate_cs_batch(
    k: npt.ArrayLike, n: npt.ArrayLike, alpha: float, t_opt: int = 1000
) -> tuple[FloatArray, FloatArray]:
    """:func:`rate_cs` for arrays of ``(k, n)`` (broadcast): returns ``(lo, hi)`` arrays."""
    _check_alpha(alpha)
    k_arr, n_arr = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, np.float64))
    k_arr, n_arr = k_arr.ravel(), n_arr.ravel()
    if np.any(n_arr < 0) or np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise ValueError("need 0 <= k <= n")
    m = prior_size(t_opt, alpha)
    threshold = math.log(1.0 / alpha)
    size = k_arr.size
    safe_n = np.maximum(n_arr, 1.0)
    with np.errstate(divide="ignore"):
        p_hat = k_arr / safe_n
        x_hat = np.clip(np.log(p_hat) - np.log1p(-p_hat), -_LOGIT_MAX, _LOGIT_MAX)

    # Both sides in one array: the first half searches below k/n, the second half above.
    s = np.concatenate([k_arr, k_arr])
    trials = np.concatenate([safe_n, safe_n])
    inside = np.concatenate([x_hat, x_hat])  # accepted end of each bracket
    outside = np.concatenate([np.full(size, -_LOGIT_MAX), np.full(size, _LOGIT_MAX)])

    def rejected(x: FloatArray) -> npt.NDArray[np.bool_]:
        p, q = _expit_pair(x)
        return log_mixture(s, trials, p, q, m) >= threshold

    # If even the outermost point is accepted the CS reaches 0 (or 1) on that side.
    reaches_edge = ~rejected(outside)
    for _ in range(_ITERATIONS):
        mid = 0.5 * (inside + outside)
        rej = rejected(mid)
        outside = np.where(rej, mid, outside)
        inside = np.where(rej, inside, mid)

    bound, _ = _expit_pair(outside)
    lo = np.where(reaches_edge[:size] | (k_arr == 0), 0.0, bound[:size])
    hi = np.where(reaches_edge[size:] | (k_arr == n_arr), 1.0, bound[size:])
    empty = n_arr == 0
    return np.where(empty, 0.0, lo), np.where(empty, 1.0, hi)


def _scalar_bound(
    k: float, n: float, x_hat: float, edge: float, m: float, threshold: float
) -> float:
    """One side of :func:`rate_cs_batch`'s bisection for a single ``(k, n)``: the rejected end
    of the final bracket between the MLE ``x_hat`` and ``edge`` (logit scale), as a rate; the
    edge itself (0 or 1) when even the edge is accepted."""

    def rejected(x: float) -> bool:
        p, q = 1.0 / (1.0 + math.exp(-x)), 1.0 / (1.0 + math.exp(x))
        return log_mixture_scalar(k, n, p, q, m) >= threshold

    if not rejected(edge):
        return 0.0 if edge < 0 else 1.0
    inside, outside = x_hat, edge
    for _ in range(_ITERATIONS):
        mid = 0.5 * (inside + outside)
        if rejected(mid):
            outside = mid
        else:
            inside = mid
    return 1.0 / (1.0 + math.exp(-outside))


def rate_cs(k: int, n: int, alpha: float, t_opt: int = 1000) -> Interval:
    """Two-sided CS for a Bernoulli rate after ``k`` successes in ``n`` trials, in ``[0, 1]``.

    Beta-binomial mixture (Howard et al. 2021), tuned to be tightest after ``t_opt`` trials;
    valid at every ``n`` at once with probability ``>= 1 - alpha``. ``n = 0`` gives ``[0, 1]``.
    """
    _check_alpha(alpha)
    if not 0 <= k <= n:
        raise ValueError("need 0 <= k <= n")
    if n == 0:
        return Interval(0.0, 1.0)
    m = prior_size(t_opt, alpha)
    threshold = math.log(1.0 / alpha)
    kf, nf = float(k), float(n)
    if k == 0:
        x_hat = -_LOGIT_MAX
    elif k == n:
        x_hat = _LOGIT_MAX
    else:
        x_hat = min(max(math.log(kf / nf) - math.log1p(-kf / nf), -_LOGIT_MAX), _LOGIT_MAX)
    lo = 0.0 if k == 0 else _scalar_bound(kf, nf, x_hat, -_LOGIT_MAX, m, threshold)
    hi = 1.0 if k == n else _scalar_bound(kf, nf, x_hat, _LOGIT_MAX, m, threshold)
    return Interval(lo, hi)


def srm_check(
    n_candidate: int, n_total: int, weight: float, alpha: float
) -> tuple[float, Interval]:
    """Sample-ratio mismatch guard: the observed candidate share and a CS for the true share.

    The split is broken (mismatch) when ``weight`` lies outside the interval; under a correct
    split that happens with probability ``<= alpha`` over the whole step, however often it is
    checked. With no traffic the observed share is reported as ``weight`` (no evidence either
    way) and the interval is ``[0, 1]``. The CS assumes independent assignments: with sticky
    bucketing count assignment units (sticky keys), not requests, or users with many requests
    will trip the guard.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    share = weight if n_total == 0 else n_candidate / n_total
    return share, rate_cs(n_candidate, n_total, alpha)
