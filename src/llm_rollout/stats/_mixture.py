"""The beta-binomial mixture martingale behind :func:`rate_cs` and :func:`quantile_cs`.

Setting. ``X_1, X_2, ...`` are iid Bernoulli(p) and ``S_n = X_1 + ... + X_n``. For any fixed
alternative ``theta`` the likelihood ratio

    L_n(theta) = (theta / p)^S_n * ((1 - theta) / (1 - p))^(n - S_n)

is a non-negative martingale with ``E_p L_n = 1``. Mixing over ``theta ~ Beta(m p, m (1 - p))``
(a prior centred on ``p``; it may depend on ``p`` but not on the data) keeps both properties
(Fubini), and the integral has a closed form:

    M_n(p) = B(m p + S_n, m (1 - p) + n - S_n) / B(m p, m (1 - p)) / (p^S_n (1 - p)^(n - S_n))

Ville's inequality gives ``P_p(exists n: M_n(p) >= 1/alpha) <= alpha``: the event
``{M_n(p) < 1/alpha for every n}`` has probability at least ``1 - alpha``. The prior puts mass
on both sides of ``p``, so this is one two-sided test at level ``alpha`` (no ``alpha/2``).

Tuning. The prior has mean ``p`` and variance ``p (1 - p) / (m + 1)``. On the natural scale
``lambda = logit(theta) - logit(p) ~ (theta - p) / (p (1 - p))`` that is approximately
``N(0, 1 / rho)`` with ``rho = (m + 1) p (1 - p)``, and ``M_n`` is approximately the two-sided
normal mixture of Howard, Ramdas, McAuliffe & Sekhon (2021, "Time-uniform, nonparametric,
nonasymptotic confidence sequences", Ann. Statist. 49(2)) in intrinsic time
``V_n = n p (1 - p)``, with boundary ``|S_n - n p| <= sqrt((V + rho) log((V + rho) / (rho
alpha^2)))``. That boundary is tightest at ``V = v_opt`` for ``rho = v_opt / (2 log(1/alpha) +
log(1 + 2 log(1/alpha)))``. With ``v_opt = t_opt p (1 - p)`` (tightest after ``t_opt``
observations, whatever ``p``) this gives ``m + 1 = t_opt / (2 log(1/alpha) + log(1 + 2
log(1/alpha)))``. This is Howard et al.'s beta-binomial mixture with ``g = p, h = 1 - p,
r = rho - g h``, the boundary Howard & Ramdas (2022) use for quantiles. The width scales with
``sqrt(p (1 - p))``, not ``1/2``: it is variance-adaptive, which is what makes a P99 interval
finite after a few hundred observations.

``lgamma`` is vectorised here because numpy has no ``gammaln`` (and scipy is not a dependency).
"""

from __future__ import annotations

import math

import numpy as np

from ._interval import FloatArray

# Stirling series coefficients B_2k / (2k (2k - 1)) for log Gamma: 1/12, -1/360, 1/1260, ...
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_SHIFT = 10.0  # evaluate the series at x >= 10, where its truncation error is below 2e-14
_SMALL_ARRAY = 16  # up to this many values, a Python loop over math.lgamma is faster


def lgamma(x: FloatArray) -> FloatArray:
    """``log Gamma(x)`` for ``x > 0``, elementwise, to about 1e-14 relative error.

    Small arrays go through :func:`math.lgamma`; large ones through the series below.

    For ``x >= 10``: Stirling's series ``(x - 1/2) log x - x + log(2 pi)/2 + sum_k
    B_2k / (2k (2k-1) x^(2k-1))`` with five terms (next term < 691/360360 x^-11 < 2e-14).
    For ``x < 10``: the recurrence ``log Gamma(x) = log Gamma(x + 10) - log(x (x+1) ... (x+9))``.
    """
    if x.size <= _SMALL_ARRAY:
        # libm's lgamma is exact to the last bit and cheaper than 25 numpy calls here.
        return np.array([math.lgamma(v) for v in x.ravel().tolist()]).reshape(x.shape)
    small = x < _SHIFT
    y = np.where(small, x + _SHIFT, x)
    inv = 1.0 / y
    inv2 = inv * inv
    series = np.zeros_like(y)
    for coef in reversed(_STIRLING):  # Horner in 1/y^2
        series = series * inv2 + coef
    series *= inv
    out = (y - 0.5) * np.log(y) - y + _HALF_LOG_2PI + series
    xs = np.where(small, x, 1.0)  # keep the product finite where it is not used
    prod = xs.copy()
    for j in range(1, int(_SHIFT)):
        prod *= xs + j
    result: FloatArray = np.where(small, out - np.log(prod), out)
    return result


def normal_mixture_c(alpha: float) -> float:
    """``2 log(1/alpha) + log(1 + 2 log(1/alpha))``: ``rho = v_opt / c`` tunes the two-sided
    normal mixture to be tightest at intrinsic time ``v_opt`` (Howard et al. 2021)."""
    two_log = 2.0 * math.log(1.0 / alpha)
    return two_log + math.log1p(two_log)


def prior_size(t_opt: float, alpha: float) -> float:
    """The beta prior's ``m`` (its "number of pseudo-observations"), ``t_opt / c(alpha) - 1``.

    Floored at 1e-3 like Howard et al.'s ``r >= 1e-3 g h``: for tiny ``t_opt`` the prior is
    nearly flat-in-logit and the boundary simply widens.
    """
    return max(t_opt / normal_mixture_c(alpha) - 1.0, 1e-3)


def log_mixture(s: FloatArray, n: FloatArray, p: FloatArray, q: FloatArray, m: float) -> FloatArray:
    """``log M_n(p)`` for ``s`` successes in ``n`` trials, elementwise (see the module doc).

    ``q`` must be ``1 - p``; it is passed separately so callers can compute both with full
    relative precision near 0 and near 1 (e.g. from a logit). ``s`` may be real: as a function
    of ``s`` the expression is convex (``lgamma`` is convex, the rest is linear), which
    :func:`quantile_cs` relies on. ``0 * log 0`` counts as 0.
    """
    a = m * p
    b = m * q
    failures = n - s  # before adding b: b + n - s would round b away when b << n
    log_b_post = lgamma(a + s) + lgamma(b + failures) - lgamma(a + b + n)
    log_b_prior = lgamma(a) + lgamma(b) - lgamma(a + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        succ = np.where(s > 0, s * np.log(p), 0.0)
        fail = np.where(failures > 0, failures * np.log(q), 0.0)
    result: FloatArray = log_b_post - log_b_prior - succ - fail
    return result


def log_mixture_scalar(s: float, n: float, p: float, q: float, m: float) -> float:
    """:func:`log_mixture` for one ``(s, n, p)`` on Python floats (``math.lgamma`` is libm's):
    the bisections of :func:`rate_cs` and :func:`quantile_ranks` evaluate it ~100 times a call,
    where numpy's per-call overhead would dominate."""
    a = m * p
    b = m * q
    failures = n - s
    result = (
        math.lgamma(a + s)
        + math.lgamma(b + failures)
        - math.lgamma(a + b + n)
        - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    )
    if s > 0:
        result -= s * math.log(p)
    if failures > 0:
        result -= failures * math.log(q)
    return result
