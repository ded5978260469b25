"""judge_step: every enabled gate at its alpha, the method override, phases and SRM."""

from __future__ import annotations

import numpy as np
import pytest
from judge_helpers import arm, lognormal_arm, make_spec, pair

from llm_rollout.errors import InvalidDataError
from llm_rollout.judge import judge_step
from llm_rollout.records import Window
from llm_rollout.spec import Method
from llm_rollout.verdict import Outcome

STATS_PER_GATE = {
    "latency": 3,
    "cost": 1,
    "errors": 1,
    "refusals": 1,
    "output_length": 3,
    "feedback": 1,
}


def _aa(n: int = 2000, weight: float = 0.5) -> Window:
    base, cand = (
        lognormal_arm(n, seed, error_rate=0.01, refusal_rate=0.02, negative_rate=0.05)
        for seed in (1, 2)
    )
    return pair(base, cand, weight)


def test_every_enabled_gate_is_judged_with_its_alpha_split() -> None:
    spec = make_spec()
    d = judge_step(spec, _aa())
    assert {v.gate for v in d.verdicts} == set(STATS_PER_GATE)
    for gate, count in STATS_PER_GATE.items():
        verdicts = [v for v in d.verdicts if v.gate == gate]
        assert len(verdicts) == count
        for v in verdicts:
            assert v.alpha == pytest.approx(spec.gate_alpha(gate) / count)
    total = sum(v.alpha for v in d.verdicts)
    assert total == pytest.approx(spec.alpha / spec.looks())  # Bonferroni over one phase


def test_alpha_share_weights_a_gate() -> None:
    spec = make_spec(gates={"cost": {"alpha_share": 3.0}})
    d = judge_step(spec, _aa())
    cost = next(v for v in d.verdicts if v.gate == "cost")
    errors = next(v for v in d.verdicts if v.gate == "errors")
    assert cost.alpha == pytest.approx(3 * errors.alpha)


def test_disabled_gates_are_not_judged() -> None:
    spec = make_spec(gates={"feedback": {"enabled": False}, "latency": {"enabled": False}})
    gates = {v.gate for v in judge_step(spec, _aa()).verdicts}
    assert gates == {"cost", "errors", "refusals", "output_length"}


def test_method_override_applies_to_every_gate() -> None:
    spec = make_spec(gates={"cost": {"method": "threshold"}})
    own = judge_step(spec, _aa())
    assert {v.method for v in own.verdicts if v.gate == "cost"} == {"threshold"}
    assert {v.method for v in own.verdicts if v.gate != "cost"} == {"sequential"}
    forced = judge_step(spec, _aa(), method=Method.THRESHOLD)
    assert {v.method for v in forced.verdicts} == {"threshold"}


def test_aa_window_does_not_fail_and_a_cost_regression_does() -> None:
    spec = make_spec()
    assert judge_step(spec, _aa(3000)).outcome is not Outcome.FAIL
    bad = pair(lognormal_arm(3000, 1), lognormal_arm(3000, 2, cost=0.005))
    d = judge_step(spec, bad)
    assert d.outcome is Outcome.FAIL
    assert [v.gate for v in d.critical_failed] == ["cost"]
    assert d.reasons[0].startswith("FAIL cost/mean_ratio: cost ratio")


def test_shadow_phase_skips_feedback_and_srm() -> None:
    d = judge_step(make_spec(), _aa(weight=0.3), phase="shadow")
    assert "feedback" not in {v.gate for v in d.verdicts}
    assert d.srm is None


@pytest.mark.parametrize(("weight", "judged"), [(0.0, False), (1.0, False), (0.5, True)])
def test_srm_runs_only_on_a_real_split(weight: float, judged: bool) -> None:
    d = judge_step(make_spec(), _aa(weight=weight))
    assert (d.srm is not None) is judged


def test_srm_can_be_switched_off() -> None:
    d = judge_step(make_spec(gates={"srm": {"enabled": False}}), _aa())
    assert d.srm is None


def test_srm_mismatch_is_reported_and_holds() -> None:
    w = pair(lognormal_arm(2000, 1), lognormal_arm(2000, 2), weight=0.1)  # 50% seen, 10% meant
    d = judge_step(make_spec(), w)
    assert d.srm_mismatch
    assert d.outcome is not Outcome.PASS
    assert d.reasons[0].startswith("SRM srm/share: sample ratio mismatch")


def test_unknown_phase_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown phase 'canry'"):
        judge_step(make_spec(), _aa(), phase="canry")


def test_bad_data_raises_invalid_data_naming_the_arm() -> None:
    bad = arm([100.0, float("nan"), 120.0])
    with pytest.raises(InvalidDataError, match=r"^candidate arm: latency_ms holds NaN"):
        judge_step(make_spec(), pair(arm([100.0, 110.0]), bad))


def test_judging_is_pure() -> None:
    w = _aa(500)
    before = w.candidate.latency_ms.copy()
    a, b = judge_step(make_spec(), w), judge_step(make_spec(), w)
    assert a == b
    assert np.array_equal(w.candidate.latency_ms, before)
