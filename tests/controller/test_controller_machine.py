"""The automatic rules of one check: shadow, canary steps, the 100% step, inconclusive handling,
SRM, critical failures, warnings, the A/B step, and audit events."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from controller_helpers import (
    SRM_TEXT,
    T0,
    alert_rule,
    alerts_of,
    at_step,
    events,
    json_safe,
    make_spec,
    obs,
    routes,
    started,
    verdict,
)

from llm_rollout.controller import (
    Observation,
    Phase,
    RolloutState,
    SetRoute,
    advance,
    initial_state,
    route_for,
    start,
)
from llm_rollout.errors import ConflictError, InvalidDataError
from llm_rollout.verdict import Outcome, StepDecision

# --- start --------------------------------------------------------------------------------


def test_start_with_shadow_mirrors_without_serving_the_candidate() -> None:
    spec = make_spec(shadow={"sample": 0.2})
    state, actions = start(initial_state(T0), spec, T0 + 1)
    assert (state.phase, state.step, state.phase_started) == (Phase.SHADOW, -1, T0 + 1)
    assert routes(actions) == [SetRoute(0, 0.2, "shadow", -1)]
    [event] = events(actions, "started")
    assert (event.data["from"], event.data["to"], event.data["candidate_bp"]) == (
        "pending",
        "shadow",
        0,
    )


def test_start_without_shadow_goes_to_the_first_step() -> None:
    spec = make_spec(shadow={"enabled": False})
    state, actions = start(initial_state(T0), spec, T0)
    assert (state.phase, state.step) == (Phase.CANARY, 0)
    assert routes(actions) == [SetRoute(100, 0.0, "canary", 0)]


def test_start_twice_is_a_conflict() -> None:
    spec = make_spec()
    with pytest.raises(ConflictError, match="already started"):
        start(started(spec), spec, T0)


@pytest.mark.parametrize("now", [math.nan, math.inf])
def test_a_non_finite_clock_is_rejected(now: float) -> None:
    with pytest.raises(InvalidDataError, match="finite"):
        start(initial_state(T0), make_spec(), now)


# --- shadow -------------------------------------------------------------------------------


def test_shadow_completes_after_min_duration_and_min_samples() -> None:
    spec = make_spec()
    state = started(spec)
    state, actions = advance(state, spec, obs(Outcome.INCONCLUSIVE, nb=0, nc=100), T0 + 60)
    assert (state.phase, state.step, state.phase_started) == (Phase.CANARY, 0, T0 + 60)
    assert routes(actions) == [SetRoute(100, 0.0, "canary", 0)]
    [event] = events(actions, "step_advanced")
    assert event.data["evidence"]["n_candidate"] == 100


@pytest.mark.parametrize(("dt", "nc"), [(59.9, 10_000), (3600, 99)])
def test_shadow_waits_for_both_duration_and_samples(dt: float, nc: int) -> None:
    spec = make_spec()
    state = started(spec)
    new, actions = advance(state, spec, obs(nc=nc), T0 + dt)
    assert (new.phase, new.checks, new.last_check, actions) == (Phase.SHADOW, 1, T0 + dt, [])


def test_a_fired_shadow_alert_rolls_back_before_any_user_sees_the_candidate() -> None:
    spec = make_spec()
    state = started(spec)
    fired = alert_rule(Outcome.FAIL)
    new, actions = advance(state, spec, obs(alerts=(fired,)), T0 + 3600)
    assert new.phase is Phase.ROLLED_BACK
    assert "shadow alert cost.mean_ratio fired" in new.reason
    assert routes(actions) == [SetRoute(0, 0.0, "rolled_back", -1)]
    [event] = events(actions, "rolled_back")
    assert event.data["evidence"]["alerts"][0]["outcome"] == "FAIL"
    assert alerts_of(actions)


@pytest.mark.parametrize("outcome", [Outcome.PASS, Outcome.INCONCLUSIVE, Outcome.NODATA])
def test_an_alert_that_did_not_fire_does_not_stop_the_shadow(outcome: Outcome) -> None:
    spec = make_spec()
    new, _ = advance(started(spec), spec, obs(alerts=(alert_rule(outcome),)), T0 + 60)
    assert (new.phase, new.step) == (Phase.CANARY, 0)


def test_a_critical_fail_in_shadow_rolls_back() -> None:
    spec = make_spec()
    new, _ = advance(started(spec), spec, obs(critical_fail=True), T0 + 1)
    assert new.phase is Phase.ROLLED_BACK
    assert "critical gate latency.p99_ratio FAIL" in new.reason


@pytest.mark.parametrize(
    ("policy", "phase", "step"),
    [("hold", Phase.PAUSED, -1), ("rollback", Phase.ROLLED_BACK, -1), ("advance", Phase.CANARY, 0)],
)
def test_shadow_max_duration_without_samples_follows_on_inconclusive(
    policy: str, phase: Phase, step: int
) -> None:
    spec = make_spec(
        shadow={"min_duration": 60, "min_samples": 500, "max_duration": 300},
        on_inconclusive=policy,
    )
    state = started(spec)
    held, actions = advance(state, spec, obs(nc=499), T0 + 299)
    assert (held.phase, actions) == (Phase.SHADOW, [])
    new, actions = advance(state, spec, obs(nc=499), T0 + 300)
    assert (new.phase, new.step) == (phase, step)
    assert "max_duration" in new.reason
    assert f"on_inconclusive={policy}" in new.reason
    assert events(actions)[0].data["to"] == phase.value


def test_shadow_without_max_duration_waits_for_samples_forever() -> None:
    spec = make_spec(on_inconclusive="rollback")
    new, actions = advance(started(spec), spec, obs(nc=0), T0 + 10**7)
    assert (new.phase, actions) == (Phase.SHADOW, [])


# --- canary steps -------------------------------------------------------------------------


def test_a_step_advances_when_dwell_samples_and_gates_are_met() -> None:
    spec = make_spec()
    state, now = at_step(spec, 0)
    new, actions = advance(state, spec, obs(n=100), now + 60)
    assert (new.phase, new.step, new.phase_started) == (Phase.CANARY, 1, now + 60)
    assert routes(actions) == [SetRoute(5000, 0.0, "canary", 1)]
    [event] = events(actions)
    assert event.kind == "step_advanced"
    assert (event.data["from_step"], event.data["step"]) == (0, 1)
    assert (event.data["from_bp"], event.data["candidate_bp"], event.data["weight"]) == (
        100,
        5000,
        50.0,
    )
    assert event.data["evidence"]["decision"]["outcome"] == "PASS"
    assert event.data == json_safe(event.data)


@pytest.mark.parametrize(
    ("dt", "nb", "nc"),
    [(59, 1000, 1000), (60, 99, 1000), (60, 1000, 99)],
    ids=["dwell", "baseline-samples", "candidate-samples"],
)
def test_a_step_needs_dwell_and_samples_on_both_arms(dt: float, nb: int, nc: int) -> None:
    spec = make_spec()
    state, now = at_step(spec, 0)
    new, actions = advance(state, spec, obs(nb=nb, nc=nc), now + dt)
    assert (new.step, actions) == (0, [])


@pytest.mark.parametrize(
    ("require", "outcome", "advances"),
    [
        ("pass", Outcome.PASS, True),
        ("pass", Outcome.INCONCLUSIVE, False),
        ("pass", Outcome.NODATA, False),
        ("no-breach", Outcome.INCONCLUSIVE, True),
        ("no-breach", Outcome.NODATA, True),
    ],
)
def test_require_decides_which_outcomes_let_a_step_advance(
    require: str, outcome: Outcome, advances: bool
) -> None:
    spec = make_spec(require=require)
    state, now = at_step(spec, 0)
    new, _ = advance(state, spec, obs(outcome), now + 60)
    assert new.step == (1 if advances else 0)


def test_a_non_critical_fail_holds_under_require_pass() -> None:
    spec = make_spec()
    state, now = at_step(spec, 0)
    # The judge reports a non-critical FAIL as an INCONCLUSIVE decision outcome.
    new, actions = advance(state, spec, obs(Outcome.INCONCLUSIVE, noncritical_fail=True), now + 60)
    assert (new.phase, new.step) == (Phase.CANARY, 0)
    [warning] = events(actions, "warning")
    assert warning.data["verdict"]["gate"] == "feedback"
    assert len(alerts_of(actions)) == 1
    assert new.warned == ("feedback.rate_excess",)


def test_a_warning_is_sent_once_per_gate_and_step() -> None:
    spec = make_spec(require="no-breach")
    state, now = at_step(spec, 0)
    state, first = advance(state, spec, obs(noncritical_fail=True, n=10), now + 1)
    state, again = advance(state, spec, obs(noncritical_fail=True, n=10), now + 2)
    assert (len(events(first, "warning")), again) == (1, [])
    state, moved = advance(state, spec, obs(noncritical_fail=True), now + 60)
    assert state.step == 1
    assert [e.kind for e in events(moved)] == ["step_advanced"]  # step 0 already warned
    state, fresh = advance(state, spec, obs(noncritical_fail=True, n=10), now + 61)
    assert len(events(fresh, "warning")) == 1  # news again in step 1


@pytest.mark.parametrize(
    ("policy", "phase", "step"),
    [("hold", Phase.PAUSED, 0), ("rollback", Phase.ROLLED_BACK, 0), ("advance", Phase.CANARY, 1)],
)
def test_inconclusive_at_max_dwell_follows_on_inconclusive(
    policy: str, phase: Phase, step: int
) -> None:
    spec = make_spec(on_inconclusive=policy)
    state, now = at_step(spec, 0)
    held, actions = advance(state, spec, obs(Outcome.INCONCLUSIVE), now + 599)
    assert (held.phase, held.step, actions) == (Phase.CANARY, 0, [])
    new, actions = advance(state, spec, obs(Outcome.INCONCLUSIVE), now + 600)
    assert (new.phase, new.step) == (phase, step)
    assert "max_dwell" in new.reason
    assert "gates INCONCLUSIVE" in new.reason
    assert len(events(actions)) == 1
    assert bool(alerts_of(actions)) is (policy != "advance")


def test_too_few_samples_at_max_dwell_is_inconclusive_too() -> None:
    spec = make_spec(on_inconclusive="hold")
    state, now = at_step(spec, 0)
    new, _ = advance(state, spec, obs(n=40), now + 600)
    assert new.phase is Phase.PAUSED
    assert "40 < 100 samples per arm" in new.reason


def test_a_paused_inconclusive_step_keeps_its_weight() -> None:
    spec = make_spec(on_inconclusive="hold")
    state, now = at_step(spec, 1)
    new, actions = advance(state, spec, obs(Outcome.INCONCLUSIVE), now + 600)
    assert (new.phase, new.paused_from, new.step) == (Phase.PAUSED, Phase.CANARY, 1)
    assert routes(actions) == [SetRoute(5000, 0.0, "paused", 1)]
    assert route_for(new, spec) == (5000, 0.0)


@pytest.mark.parametrize(
    ("ab", "phase", "step", "bp"),
    [(None, Phase.PROMOTED, 2, 10_000), ({"weight": 40}, Phase.AB, 3, 4000)],
)
def test_the_last_step_ends_in_ab_or_promotion(
    ab: dict[str, float] | None, phase: Phase, step: int, bp: int
) -> None:
    spec = make_spec(ab=ab)
    state, now = at_step(spec, 2)
    new, actions = advance(state, spec, obs(Outcome.NODATA, nb=0, nc=100), now + 60)
    assert (new.phase, new.step) == (phase, step)
    assert routes(actions) == [SetRoute(bp, 0.0, phase.value, step)]
    assert events(actions)[0].kind == ("promoted" if ab is None else "step_advanced")


# --- the 100% step ------------------------------------------------------------------------


@pytest.mark.parametrize("require", ["pass", "no-breach"])
def test_the_full_step_completes_on_candidate_samples_without_a_gate_pass(require: str) -> None:
    spec = make_spec(require=require)
    state, now = at_step(spec, 2)
    early, _ = advance(state, spec, obs(Outcome.NODATA, nb=0, nc=5000), now + 59)
    short, _ = advance(state, spec, obs(Outcome.NODATA, nb=0, nc=99), now + 60)
    done, _ = advance(state, spec, obs(Outcome.NODATA, nb=0, nc=100), now + 60)
    assert (early.phase, short.phase, done.phase) == (Phase.CANARY, Phase.CANARY, Phase.PROMOTED)
    assert "no concurrent baseline" in done.reason


def test_the_full_step_still_rolls_back_on_a_critical_fail() -> None:
    spec = make_spec()
    state, now = at_step(spec, 2)
    new, _ = advance(state, spec, obs(Outcome.FAIL, nb=0, critical_fail=True), now + 60)
    assert new.phase is Phase.ROLLED_BACK


def test_the_full_step_short_of_samples_at_max_dwell_is_inconclusive() -> None:
    spec = make_spec(on_inconclusive="rollback")
    state, now = at_step(spec, 2)
    new, _ = advance(state, spec, obs(Outcome.NODATA, nb=0, nc=10), now + 600)
    assert new.phase is Phase.ROLLED_BACK
    assert "10 < 100 samples candidate" in new.reason


# --- critical failures and SRM ------------------------------------------------------------


@pytest.mark.parametrize("step", [0, 1, 2])
def test_a_critical_fail_rolls_back_at_once_with_the_failing_verdicts(step: int) -> None:
    spec = make_spec()
    state, now = at_step(spec, step)
    new, actions = advance(state, spec, obs(Outcome.FAIL, critical_fail=True, n=1), now + 1)
    assert (new.phase, new.step) == (Phase.ROLLED_BACK, step)
    assert route_for(new, spec) == (0, 0.0)
    assert routes(actions) == [SetRoute(0, 0.0, "rolled_back", step)]
    [event] = events(actions, "rolled_back")
    [failing] = event.data["evidence"]["failing"]
    assert (failing["gate"], failing["outcome"]) == ("latency", "FAIL")
    assert "p99 latency ratio 2.1 > 1.5" in new.reason
    assert isinstance(actions[0], SetRoute)  # traffic flips before anything else
    assert alerts_of(actions)


def test_srm_pauses_with_the_srm_evidence_instead_of_advancing() -> None:
    spec = make_spec()
    state, now = at_step(spec, 1)
    new, actions = advance(state, spec, obs(Outcome.INCONCLUSIVE, srm=True), now + 600)
    assert (new.phase, new.paused_from, new.step) == (Phase.PAUSED, Phase.CANARY, 1)
    assert new.reason == SRM_TEXT  # the judge's own words, not prefixed twice
    [event] = events(actions, "paused")
    assert event.data["evidence"]["decision"]["srm"]["outcome"] == "FAIL"
    assert alerts_of(actions)


def test_srm_blocks_advancing_even_when_everything_else_passes() -> None:
    spec = make_spec()
    state, now = at_step(spec, 0)
    new, _ = advance(state, spec, obs(Outcome.PASS, srm=True), now + 60)
    assert (new.phase, new.step) == (Phase.PAUSED, 0)


def test_a_critical_fail_wins_over_srm() -> None:
    spec = make_spec()
    state, now = at_step(spec, 1)
    new, actions = advance(state, spec, obs(Outcome.FAIL, critical_fail=True, srm=True), now + 1)
    assert new.phase is Phase.ROLLED_BACK
    assert [e.kind for e in events(actions)] == ["rolled_back"]


# --- paused -------------------------------------------------------------------------------


def _paused(spec_kwargs: dict[str, object] | None = None) -> tuple[RolloutState, float]:
    spec = make_spec(**(spec_kwargs or {}))
    state, now = at_step(spec, 1)
    state, _ = advance(state, spec, obs(srm=True), now + 1)
    assert state.phase is Phase.PAUSED
    return state, now + 1


def test_a_paused_rollout_does_not_move_on_its_own() -> None:
    spec = make_spec()
    state, now = _paused()
    new, actions = advance(state, spec, obs(), now + 10**6)
    assert (new.phase, new.step, actions) == (Phase.PAUSED, 1, [])
    assert (new.checks, new.last_check) == (state.checks + 1, now + 10**6)
    again, _ = advance(state, spec, obs(srm=True), now + 5)
    assert again.phase is Phase.PAUSED


def test_a_paused_rollout_still_rolls_back_on_a_critical_fail() -> None:
    spec = make_spec()
    state, now = _paused()
    new, actions = advance(state, spec, obs(critical_fail=True), now + 5)
    assert (new.phase, new.paused_from) == (Phase.ROLLED_BACK, None)
    assert events(actions)[0].data["from"] == "paused"
    assert routes(actions) == [SetRoute(0, 0.0, "rolled_back", 1)]


# --- A/B ----------------------------------------------------------------------------------


def _in_ab(on_inconclusive: str = "rollback") -> tuple[RolloutState, float]:
    spec = make_spec(ab={"weight": 50, "duration": 600, "on_inconclusive": on_inconclusive})
    state, now = at_step(spec, 2)
    state, _ = advance(state, spec, obs(nb=0), now + 60)
    assert state.phase is Phase.AB
    return state, now + 60


@pytest.mark.parametrize(
    ("outcome", "policy", "phase"),
    [
        (Outcome.PASS, "rollback", Phase.PROMOTED),
        (Outcome.FAIL, "promote", Phase.ROLLED_BACK),
        (Outcome.INCONCLUSIVE, "rollback", Phase.ROLLED_BACK),
        (Outcome.INCONCLUSIVE, "promote", Phase.PROMOTED),
        (Outcome.NODATA, "promote", Phase.PROMOTED),
        (None, "rollback", Phase.ROLLED_BACK),
    ],
)
def test_ab_decides_at_the_end_of_its_duration(
    outcome: Outcome | None, policy: str, phase: Phase
) -> None:
    spec = make_spec(ab={"weight": 50, "duration": 600, "on_inconclusive": policy})
    state, now = _in_ab(policy)
    ab = None if outcome is None else verdict(outcome, gate="ab", statistic="feedback_rate_excess")
    early, actions = advance(state, spec, obs(ab=ab), now + 599)
    assert (early.phase, actions) == (Phase.AB, [])
    new, actions = advance(state, spec, obs(ab=ab), now + 600)
    assert new.phase is phase
    [event] = events(actions)
    assert event.data["evidence"]["ab"] == (None if ab is None else ab.to_dict())


def test_ab_rolls_back_on_a_critical_fail_before_its_end() -> None:
    spec = make_spec(ab={"weight": 50, "duration": 600})
    state, now = _in_ab()
    assert route_for(state, spec) == (5000, 0.0)
    new, _ = advance(state, spec, obs(critical_fail=True), now + 1)
    assert new.phase is Phase.ROLLED_BACK


def test_ab_pauses_on_srm() -> None:
    spec = make_spec(ab={"weight": 50, "duration": 600})
    state, now = _in_ab()
    new, _ = advance(state, spec, obs(srm=True), now + 1)
    assert (new.phase, new.paused_from, new.step) == (Phase.PAUSED, Phase.AB, 3)


# --- terminal and pending -----------------------------------------------------------------


@pytest.mark.parametrize("phase", [Phase.PROMOTED, Phase.ROLLED_BACK, Phase.ABORTED])
def test_a_terminal_rollout_never_moves(phase: Phase) -> None:
    spec = make_spec()
    state = RolloutState(phase, 1, T0)
    for o in (obs(), obs(critical_fail=True), obs(srm=True), obs(n=0)):
        new, actions = advance(state, spec, o, T0 + 10**6)
        assert new is state
        assert actions == []


def test_advance_before_start_does_nothing() -> None:
    spec = make_spec()
    state = initial_state(T0)
    assert advance(state, spec, obs(critical_fail=True), T0 + 1) == (state, [])


def test_transition_events_are_json_safe_with_infinite_estimates() -> None:
    spec = make_spec()
    state, now = at_step(spec, 0)
    failing = replace(verdict(Outcome.FAIL), hi=math.inf)
    o = Observation(StepDecision(Outcome.FAIL, (failing,)), 5, 5)
    _, actions = advance(state, spec, o, now + 1)
    [event] = events(actions)
    assert json_safe(event.data)["evidence"]["failing"][0]["hi"] is None
