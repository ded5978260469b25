"""The A/B rule as a verdict: is the candidate confidently better (superiority) or confidently
no worse than the margin (non-inferiority) on one metric?

Every A/B metric is "lower is better" (negative feedback, cost, latency, errors, refusals).
Two shapes of comparison, as in the judge's gates:

- means and medians (``cost``: mean USD per call; ``latency``: p50 of ok calls, robust to the
  tail the latency gate already guards): the ratio candidate / baseline with anytime-valid
  intervals per arm (each at alpha / 2). Non-inferiority: PASS when the whole ratio interval
  is <= 1 + margin, FAIL when it is wholly above. Superiority: PASS when wholly < 1, FAIL when
  wholly > 1 (the candidate is confidently worse).
- rates (``feedback`` per served request, ``errors`` per call, ``refusals`` per ok call): the
  excess ``p_c - (1 + margin) * p_b`` (margin 0 for superiority), which stays defined when the
  baseline rate is 0. PASS when wholly < 0 (superiority) or <= 0 (non-inferiority), FAIL when
  wholly > 0.

Anything in between is INCONCLUSIVE; an empty arm (or 0/0) is NODATA. The margin is relative
and applies to non-inferiority only: superiority means better, by any amount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..records import FloatArray, Window
from ..spec import ABStep, Decision
from ..stats import Interval, mean_cs, quantile_cs, rate_cs
from ..verdict import Outcome, Verdict
from .measure import ratio_bounds

_RATES = ("feedback", "errors", "refusals")


def ab_verdict(ab: ABStep, window: Window, alpha: float) -> Verdict:
    """The A/B rule's verdict on one window (PASS = rule met, FAIL = candidate worse)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    margin = ab.margin if ab.rule is Decision.NON_INFERIORITY else 0.0
    if ab.metric in _RATES:
        return _rate(ab, window, alpha, margin)
    return _ratio(ab, window, alpha, margin)


def _counts(ab: ABStep, window: Window) -> tuple[tuple[int, int], tuple[int, int]]:
    """(k, n) per arm, baseline first, for the rate metrics."""
    out = []
    for arm in (window.baseline, window.candidate):
        if ab.metric == "feedback":
            out.append((arm.negative_feedback, arm.n))
        elif ab.metric == "errors":
            out.append((int(arm.error.sum()), arm.n))
        else:  # refusals, over ok calls: an errored call had no chance to refuse
            out.append((int(arm.refused[arm.ok].sum()), int(arm.ok.sum())))
    return out[0], out[1]


def _rate(ab: ABStep, window: Window, alpha: float, margin: float) -> Verdict:
    (kb, nb), (kc, nc) = _counts(ab, window)
    out = _Out(ab, f"{ab.metric}_rate_excess", 0.0, nb, nc, alpha)
    if nb == 0 or nc == 0:
        return out.nodata("an arm has no calls")
    factor = 1.0 + margin
    cs_b, cs_c = rate_cs(kb, nb, alpha / 2), rate_cs(kc, nc, alpha / 2)
    estimate = kc / nc - factor * kb / nb
    lo, hi = cs_c.lo - factor * cs_b.hi, cs_c.hi - factor * cs_b.lo
    detail = (
        f"candidate {kc / nc:.2%} vs baseline {kb / nb:.2%}, excess over {factor:g}x baseline "
        f"{estimate:+.2%} [{lo:+.2%}, {hi:+.2%}]"
    )
    return out.verdict(estimate, lo, hi, detail)


def _ratio(ab: ABStep, window: Window, alpha: float, margin: float) -> Verdict:
    b, c = window.baseline, window.candidate
    if ab.metric == "cost":
        statistic, xb, xc = "cost_mean_ratio", b.cost_usd, c.cost_usd
    else:
        statistic, xb, xc = "latency_p50_ratio", b.latency_ms[b.ok], c.latency_ms[c.ok]
    out = _Out(ab, statistic, 1.0 + margin, xb.size, xc.size, alpha)
    if xb.size == 0 or xc.size == 0:
        return out.nodata("an arm has no calls")
    pb, pc = _point(ab, xb), _point(ab, xc)
    if pb == 0.0 and pc == 0.0:
        return out.nodata(f"{ab.metric} is 0 in both arms")
    estimate = math.inf if pb == 0.0 else pc / pb
    lo, hi = ratio_bounds(_cs(ab, xc, alpha / 2), _cs(ab, xb, alpha / 2))
    return out.verdict(estimate, lo, hi, f"{ab.metric} ratio {estimate:.3g} [{lo:.3g}, {hi:.3g}]")


def _point(ab: ABStep, x: FloatArray) -> float:
    return float(x.mean()) if ab.metric == "cost" else float(np.quantile(x, 0.5))


def _cs(ab: ABStep, x: FloatArray, alpha: float) -> Interval:
    return mean_cs(x, alpha) if ab.metric == "cost" else quantile_cs(x, 0.5, alpha)


@dataclass(frozen=True)
class _Out:
    """What every verdict of one A/B comparison shares; ``bound`` is on the statistic's scale
    (1 + margin for a ratio, 0 for a rate excess whose margin is inside the statistic)."""

    ab: ABStep
    statistic: str
    bound: float
    n_baseline: int
    n_candidate: int
    alpha: float

    def nodata(self, why: str) -> Verdict:
        return self._make(Outcome.NODATA, math.nan, -math.inf, math.inf, f"no data ({why})")

    def verdict(self, estimate: float, lo: float, hi: float, detail: str) -> Verdict:
        if lo > self.bound:
            outcome = Outcome.FAIL
        elif hi < self.bound or (hi == self.bound and self.ab.rule is Decision.NON_INFERIORITY):
            outcome = Outcome.PASS  # superiority needs strictly better
        else:
            outcome = Outcome.INCONCLUSIVE
        return self._make(outcome, estimate, lo, hi, detail)

    def _make(self, outcome: Outcome, estimate: float, lo: float, hi: float, text: str) -> Verdict:
        ab = self.ab
        rule = ab.rule.value
        if ab.rule is Decision.NON_INFERIORITY:
            rule += f" (margin {ab.margin:g})"
        return Verdict(
            gate="ab",
            statistic=self.statistic,
            outcome=outcome,
            method="sequential",
            estimate=estimate,
            lo=lo,
            hi=hi,
            bound=self.bound,
            n_baseline=self.n_baseline,
            n_candidate=self.n_candidate,
            explanation=f"A/B {rule} on {ab.metric}: {outcome.value}; {text}",
            direction="above",
            alpha=self.alpha,
        )
