"""Operator commands: pause, resume, promote, rollback, abort; and the conflicts they refuse."""

from __future__ import annotations

import pytest
from controller_helpers import T0, at_step, events, json_safe, make_spec, obs, routes, started

from llm_rollout.controller import (
    Command,
    CommandKind,
    Phase,
    RolloutState,
    SetRoute,
    advance,
    apply_command,
    initial_state,
    route_for,
)
from llm_rollout.errors import ConflictError
from llm_rollout.spec import RolloutSpec

AB = {"weight": 50, "duration": 600}


def _states(spec: RolloutSpec) -> dict[str, RolloutState]:
    """One state of every non-terminal kind, reached through the machine itself."""
    shadow = started(spec)
    canary, now = at_step(spec, 1)
    full, now_full = at_step(spec, 2)
    ab, _ = advance(full, spec, obs(nb=0), now_full + 60)
    paused, _ = apply_command(canary, spec, Command(CommandKind.PAUSE), now + 1)
    assert ab.phase is Phase.AB
    return {
        "pending": initial_state(T0),
        "shadow": shadow,
        "canary": canary,
        "ab": ab,
        "paused": paused,
    }


SPEC = make_spec(ab=AB)
STATES = _states(SPEC)
ACTIVE = ["shadow", "canary", "ab"]
TERMINAL = [
    RolloutState(Phase.PROMOTED, 2, T0),
    RolloutState(Phase.ROLLED_BACK, 1, T0),
    RolloutState(Phase.ABORTED, -1, T0),
]


@pytest.mark.parametrize("name", ACTIVE)
def test_pause_holds_the_current_route_and_remembers_the_phase(name: str) -> None:
    state = STATES[name]
    cmd = Command(CommandKind.PAUSE, actor="alice", reason="investigating a ticket")
    paused, actions = apply_command(state, SPEC, cmd, T0 + 10**5)
    assert (paused.phase, paused.paused_from, paused.step) == (
        Phase.PAUSED,
        state.phase,
        state.step,
    )
    assert paused.phase_started == T0 + 10**5
    assert route_for(paused, SPEC) == route_for(state, SPEC)
    bp, sample = route_for(state, SPEC)
    assert routes(actions) == [SetRoute(bp, sample, "paused", state.step)]
    [event] = events(actions, "paused")
    assert (event.data["actor"], event.data["trigger"], event.data["command"]) == (
        "alice",
        "command",
        "pause",
    )
    assert paused.reason == "pause by alice: investigating a ticket"
    assert event.data == json_safe(event.data)


@pytest.mark.parametrize(("name", "message"), [("pending", "not started"), ("paused", "already")])
def test_pause_outside_an_active_phase_is_a_conflict(name: str, message: str) -> None:
    with pytest.raises(ConflictError, match=message):
        apply_command(STATES[name], SPEC, Command(CommandKind.PAUSE), T0)


def test_resume_returns_to_the_paused_step_and_restarts_its_window() -> None:
    paused = STATES["paused"]
    resumed, actions = apply_command(paused, SPEC, Command(CommandKind.RESUME), T0 + 10**6)
    assert (resumed.phase, resumed.step, resumed.paused_from) == (Phase.CANARY, 1, None)
    assert resumed.phase_started == T0 + 10**6
    assert routes(actions) == [SetRoute(5000, 0.0, "canary", 1)]
    assert events(actions)[0].kind == "resumed"
    # The dwell counts from the resume: a passing check 59 s later does not advance.
    held, _ = advance(resumed, SPEC, obs(), T0 + 10**6 + 59)
    moved, _ = advance(resumed, SPEC, obs(), T0 + 10**6 + 60)
    assert (held.step, moved.step) == (1, 2)


@pytest.mark.parametrize("name", ["pending", *ACTIVE])
def test_resume_when_not_paused_is_a_conflict(name: str) -> None:
    with pytest.raises(ConflictError, match="not paused"):
        apply_command(STATES[name], SPEC, Command(CommandKind.RESUME), T0)


@pytest.mark.parametrize("name", ["pending", *ACTIVE, "paused"])
def test_promote_goes_straight_to_full_traffic_skipping_the_ab_step(name: str) -> None:
    state = STATES[name]
    cmd = Command(CommandKind.PROMOTE, actor="bob", reason="hotfix")
    new, actions = apply_command(state, SPEC, cmd, T0 + 5)
    assert new.phase is Phase.PROMOTED
    assert route_for(new, SPEC) == (10_000, 0.0)
    [event] = events(actions, "promoted")
    assert (event.data["actor"], event.data["from"], event.data["to"]) == (
        "bob",
        state.phase.value,
        "promoted",
    )
    assert new.reason == "promote by bob: hotfix"


@pytest.mark.parametrize(
    ("kind", "phase"),
    [(CommandKind.ROLLBACK, Phase.ROLLED_BACK), (CommandKind.ABORT, Phase.ABORTED)],
)
@pytest.mark.parametrize("name", ["pending", *ACTIVE, "paused"])
def test_rollback_and_abort_work_from_every_non_terminal_state(
    name: str, kind: CommandKind, phase: Phase
) -> None:
    state = STATES[name]
    new, actions = apply_command(state, SPEC, Command(kind), T0 + 5)
    assert (new.phase, new.paused_from) == (phase, None)
    assert route_for(new, SPEC) == (0, 0.0)
    [event] = events(actions)
    assert (event.kind, event.data["command"]) == (phase.value, kind.value)
    assert routes(actions) == [SetRoute(0, 0.0, phase.value, state.step)]


@pytest.mark.parametrize("state", TERMINAL, ids=lambda s: s.phase.value)
@pytest.mark.parametrize("kind", list(CommandKind))
def test_a_finished_rollout_refuses_every_command(state: RolloutState, kind: CommandKind) -> None:
    with pytest.raises(ConflictError, match=f"already {state.phase.value}"):
        apply_command(state, SPEC, Command(kind), T0)


def test_a_rolled_back_rollout_cannot_be_rolled_back_again() -> None:
    state, _ = apply_command(STATES["canary"], SPEC, Command(CommandKind.ROLLBACK), T0)
    with pytest.raises(ConflictError, match="finished rollout"):
        apply_command(state, SPEC, Command(CommandKind.ROLLBACK), T0 + 1)


def test_a_command_without_a_reason_still_names_its_actor() -> None:
    spec = make_spec()
    new, _ = apply_command(started(spec), spec, Command(CommandKind.ABORT, actor="ci"), T0)
    assert new.reason == "abort by ci"
