"""A/A rollouts: the traffic each step of a spec gets, and every method judged at once."""

from __future__ import annotations

import pytest

from llm_rollout.judge import judge_step
from llm_rollout.judge.evaluation.rollout import judge_methods, rollout_traffic
from llm_rollout.judge.evaluation.synth import LLM_ARM, make_window
from llm_rollout.spec import Method, RolloutSpec

SPEC = RolloutSpec(name="t", baseline="a@sha256:0123456789ab", candidate="b@sha256:ba98765432ff")


def test_rollout_traffic_of_the_default_spec() -> None:
    steps = rollout_traffic(SPEC, 100)
    assert [s.weight for s in steps] == [1, 10, 25, 50, 75]  # 100% has no baseline
    assert [(s.per_check_baseline, s.per_check_candidate) for s in steps][:2] == [
        (495, 5),
        (450, 50),
    ]
    assert {s.checks for s in steps} == {24}  # 2 h max dwell / 5 min
    assert {s.checks for s in rollout_traffic(SPEC, 100, dwell="min")} == {2}
    assert {s.checks for s in rollout_traffic(SPEC, 100, dwell=900)} == {3}
    with pytest.raises(ValueError, match="dwell"):
        rollout_traffic(SPEC, 100, dwell="forever")


def test_judge_methods_matches_judge_step() -> None:
    cand = {
        **LLM_ARM,
        "n": 400,
        "refusal_rate": 0.2,
        "completion_tokens": {"dist": "lognormal", "median": 400, "sigma": 0.6},
    }
    window = make_window({"seed": 9, "baseline": {**LLM_ARM, "n": 1500}, "candidate": cand})
    both = judge_methods(SPEC, window, [Method.SEQUENTIAL, Method.THRESHOLD])
    for method, decision in both.items():
        full = judge_step(SPEC, window, method=method)
        assert decision.verdicts == full.verdicts
        assert decision.critical_failed  # the comparison covers FAILs too
