"""Quick operating checks (small N, fixed seeds): A/A false FAILs and power.

The full-N study lives elsewhere; these guard the property the design rests on: repeated
looks do not make the sequential method false-alarm, while a point-estimate threshold does.
"""

from __future__ import annotations

import pytest

from llm_rollout.judge.evaluation.detection import (
    aa_false_fail_rate,
    fail_rate,
    look_sizes,
    samples_to_detect,
)
from llm_rollout.spec import CostGate, Method, RateGate

ERRORS_5PCT = {"error_rate": 0.05}
# A strict rate rule: any excess over the baseline rate is a breach (ratio 1, no floor).
STRICT = RateGate(ratio=1.0, floor=0.0, min_samples=50)


def test_sequential_aa_never_false_fails_over_repeated_looks() -> None:
    rate = aa_false_fail_rate(
        "errors", STRICT, arm=ERRORS_5PCT, n_per_arm=1000, looks=10, reps=20, alpha=0.01
    )
    assert rate == 0.0


def test_threshold_aa_false_fails_over_repeated_looks() -> None:
    # Ten looks at a point estimate of a difference that is 0 in truth: at some look the
    # candidate's rate is above the baseline's by chance in most runs.
    rate = aa_false_fail_rate(
        "errors",
        STRICT,
        arm=ERRORS_5PCT,
        n_per_arm=1000,
        looks=10,
        reps=20,
        alpha=0.01,
        method=Method.THRESHOLD,
    )
    assert rate >= 0.5


def test_sequential_detects_a_doubled_cost_quickly() -> None:
    base = {"cost_usd": {"dist": "lognormal", "median": 0.002, "sigma": 0.3}}
    cand = {"cost_usd": {"dist": "lognormal", "median": 0.004, "sigma": 0.3}}
    power = fail_rate(
        "cost",
        CostGate(),
        baseline=base,
        candidate=cand,
        n_per_arm=400,
        looks=4,
        reps=10,
        alpha=0.001,
    )
    assert power == 1.0
    found = samples_to_detect(
        "cost",
        CostGate(),
        baseline=base,
        candidate=cand,
        alpha=0.001,
        n_max=400,
        looks=8,
        reps=5,
    )
    assert all(n is not None and n <= 400 for n in found)


def test_samples_to_detect_reports_none_when_nothing_is_wrong() -> None:
    arm = {"cost_usd": {"dist": "lognormal", "median": 0.002, "sigma": 0.3}}
    found = samples_to_detect(
        "cost", CostGate(), baseline=arm, candidate=arm, alpha=0.001, n_max=300, looks=3, reps=3
    )
    assert found == [None, None, None]


def test_look_sizes() -> None:
    assert look_sizes(1000, 4) == [250, 500, 750, 1000]
    assert look_sizes(3, 10) == [1, 2, 3]
    with pytest.raises(ValueError, match=">= 1"):
        look_sizes(10, 0)


def test_studies_split_into_chunks_give_the_same_runs() -> None:
    arm = {"cost_usd": {"dist": "lognormal", "median": 0.002, "sigma": 0.3}}
    cand = {"cost_usd": {"dist": "lognormal", "median": 0.0026, "sigma": 0.3}}
    kwargs = {"baseline": arm, "candidate": cand, "alpha": 0.01, "n_max": 600, "looks": 6}
    whole = samples_to_detect("cost", CostGate(), reps=6, seed=3, **kwargs)
    parts = samples_to_detect("cost", CostGate(), reps=3, seed=3, **kwargs) + samples_to_detect(
        "cost", CostGate(), reps=3, seed=3, first_run=3, **kwargs
    )
    assert whole == parts
    assert any(n is not None for n in whole)
