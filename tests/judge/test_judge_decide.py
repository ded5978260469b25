"""The decision rules on their own: the margin rule, the threshold rule, NODATA, wording."""

from __future__ import annotations

import math

import pytest

from llm_rollout.judge.decide import (
    Context,
    Measurement,
    Rule,
    Stat,
    decide,
    empty_arm,
    nodata,
    sequential_outcome,
    threshold_outcome,
)
from llm_rollout.spec import Method
from llm_rollout.verdict import Outcome

P, F, U = Outcome.PASS, Outcome.FAIL, Outcome.INCONCLUSIVE
BAND = Rule(0.8, "outside", 1.25)


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (1.21, 1.5, F),  # wholly beyond the bound: confident breach
        (1.2, 1.5, U),  # touching the bound is not beyond it
        (0.9, 1.2, P),  # wholly inside (the bound itself is not a breach)
        (0.9, 1.3, U),
        (-math.inf, math.inf, U),
        (0.0, math.inf, U),
        (math.inf, math.inf, F),  # a surely infinite ratio
    ],
)
def test_sequential_above(lo: float, hi: float, expected: Outcome) -> None:
    assert sequential_outcome(lo, hi, Rule(1.2)) is expected


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (1.3, 1.4, F),  # wholly above the band
        (0.5, 0.7, F),  # wholly below the band
        (0.8, 1.25, P),  # the band's edges are inside
        (0.9, 1.1, P),
        (0.7, 0.9, U),
        (1.2, 1.3, U),
        (0.5, 1.5, U),  # covers the whole band
    ],
)
def test_sequential_band(lo: float, hi: float, expected: Outcome) -> None:
    assert sequential_outcome(lo, hi, BAND) is expected


@pytest.mark.parametrize(
    ("estimate", "rule", "expected"),
    [
        (1.21, Rule(1.2), F),
        (1.2, Rule(1.2), P),
        (math.inf, Rule(1.2), F),
        (1.3, BAND, F),
        (0.79, BAND, F),
        (1.0, BAND, P),
    ],
)
def test_threshold(estimate: float, rule: Rule, expected: Outcome) -> None:
    assert threshold_outcome(estimate, rule) is expected


def test_outside_rule_needs_upper_bound() -> None:
    with pytest.raises(ValueError, match="bound_hi"):
        sequential_outcome(0.0, 1.0, Rule(0.8, "outside"))


def _ctx(method: Method = Method.SEQUENTIAL, min_samples: int = 100) -> Context:
    return Context("cost", method, critical=False, min_samples=min_samples)


def _stat(m: Measurement, rule: Rule | None = None) -> Stat:
    return Stat("mean_ratio", "cost ratio", m, rule or Rule(1.2), 0.002)


def test_decide_explains_a_sequential_fail_in_one_line() -> None:
    v = decide(_ctx(), _stat(Measurement(1.26, 1.21, 1.31, 500, 480)))
    assert v.outcome is F
    assert v.explanation == "cost ratio 1.26 [1.21, 1.31] > 1.2"
    assert (v.gate, v.statistic, v.method, v.alpha) == ("cost", "mean_ratio", "sequential", 0.002)
    assert (v.n_baseline, v.n_candidate, v.critical, v.direction) == (500, 480, False, "above")


def test_decide_explains_pass_and_inconclusive() -> None:
    ok = decide(_ctx(), _stat(Measurement(1.02, 0.91, 1.13, 500, 480)))
    assert ok.explanation == "cost ratio 1.02 [0.91, 1.13] within 1.2"
    unsure = decide(_ctx(), _stat(Measurement(1.1, 0.9, math.inf, 5, 5)))
    assert unsure.outcome is U
    assert unsure.explanation == "cost ratio 1.10 [0.90, inf] straddles 1.2"


def test_decide_band_carries_both_bounds() -> None:
    v = decide(_ctx(), _stat(Measurement(1.5, 1.4, 1.6, 500, 500), BAND))
    assert v.outcome is F
    assert (v.bound, v.bound_hi, v.direction) == (0.8, 1.25, "outside")
    assert v.explanation.endswith("outside [0.8, 1.25]")


def test_threshold_waits_for_min_samples_with_inconclusive() -> None:
    m = Measurement(3.0, 2.0, 4.0, 99, 500)
    v = decide(_ctx(Method.THRESHOLD), _stat(m))
    assert v.outcome is U
    assert "n < min_samples (99/500 < 100 per arm)" in v.explanation
    at_min = decide(_ctx(Method.THRESHOLD, min_samples=99), _stat(m))
    assert at_min.outcome is F
    assert at_min.explanation == "cost ratio 3.00 > 1.2 (point estimate)"
    assert at_min.method == "threshold"


def test_sequential_ignores_min_samples() -> None:
    v = decide(_ctx(min_samples=10_000), _stat(Measurement(3.0, 2.0, 4.0, 50, 50)))
    assert v.outcome is F


@pytest.mark.parametrize("method", list(Method))
def test_nodata_is_the_same_for_both_methods(method: Method) -> None:
    v = decide(_ctx(method), _stat(nodata(0, 10, "baseline has no calls")))
    assert v.outcome is Outcome.NODATA
    assert v.explanation == "cost ratio: no data (baseline has no calls)"
    assert math.isnan(v.estimate)


def test_empty_arm_names_every_empty_arm() -> None:
    assert empty_arm(3, 4, "calls") is None
    both = empty_arm(0, 0, "ok calls")
    assert both is not None
    assert both.missing == "baseline and candidate have no ok calls"
    one = empty_arm(5, 0, "calls")
    assert one is not None
    assert one.missing == "candidate has no calls"
