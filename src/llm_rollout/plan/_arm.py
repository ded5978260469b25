"""One arm's behaviour in closed form: the simulator's model (:mod:`llm_rollout.sim.behaviour`)
written as moments and distribution functions, so the planner can reason about a window of
requests without drawing them.

Per request (as :func:`llm_rollout.sim.behave` draws it): latency ``m x f x exp(sigma Z)`` (the
``p99_latency`` regression multiplies the top 2% by its factor), completion tokens
``median x f x exp(sigma Z)``, prompt tokens ``mean x S`` (log-normal, sigma 0.5, mean 1), cost
``(prompt x input' + completion x output) / 1e6`` times the price factor, errors with no tokens
and no cost, refusals among ok calls, thumbs-down per served request. ``f`` is the arm's drift
factor of the window (times its run factor). Rounding of token counts is ignored (counts are in
the hundreds). A regression with ``share < 1`` makes the affected quantity a two-part mixture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import comb

import numpy as np
import numpy.typing as npt

from ..profile import ModelProfile
from ..sim.behaviour import FAMILIES, PROMPT_SIGMA, TAIL_Z
from ..sim.regression import Regression

FloatArray = npt.NDArray[np.float64]

LATENCY, TTFT, TOKENS, ERRORS, REFUSALS, FEEDBACK = (FAMILIES.index(f) for f in FAMILIES)
SQRT2 = math.sqrt(2.0)

# Phi on a fine table: numpy has no erf, and np.interp on 40001 points is exact to ~1e-9.
_Z = np.linspace(-10.0, 10.0, 40_001)
_PHI = np.array([0.5 * math.erfc(-z / SQRT2) for z in _Z])


def phi_cdf(z: FloatArray) -> FloatArray:
    """The standard normal CDF, elementwise (table + linear interpolation)."""
    out: FloatArray = np.interp(z, _Z, _PHI)
    return out


def components(regressions: tuple[Regression, ...], metric: str) -> list[tuple[float, float]]:
    """``(weight, factor)`` parts of a metric: a regression with share s is a mixture."""
    parts = [(1.0, 1.0)]
    for reg in regressions:
        if reg.metric != metric:
            continue
        parts = [
            (w * s, f * g)
            for w, f in parts
            for s, g in ((reg.share, reg.factor), (1.0 - reg.share, 1.0))
            if w * s > 0
        ]
    return parts


def expected_completion(profile: ModelProfile) -> float:
    """Mean completion tokens of an ok call (the profile holds the median)."""
    return profile.completion_tokens * math.exp(profile.completion_sigma**2 / 2)


def median_for_mean(mean: float, sigma: float) -> float:
    return mean * math.exp(-(sigma**2) / 2)


def prompt_price(profile: ModelProfile) -> float:
    """USD per prompt token, cached share included."""
    cached = (
        profile.price_input if profile.price_cached_input is None else (profile.price_cached_input)
    )
    frac = profile.cached_fraction
    return (profile.price_input * (1.0 - frac) + cached * frac) / 1_000_000


def expected_cost(profile: ModelProfile, prompt_tokens: float | None = None) -> float:
    """Mean USD per request (errored calls cost nothing), as the simulator bills it."""
    prompt = profile.prompt_tokens if prompt_tokens is None else prompt_tokens
    ok = prompt * prompt_price(profile) + expected_completion(profile) * (
        profile.price_output / 1_000_000
    )
    return (1.0 - profile.error_rate) * ok


@dataclass(frozen=True)
class Arm:
    """One arm of a comparison: a profile, the regressions it carries, the traffic's prompts."""

    profile: ModelProfile
    regressions: tuple[Regression, ...] = ()

    def parts(self, metric: str) -> list[tuple[float, float]]:
        return components(self.regressions, metric)

    # --- rates --------------------------------------------------------------------------

    def error_rate(self, f: FloatArray) -> FloatArray:
        scale = sum(w * g for w, g in self.parts("errors"))
        out: FloatArray = np.minimum(self.profile.error_rate * f * scale, 1.0)
        return out

    def refusal_rate(self, f: FloatArray) -> FloatArray:
        """Among ok calls."""
        scale = sum(w * g for w, g in self.parts("refusals"))
        out: FloatArray = np.minimum(self.profile.refusal_rate * f * scale, 1.0)
        return out

    def negative_rate(self, f: FloatArray) -> FloatArray:
        scale = sum(w * g for w, g in self.parts("thumbs_down"))
        out: FloatArray = np.minimum(self.profile.thumbs_down_rate * f * scale, 1.0)
        return out

    # --- tokens and cost: raw moments per request ---------------------------------------

    def completion_moments(self, g: FloatArray) -> list[FloatArray]:
        """``E[C^r]``, r = 0..3, of completion tokens of an ok call under token drift ``g``."""
        s2 = self.profile.completion_sigma**2
        med = self.profile.completion_tokens
        out = [np.ones_like(g)]
        for r in (1, 2, 3):
            total = sum(w * (med * phi) ** r for w, phi in self.parts("output_length"))
            out.append(total * g**r * math.exp(r * r * s2 / 2))
        return out

    def prompt_moments(self) -> list[float]:
        """``E[P^r]``, r = 0..3: prompt tokens are ``mean x S``, S log-normal with mean 1."""
        s2 = PROMPT_SIGMA**2
        mean = self.profile.prompt_tokens
        return [mean**r * math.exp(s2 * (r * r - r) / 2) for r in range(4)]

    def cost_moments(self, g: FloatArray, f_err: FloatArray) -> tuple[list[FloatArray], FloatArray]:
        """Raw moments ``E[X^r]`` (r = 1..3) of the cost of a call (errors cost 0), and the
        covariance of cost and completion tokens among ok calls."""
        a = prompt_price(self.profile)
        b = self.profile.price_output / 1_000_000
        pm = self.prompt_moments()
        cm = self.completion_moments(g)
        price = self.parts("cost")
        ok = 1.0 - self.error_rate(f_err)
        raw: list[FloatArray] = []
        for r in (1, 2, 3):
            inner = sum(comb(r, k) * a**k * b ** (r - k) * pm[k] * cm[r - k] for k in range(r + 1))
            scale = sum(w * pi**r for w, pi in price)
            raw.append(ok * scale * inner)
        mean_pi = sum(w * pi for w, pi in price)
        cov_ok = mean_pi * b * (cm[2] - cm[1] ** 2)
        return raw, cov_ok

    # --- distribution functions ---------------------------------------------------------

    def log_cdf_parts(self, column: str) -> tuple[float, float, list[tuple[float, float, float]]]:
        """``(log median, sigma, [(weight, whole-scale factor, tail factor)])`` of a column."""
        p = self.profile
        if column == "latency":
            whole = self.parts("latency")
            tail = self.parts("p99_latency")
            mix = [(w1 * w2, f1, f2) for w1, f1 in whole for w2, f2 in tail]
            return math.log(p.latency_ms), p.latency_sigma, mix
        if column == "ttft":
            return math.log(p.ttft_ms), p.ttft_sigma, [(w, f, 1.0) for w, f in self.parts("ttft")]
        if column == "completion":
            parts = self.parts("output_length")
            return (
                math.log(p.completion_tokens),
                p.completion_sigma,
                [(w, f, 1.0) for w, f in parts],
            )
        raise ValueError(f"no distribution for column {column!r}")

    def cdf(self, column: str, log_x: FloatArray, f: FloatArray) -> FloatArray:
        """``P(value <= x)`` on a grid of log values (last axis) for per-rep drift ``f``."""
        mu, sigma, mix = self.log_cdf_parts(column)
        shift = (mu + np.log(f))[:, None]
        out = np.zeros((f.shape[0], log_x.shape[0]))
        t = phi_cdf(np.array([TAIL_Z]))[0]
        for w, whole, tail in mix:
            z1 = (log_x[None, :] - shift - math.log(whole)) / sigma
            if tail == 1.0:
                out += w * phi_cdf(z1)
            else:
                z2 = z1 - math.log(tail) / sigma
                out += w * (phi_cdf(np.minimum(z1, TAIL_Z)) + np.maximum(phi_cdf(z2) - t, 0.0))
        return out

    def log_range(self, column: str, z_lo: float, z_hi: float) -> tuple[float, float]:
        """Log values between the ``z_lo`` and ``z_hi`` standard-normal points of every part."""
        mu, sigma, mix = self.log_cdf_parts(column)
        lows = [mu + math.log(whole) + sigma * z_lo for _, whole, _ in mix]
        highs = [mu + math.log(whole * tail) + sigma * z_hi for _, whole, tail in mix]
        return min(lows), max(highs)
