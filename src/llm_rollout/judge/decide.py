"""From a measurement to a verdict: the margin rule (sequential) and the threshold rule.

A gate module measures (point estimate, anytime-valid interval, counts); this module alone
decides. ``sequential``: FAIL when the whole interval lies beyond the bound, PASS when it lies
wholly inside, INCONCLUSIVE otherwise. ``threshold``: the point estimate against the bound, once
both arms hold ``min_samples`` observations of the statistic.

Decision (threshold before ``min_samples``): INCONCLUSIVE, not NODATA. There is data, the rule
just refuses to judge it yet, which is what the sequential method says about a small sample
too (its interval is wide). NODATA is kept for "nothing to judge": an empty arm or an undefined
estimate (0/0), so both methods report NODATA on exactly the same windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..spec import Method
from ..verdict import Outcome, Verdict
from . import _format

Direction = Literal["above", "outside"]


@dataclass(frozen=True)
class Measurement:
    """One statistic measured on a window. ``missing`` set: nothing to judge (NODATA)."""

    estimate: float
    lo: float
    hi: float
    n_baseline: int
    n_candidate: int
    missing: str | None = None
    detail: str = ""  # context for the explanation, e.g. both arms' rates


@dataclass(frozen=True)
class Rule:
    """The breach rule: ``above`` bound, or ``outside`` the band [bound, bound_hi]."""

    bound: float
    direction: Direction = "above"
    bound_hi: float | None = None


@dataclass(frozen=True)
class Stat:
    """One measured statistic of a gate, ready to be decided."""

    statistic: str  # e.g. "p99_ratio"
    label: str  # for the explanation, e.g. "p99 latency ratio"
    measurement: Measurement
    rule: Rule
    alpha: float  # this statistic's share of the gate's alpha


@dataclass(frozen=True)
class Context:
    """What every verdict of one gate shares."""

    gate: str
    method: Method
    critical: bool
    min_samples: int


def nodata(n_baseline: int, n_candidate: int, why: str) -> Measurement:
    return Measurement(math.nan, -math.inf, math.inf, n_baseline, n_candidate, missing=why)


def empty_arm(n_baseline: int, n_candidate: int, what: str) -> Measurement | None:
    """NODATA when either arm has no observations of ``what``, else None."""
    empty = [arm for arm, n in (("baseline", n_baseline), ("candidate", n_candidate)) if n == 0]
    if not empty:
        return None
    verb = "has" if len(empty) == 1 else "have"
    return nodata(n_baseline, n_candidate, f"{' and '.join(empty)} {verb} no {what}")


def sequential_outcome(lo: float, hi: float, rule: Rule) -> Outcome:
    if rule.direction == "above":
        if lo > rule.bound:
            return Outcome.FAIL
        return Outcome.PASS if hi <= rule.bound else Outcome.INCONCLUSIVE
    band_hi = _band_hi(rule)
    if lo > band_hi or hi < rule.bound:
        return Outcome.FAIL
    if rule.bound <= lo and hi <= band_hi:
        return Outcome.PASS
    return Outcome.INCONCLUSIVE


def threshold_outcome(estimate: float, rule: Rule) -> Outcome:
    if rule.direction == "above":
        breach = estimate > rule.bound
    else:
        breach = estimate > _band_hi(rule) or estimate < rule.bound
    return Outcome.FAIL if breach else Outcome.PASS


def _band_hi(rule: Rule) -> float:
    if rule.bound_hi is None:
        raise ValueError("an 'outside' rule needs bound_hi")
    return rule.bound_hi


def _relation(outcome: Outcome, rule: Rule, fmt: _format.Formatter, point: bool) -> str:
    """How the evidence sits against the bound, e.g. ``> 1.2`` or ``within [0.8, 1.25]``."""
    if rule.direction == "above":
        inside = "<=" if point else "within"
        word = {Outcome.FAIL: ">", Outcome.PASS: inside, Outcome.INCONCLUSIVE: "straddles"}
        return f"{word[outcome]} {fmt(rule.bound)}"
    band = _format.interval(rule.bound, _band_hi(rule), fmt)
    word = {Outcome.FAIL: "outside", Outcome.PASS: "within", Outcome.INCONCLUSIVE: "overlaps"}
    return f"{word[outcome]} {band}"


def decide(ctx: Context, stat: Stat) -> Verdict:
    """Classify one measurement and write its one-line explanation."""
    statistic, label, m, rule = stat.statistic, stat.label, stat.measurement, stat.rule
    fmt = _format.formatter_for(statistic)
    bound_fmt = _format.bound_for(statistic)
    n_min = min(m.n_baseline, m.n_candidate)
    if m.missing is not None:
        outcome, text = Outcome.NODATA, f"{label}: no data ({m.missing})"
    elif ctx.method is Method.THRESHOLD and n_min < ctx.min_samples:
        outcome = Outcome.INCONCLUSIVE
        text = (
            f"{label}: n < min_samples ({m.n_baseline}/{m.n_candidate} < {ctx.min_samples} "
            "per arm), threshold method waits"
        )
    elif ctx.method is Method.THRESHOLD:
        outcome = threshold_outcome(m.estimate, rule)
        rel = _relation(outcome, rule, bound_fmt, point=True)
        text = f"{label} {fmt(m.estimate)} {rel} (point estimate)"
    else:
        outcome = sequential_outcome(m.lo, m.hi, rule)
        rel = _relation(outcome, rule, bound_fmt, point=False)
        text = f"{label} {fmt(m.estimate)} {_format.interval(m.lo, m.hi, fmt)} {rel}"
    if m.detail and m.missing is None:
        text = f"{text}; {m.detail}"
    return Verdict(
        gate=ctx.gate,
        statistic=statistic,
        outcome=outcome,
        method=ctx.method.value,
        estimate=m.estimate,
        lo=m.lo,
        hi=m.hi,
        bound=rule.bound,
        n_baseline=m.n_baseline,
        n_candidate=m.n_candidate,
        explanation=text,
        critical=ctx.critical,
        bound_hi=rule.bound_hi,
        direction=rule.direction,
        alpha=stat.alpha,
    )
