"""Property tests: random specs driven by random checks interleaved with random commands.

Invariants checked after every input:

- nothing leaves PROMOTED / ROLLED_BACK / ABORTED (checks are no-ops, commands conflict);
- ``rollback`` succeeds from every non-terminal state and leaves weight 0, shadow off;
- once a critical FAIL (or a fired alert) reached an active or paused rollout, the candidate
  weight is 0 for good;
- weights follow the spec's steps in order: the step moves by at most one, forward, on a check;
  only ``promote`` skips; the weight only drops to 0 or to the A/B split after the last step;
- every transition emits exactly one audit event that names it, and a SetRoute keeps the
  published route equal to ``route_for(state)``; a check that moves nothing emits no event;
- the state round-trips through JSON.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from controller_helpers import T0, alert_rule, decision, events, json_safe, make_spec, verdict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_rollout.controller import (
    Action,
    Command,
    CommandKind,
    Observation,
    Phase,
    RolloutState,
    SetRoute,
    advance,
    apply_command,
    initial_state,
    route_for,
    start,
)
from llm_rollout.errors import ConflictError
from llm_rollout.spec import RolloutSpec
from llm_rollout.verdict import Outcome

EVENT_KEYS = {
    "time",
    "trigger",
    "actor",
    "from",
    "to",
    "from_step",
    "step",
    "from_bp",
    "candidate_bp",
    "weight",
    "shadow_sample",
    "reason",
    "evidence",
}
RARE = st.sampled_from([False] * 11 + [True])
# Biased towards progress, so that random rollouts also reach the late phases (A/B, promotion).
OUTCOMES = st.sampled_from([Outcome.PASS] * 4 + list(Outcome))
COUNTS = st.sampled_from([0, 10, 60, 100, 250] + [5000] * 5)


@st.composite
def specs(draw: st.DrawFn) -> RolloutSpec:
    n = draw(st.integers(0, 3))
    weights = sorted(
        draw(
            st.lists(
                st.sampled_from([0.5, 1, 5, 10, 25, 50, 75]), min_size=n, max_size=n, unique=True
            )
        )
    )
    steps = []
    for weight in [*weights, 100]:
        dwell = draw(st.sampled_from([0, 30, 60, 120]))
        steps.append(
            {
                "weight": weight,
                "min_dwell": dwell,
                "max_dwell": dwell + draw(st.sampled_from([0, 60, 300])),
                "min_samples": draw(st.sampled_from([1, 50, 200])),
            }
        )
    shadow = {
        "enabled": draw(st.booleans()),
        "min_duration": draw(st.sampled_from([0, 60])),
        "min_samples": draw(st.sampled_from([0, 100])),
        "max_duration": draw(st.sampled_from([None, 120, 600])),
    }
    ab = draw(
        st.none()
        | st.fixed_dictionaries(
            {
                "weight": st.sampled_from([10, 50]),
                "duration": st.sampled_from([60, 300]),
                "on_inconclusive": st.sampled_from(["promote", "rollback"]),
            }
        )
    )
    return make_spec(
        steps=steps,
        shadow=shadow,
        ab=ab,
        require=draw(st.sampled_from(["pass", "no-breach"])),
        on_inconclusive=draw(st.sampled_from(["hold", "rollback", "advance"])),
    )


@dataclass(frozen=True)
class Check:
    dt: float
    obs: Observation


@st.composite
def checks(draw: st.DrawFn) -> Check:
    alert = draw(st.none() | st.sampled_from([Outcome.PASS, Outcome.INCONCLUSIVE, Outcome.FAIL]))
    if alert is Outcome.FAIL and not draw(RARE):
        alert = Outcome.PASS  # keep fired alerts rare, or few rollouts get past the shadow
    ab = draw(st.none() | OUTCOMES)
    d = decision(
        draw(OUTCOMES),
        critical_fail=draw(RARE),
        noncritical_fail=draw(RARE),
        srm=draw(RARE),
    )
    o = Observation(
        d,
        draw(COUNTS),
        draw(COUNTS),
        alerts=() if alert is None else (alert_rule(alert),),
        ab=None if ab is None else verdict(ab, gate="ab", statistic="feedback_rate_excess"),
    )
    return Check(draw(st.sampled_from([0, 1, 30, 60, 120, 300, 1000])), o)


# Pause and resume twice as often as the commands that end a rollout.
KINDS = [CommandKind.PAUSE, CommandKind.RESUME] * 2 + list(CommandKind)
commands = st.builds(Command, kind=st.sampled_from(KINDS), actor=st.just("op"))
inputs = st.lists(st.one_of(*[checks()] * 6, commands, st.just("start")), min_size=5, max_size=40)

REACHED: Counter[str] = Counter()


def _conflicts(state: RolloutState, cmd: Command) -> bool:
    if state.terminal:
        return True
    if cmd.kind is CommandKind.PAUSE:
        return not state.phase.active
    if cmd.kind is CommandKind.RESUME:
        return state.phase is not Phase.PAUSED
    return False


@dataclass(frozen=True)
class Move:
    """One input applied: the states either side, its actions, and what caused it."""

    prev: RolloutState
    new: RolloutState
    actions: list[Action]
    now: float
    trigger: str  # "check", "command" or "start"
    cmd: CommandKind | None = None


def _expected_kind(prev: Phase, new: Phase) -> str:
    if new in (Phase.PROMOTED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.PAUSED):
        return new.value
    return {Phase.PENDING: "started", Phase.PAUSED: "resumed"}.get(prev, "step_advanced")


def _check_transition(spec: RolloutSpec, m: Move) -> None:
    prev, new, cmd = m.prev, m.new, m.cmd
    moved = (new.phase, new.step, new.paused_from) != (prev.phase, prev.step, prev.paused_from)
    audit = [e for e in events(m.actions) if e.kind != "warning"]
    before, after = route_for(prev, spec), route_for(new, spec)
    if not moved:
        assert audit == []
        assert not any(isinstance(a, SetRoute) for a in m.actions)
        assert new.phase_started == prev.phase_started
        return
    REACHED[new.phase.value] += 1
    [event] = audit
    REACHED[event.kind] += 1
    assert event.kind == _expected_kind(prev.phase, new.phase)
    assert set(event.data) >= EVENT_KEYS
    assert event.data == json_safe(event.data)
    assert (event.data["from"], event.data["to"]) == (prev.phase.value, new.phase.value)
    assert (event.data["from_step"], event.data["step"]) == (prev.step, new.step)
    assert (event.data["from_bp"], event.data["candidate_bp"]) == (before[0], after[0])
    assert event.data["reason"]
    assert new.reason == event.data["reason"]
    assert event.data["trigger"] == m.trigger
    assert new.phase_started == m.now
    if cmd is None:
        assert new.phase is not Phase.ABORTED
        assert event.kind != "resumed"
    if cmd is CommandKind.PROMOTE:
        return  # the one command allowed to skip steps
    if not new.terminal:
        assert new.step in (prev.step, prev.step + 1)  # never skips, never goes back
        if new.step == prev.step + 1:
            assert cmd is None
            assert prev.phase in (Phase.PENDING, Phase.SHADOW, Phase.CANARY)
    if after[0] > before[0]:  # more candidate traffic: only by completing a step
        assert cmd is None
        assert new.step == prev.step + 1 or (new.phase, prev.phase) == (Phase.PROMOTED, Phase.AB)
    if after[0] < before[0]:  # less: only rollback/abort, or the A/B split after 100%
        assert after[0] == 0 or (new.phase is Phase.AB and prev.step == len(spec.steps) - 1)


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(spec=specs(), ops=inputs, begin=st.sampled_from([True] * 5 + [False]))
def check_invariants(spec: RolloutSpec, ops: list[Check | Command | str], begin: bool) -> None:
    now = T0
    state = initial_state(now)
    if begin:
        ops = ["start", *ops]
    published = route_for(state, spec)
    harmed = False
    for op in ops:
        prev = state
        cmd: CommandKind | None = None
        if isinstance(op, Check):
            trigger = "check"
            now += op.dt
            state, actions = advance(prev, spec, op.obs, now)
            if prev.terminal or prev.phase is Phase.PENDING:
                assert state is prev
                assert actions == []
            fired = any(a.outcome is Outcome.FAIL for a in op.obs.alerts)
            if not (prev.terminal or prev.phase is Phase.PENDING) and (
                op.obs.decision.critical_failed or fired
            ):
                harmed = True
                assert state.phase is Phase.ROLLED_BACK
        elif isinstance(op, Command):
            cmd, trigger = op.kind, "command"
            try:
                state, actions = apply_command(prev, spec, op, now)
            except ConflictError:
                assert _conflicts(prev, op)
                continue
            assert not _conflicts(prev, op)
        else:
            trigger = "start"
            try:
                state, actions = start(prev, spec, now)
            except ConflictError:
                assert prev.phase is not Phase.PENDING
                continue
            assert prev.phase is Phase.PENDING
        _check_transition(spec, Move(prev, state, actions, now, trigger, cmd))
        for action in actions:
            if isinstance(action, SetRoute):
                published = (action.candidate_bp, action.shadow_sample)
        assert published == route_for(state, spec)
        assert RolloutState.from_dict(json_safe(state.to_dict())) == state
        if harmed:
            assert route_for(state, spec)[0] == 0
            assert state.terminal
        if not state.terminal:
            rolled, _ = apply_command(state, spec, Command(CommandKind.ROLLBACK), now)
            assert (rolled.phase, route_for(rolled, spec)) == (Phase.ROLLED_BACK, (0, 0.0))


def test_invariants_hold_for_random_rollouts_and_commands() -> None:
    REACHED.clear()
    check_invariants()
    # The generator must actually reach every phase and every kind of transition, or the
    # invariants above would hold vacuously.
    expected = {p.value for p in Phase if p is not Phase.PENDING} | {
        "started",
        "step_advanced",
        "resumed",
    }
    assert expected <= set(REACHED), (expected - set(REACHED), REACHED)
