"""What one check judges: the window a state calls for, and the observation judged from it (the
one path both the live controller and the simulator take)."""

from __future__ import annotations

import numpy as np
import pytest
from controller_helpers import T0, at_step, make_spec, obs, started

from llm_rollout.controller import (
    Command,
    CommandKind,
    Phase,
    advance,
    apply_command,
    judged_phase,
    observe,
    window_query,
)
from llm_rollout.judge import ab_verdict, judge_step
from llm_rollout.records import Role, Window
from llm_rollout.testing import arm, window
from llm_rollout.verdict import Outcome

N = 20_000


def _feedback_window(p_baseline: float, p_candidate: float, weight: float = 0.5) -> Window:
    def rates(p: float) -> object:
        return arm([100.0] * N, negative_feedback=round(p * N))

    return window(rates(p_baseline), rates(p_candidate), candidate_weight=weight)  # type: ignore[arg-type]


def test_the_shadow_phase_reads_shadow_calls_at_weight_zero() -> None:
    spec = make_spec(shadow={"min_duration": 60, "min_samples": 100, "sample": 0.3})
    state = started(spec)
    query = window_query("r1", spec, state, T0 + 300)
    assert (query.role, query.step, query.candidate_weight) == (Role.SHADOW, -1, 0.0)
    assert (query.start, query.end) == (state.phase_started, T0 + 300)
    assert judged_phase(state) == "shadow"


def test_a_canary_step_reads_served_calls_at_the_step_weight() -> None:
    spec = make_spec()
    state, now = at_step(spec, 1)
    query = window_query("r1", spec, state, now + 10)
    assert (query.role, query.step) == (Role.SERVE, 1)
    assert query.candidate_weight == pytest.approx(spec.steps[1].weight / 100)
    assert query.start == state.phase_started


def test_a_paused_rollout_is_judged_as_the_phase_it_paused_in() -> None:
    spec = make_spec()
    state, now = at_step(spec, 1)
    paused, _ = apply_command(state, spec, Command(CommandKind.PAUSE, "ops", "look"), now)
    assert paused.phase is Phase.PAUSED
    assert window_query("r1", spec, paused, now + 5) == window_query("r1", spec, state, now + 5)
    assert judged_phase(paused) == "canary"


def test_shadow_observations_carry_the_alert_rules_and_skip_feedback() -> None:
    spec = make_spec(shadow={"alerts": [{"gate": "cost", "above": 1.4}]})
    state = started(spec)
    costs = np.linspace(1.0, 2.0, 400)
    w = window(
        arm(costs.tolist(), cost_usd=costs.tolist()),
        arm(costs.tolist(), cost_usd=(costs * 3).tolist()),
        0.0,
    )
    seen = observe(spec, state, w)
    assert [a.gate for a in seen.alerts] == ["cost"]
    assert seen.alerts[0].outcome is Outcome.FAIL  # 3x the cost, confidently above 1.4
    assert seen.alerts[0].alpha == spec.alert_alpha()
    assert seen.ab is None
    assert all(v.gate != "feedback" for v in seen.decision.verdicts)
    assert seen.decision == judge_step(spec, w, phase="shadow")
    assert (seen.n_baseline, seen.n_candidate) == (400, 400)


@pytest.mark.parametrize(
    ("p_candidate", "phase"), [(0.05, Phase.PROMOTED), (0.20, Phase.ROLLED_BACK)]
)
def test_the_ab_phase_observes_the_ab_rule_which_decides_the_step(
    p_candidate: float, phase: Phase
) -> None:
    spec = make_spec(ab={"weight": 50, "duration": 600, "rule": "superiority"})
    assert spec.ab is not None
    state, now = at_step(spec, 2)
    state, _ = advance(state, spec, obs(nb=0), now + 60)
    assert state.phase is Phase.AB
    w = _feedback_window(0.10, p_candidate)
    seen = observe(spec, state, w)
    assert seen.ab == ab_verdict(spec.ab, w, spec.ab_alpha())
    assert seen.alerts == ()
    assert seen.ab is not None
    assert seen.ab.outcome is (Outcome.PASS if phase is Phase.PROMOTED else Outcome.FAIL)
    new, _ = advance(state, spec, obs(ab=seen.ab), now + 660)
    assert new.phase is phase
    assert new.phase_started > T0


def test_alpha_is_split_over_phases_alert_rules_and_the_ab_rule() -> None:
    spec = make_spec(
        shadow={"alerts": [{"gate": "cost", "above": 1.4}, {"gate": "errors", "above": 2}]},
        ab={"weight": 50, "duration": 600},
    )
    looks = len(spec.steps) + 2
    assert spec.looks() == looks
    assert spec.ab_alpha() == pytest.approx(spec.alpha / looks)
    assert spec.alert_alpha() == pytest.approx(spec.alpha / looks / 2)
