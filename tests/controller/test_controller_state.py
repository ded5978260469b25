"""RolloutState: JSON round trip, validation of stored documents, and the route per phase."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from controller_helpers import T0, json_safe, make_spec

from llm_rollout import controller
from llm_rollout.controller import Phase, RolloutState, initial_state, route_for, weight_bp
from llm_rollout.errors import InvalidDataError
from llm_rollout.verdict import Outcome

STATES = [
    initial_state(T0),
    RolloutState(Phase.SHADOW, -1, T0 + 1.5, reason="started", created=T0),
    RolloutState(
        Phase.CANARY,
        2,
        T0 + 10,
        reason="step 1 complete",
        checks=7,
        last_check=T0 + 9.25,
        last_outcome=Outcome.INCONCLUSIVE,
        created=T0,
        warned=("feedback.rate_excess",),
    ),
    RolloutState(Phase.PAUSED, 1, T0 + 20, paused_from=Phase.CANARY, reason="SRM", checks=3),
    RolloutState(Phase.PAUSED, -1, T0 + 20, paused_from=Phase.SHADOW),
    RolloutState(Phase.AB, 3, T0 + 30, last_outcome=Outcome.PASS),
    RolloutState(Phase.ROLLED_BACK, 0, T0 + 40, reason="critical gate latency FAIL"),
    RolloutState(Phase.PROMOTED, 2, T0 + 50),
    RolloutState(Phase.ABORTED, -1, T0 + 60),
]


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.phase.value)
def test_to_dict_round_trips_exactly_through_json(state: RolloutState) -> None:
    doc = json_safe(state.to_dict())
    assert RolloutState.from_dict(doc) == state


def test_from_dict_fills_optional_fields_with_defaults() -> None:
    state = RolloutState.from_dict({"phase": "canary", "step": 0, "phase_started": 5})
    assert state == RolloutState(Phase.CANARY, 0, 5.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phase": None}, "malformed"),
        ({"phase": "sideways"}, "malformed"),
        ({"step": "1"}, "integer"),
        ({"step": True}, "integer"),
        ({"step": -2}, "step must be >= -1"),
        ({"phase_started": math.nan}, "finite"),
        ({"phase": "paused"}, "paused_from"),
        ({"paused_from": "canary"}, "paused_from"),
        ({"phase": "paused", "paused_from": "promoted"}, "cannot be paused from promoted"),
        ({"last_outcome": "MAYBE"}, "malformed"),
        ({"checks": -1}, "checks"),
    ],
)
def test_from_dict_rejects_malformed_documents_with_a_reason(
    change: dict[str, Any], message: str
) -> None:
    doc = {**STATES[2].to_dict(), **change}
    with pytest.raises(InvalidDataError, match=message):
        RolloutState.from_dict(doc)


def test_from_dict_names_a_missing_field() -> None:
    doc = STATES[2].to_dict()
    del doc["phase_started"]
    with pytest.raises(InvalidDataError, match="phase_started"):
        RolloutState.from_dict(doc)


def test_initial_state_is_pending_before_any_step() -> None:
    state = initial_state(T0)
    assert (state.phase, state.step, state.phase_started, state.created) == (
        Phase.PENDING,
        -1,
        T0,
        T0,
    )
    assert not state.terminal


@pytest.mark.parametrize("phase", list(Phase))
def test_terminal_phases_are_exactly_promoted_rolled_back_aborted(phase: Phase) -> None:
    expected = phase in (Phase.PROMOTED, Phase.ROLLED_BACK, Phase.ABORTED)
    assert phase.terminal is expected
    assert phase.active is (phase in (Phase.SHADOW, Phase.CANARY, Phase.AB))


@pytest.mark.parametrize(
    ("weight", "bp"), [(1, 100), (0.5, 50), (12.34, 1234), (100, 10_000), (0.001, 1)]
)
def test_weight_bp_converts_percent_and_keeps_tiny_weights_positive(weight: float, bp: int) -> None:
    assert weight_bp(weight) == bp


def test_route_for_each_phase() -> None:
    spec = make_spec(ab={"weight": 30, "duration": 60}, shadow={"sample": 0.25})
    assert route_for(initial_state(T0), spec) == (0, 0.0)
    assert route_for(RolloutState(Phase.SHADOW, -1, T0), spec) == (0, 0.25)
    assert route_for(RolloutState(Phase.CANARY, 0, T0), spec) == (100, 0.0)
    assert route_for(RolloutState(Phase.CANARY, 1, T0), spec) == (5000, 0.0)
    assert route_for(RolloutState(Phase.AB, 3, T0), spec) == (3000, 0.0)
    assert route_for(RolloutState(Phase.PROMOTED, 1, T0), spec) == (10_000, 0.0)
    assert route_for(RolloutState(Phase.ROLLED_BACK, 1, T0), spec) == (0, 0.0)
    assert route_for(RolloutState(Phase.ABORTED, 1, T0), spec) == (0, 0.0)


@pytest.mark.parametrize(
    "active", [STATES[1], STATES[2], RolloutState(Phase.AB, 3, T0)], ids=lambda s: s.phase.value
)
def test_paused_route_holds_the_paused_phase_and_step(active: RolloutState) -> None:
    spec = make_spec(ab={"weight": 30, "duration": 60})
    state = replace(active, step=min(active.step, 2)) if active.phase is Phase.CANARY else active
    paused = replace(state, phase=Phase.PAUSED, paused_from=state.phase)
    assert route_for(paused, spec) == route_for(state, spec)
    assert paused.effective_phase is state.phase


def test_route_for_a_state_that_does_not_fit_the_spec_says_so() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        route_for(RolloutState(Phase.CANARY, 3, T0), make_spec())
    with pytest.raises(ValueError, match="no ab step"):
        route_for(RolloutState(Phase.AB, 3, T0), make_spec())


def test_current_step_and_ab_index() -> None:
    spec = make_spec()
    assert controller.current_step(RolloutState(Phase.CANARY, 1, T0), spec) == spec.steps[1]
    assert controller.current_step(RolloutState(Phase.SHADOW, -1, T0), spec) is None
    assert controller.ab_step_index(spec) == 3


def test_public_names_are_exported() -> None:
    for name in controller.__all__:
        assert hasattr(controller, name), name
    assert set(controller.__all__) >= {
        "Phase",
        "RolloutState",
        "initial_state",
        "Observation",
        "SetRoute",
        "RecordEvent",
        "Alert",
        "Action",
        "start",
        "advance",
        "CommandKind",
        "Command",
        "apply_command",
        "route_for",
        "observe",
        "window_query",
    }
