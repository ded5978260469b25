"""Quick operating checks (small N, fixed seeds): A/A false FAILs and power.

The full-N study lives elsewhere; these guard the property the design rests on: repeated
looks do not make the sequential method false-alarm, while a point-estimate threshold does.
"""

from __future__ import annotations

import pytest

from llm_rollout.judge.study import (
    aa_false_fail_rate,
    fail_rate,
    look_sizes,
    samples_to_detect,
)
from llm_rollout.spec import CostGate, Method, RateGate, RolloutSpec

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


def test_arm_mean_is_the_mean_of_the_drawn_columns() -> None:
    import numpy as np

    from llm_rollout.judge.study import arm_mean
    from llm_rollout.judge.synth import LLM_ARM, draw_arm

    arm = draw_arm({**LLM_ARM, "n": 1_000_000}, np.random.default_rng(4))
    for column in ("cost_usd", "completion_tokens"):
        values = getattr(arm, column)
        se = values.std() / 1000
        assert abs(values.mean() - arm_mean(LLM_ARM, column)) < 4 * se
    with pytest.raises(ValueError, match="closed-form"):
        arm_mean(LLM_ARM, "latency_ms")


def test_rollout_traffic_of_the_default_spec() -> None:
    from llm_rollout.judge.study import rollout_traffic

    spec = RolloutSpec(
        name="t", baseline="a@sha256:0123456789ab", candidate="b@sha256:ba98765432ff"
    )
    steps = rollout_traffic(spec, 100)
    assert [s.weight for s in steps] == [1, 10, 25, 50, 75]  # 100% has no baseline
    assert [(s.per_check_baseline, s.per_check_candidate) for s in steps][:2] == [
        (495, 5),
        (450, 50),
    ]
    assert {s.checks for s in steps} == {24}  # 2 h max dwell / 5 min
    assert {s.checks for s in rollout_traffic(spec, 100, dwell="min")} == {2}
    assert {s.checks for s in rollout_traffic(spec, 100, dwell=900)} == {3}
    with pytest.raises(ValueError, match="dwell"):
        rollout_traffic(spec, 100, dwell="forever")


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


def test_judge_methods_matches_judge_step() -> None:
    from llm_rollout.judge import judge_step
    from llm_rollout.judge.study import judge_methods
    from llm_rollout.judge.synth import LLM_ARM, make_window

    spec = RolloutSpec(
        name="t", baseline="a@sha256:0123456789ab", candidate="b@sha256:ba98765432ff"
    )
    cand = {
        **LLM_ARM,
        "n": 400,
        "refusal_rate": 0.2,
        "completion_tokens": {"dist": "lognormal", "median": 400, "sigma": 0.6},
    }
    window = make_window({"seed": 9, "baseline": {**LLM_ARM, "n": 1500}, "candidate": cand})
    both = judge_methods(spec, window, [Method.SEQUENTIAL, Method.THRESHOLD])
    for method, decision in both.items():
        full = judge_step(spec, window, method=method)
        assert decision.verdicts == full.verdicts
        assert decision.critical_failed  # the comparison covers FAILs too
