"""The rollout state machine: pure functions from (state, spec, input, now) to (state, actions).

The simulator and the live service call exactly these functions; neither has decision logic
of its own. Nothing here reads a clock, a store or a network.

The caller reads the window from ``state.phase_started`` to now and judges it with
:func:`llm_rollout.controller.observe` (the step decision, the shadow alert verdicts in the
shadow phase, the A/B rule in the A/B phase), which gives the one :class:`Observation` that
:func:`advance` takes.

One check (:func:`advance`) applies these rules in order and stops at the first that moves:

1. Terminal (PROMOTED, ROLLED_BACK, ABORTED) or PENDING: nothing happens, no actions.
2. Harm: a critical gate FAILs or an alert in ``obs.alerts`` fired -> ROLLED_BACK at once, from
   SHADOW, CANARY, AB *and PAUSED* (a paused rollout still serves the candidate, so it stays
   guarded). Alerts are only computed in the shadow phase, but one that fires stops any phase.
   This comes before the SRM guard on purpose: an SRM says the comparison may be biased, but a
   confident breach on real traffic is the stronger signal, and rolling back is the safe
   direction (a false rollback costs a re-run; pausing would leave users on a harmful model).
3. A non-critical gate FAIL emits a ``warning`` event and an Alert, once per gate statistic and
   step; it never moves the rollout by itself (``require: pass`` still needs outcome PASS).
4. PAUSED: stops here and waits for ``resume`` (an SRM that clears does not auto-resume).
5. Sample-ratio mismatch -> PAUSED, with the SRM verdict as evidence; it blocks advancing.
6. Progress of the phase:
   - SHADOW completes (-> CANARY step 0) once ``min_duration`` has passed and ``n_candidate``
     (shadow calls) >= ``min_samples``; at ``max_duration`` without that, ``on_inconclusive``.
   - CANARY step completes once ``min_dwell`` has passed, ``min(n_baseline, n_candidate)`` >=
     ``min_samples`` and the gates allow it (``pass``: decision outcome PASS, NODATA is not a
     pass; ``no-breach``: no critical FAIL). At ``max_dwell`` without that, ``on_inconclusive``
     (hold -> PAUSED, rollback -> ROLLED_BACK, advance -> next step). After the last step:
     AB if the spec has one, else PROMOTED.
   - The 100% step has no concurrent baseline (the baseline gets no served traffic), so its
     gates have nothing to compare with. Rule: a step at 10000 bp completes after
     ``min_dwell`` once ``n_candidate`` >= ``min_samples``, without the gate requirement; a
     critical FAIL (should the judge find one) still rolls back, and missing samples at
     ``max_dwell`` still go to ``on_inconclusive``.
   - AB: the A/B verdict (``Observation.ab``) is read once ``duration`` has passed: PASS ->
     PROMOTED, FAIL -> ROLLED_BACK, anything else (or none) -> ``ab.on_inconclusive``. Before
     that the critical gates and the SRM guard protect the split as in any step.

Commands (:func:`apply_command`): ``pause`` (SHADOW/CANARY/AB -> PAUSED; the route holds the
paused phase's weight and shadow sample: pausing stops movement, not traffic), ``resume``
(back to the paused phase and step, the window restarting now), ``promote`` (any non-terminal
phase -> PROMOTED at once, skipping remaining steps *and* the A/B step: the operator took the
decision the A/B would have taken; audited with actor and reason), ``rollback`` and ``abort``
(any non-terminal phase -> ROLLED_BACK / ABORTED; same route, weight 0 and shadow off; abort
means "stopped, not judged bad"). A terminal rollout refuses every command (ConflictError).

Audit: every transition emits one RecordEvent (time, trigger, actor, from/to phase and step,
candidate_bp before and after, weight, shadow_sample, reason, evidence = the observation with
``decision.to_dict()`` and the failing verdicts; commands add ``command``), preceded by a
SetRoute whenever the route changes. The route carries the phase and step labels that records
are tagged with, so in practice every transition re-publishes it (a pause keeps the weight but
relabels the phase). The event kind follows from the phases, so it cannot disagree with them:
``started``, ``step_advanced`` (shadow -> canary, step -> step, last step -> A/B), ``paused``,
``resumed``, ``promoted``, ``rolled_back``, ``aborted``. Automatic rollbacks and pauses add an
Alert. A check that moves nothing emits nothing: the state counts
it (``checks``, ``last_check``, ``last_outcome``), and since the judge is pure and the records
are stored, any check can be recomputed; an event per check would be hundreds a day of
identical entries that bury the transitions.

Weights only ever take the spec's step weights in order, 0 (before the canary and after a
rollback), the A/B weight (after the 100% step) or 10000 (promoted); only ``promote`` skips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ConflictError, InvalidDataError
from ..policy import BUCKETS
from ..spec import OnInconclusive, Require, RolloutSpec
from ..verdict import Outcome, StepDecision, Verdict
from ._actions import (
    Action,
    Alert,
    Command,
    CommandKind,
    EventKind,
    Observation,
    RecordEvent,
    SetRoute,
)
from ._state import Phase, RolloutState, ab_step_index, route_for, weight_bp

CONTROLLER = "controller"
Result = tuple[RolloutState, list[Action]]


@dataclass(frozen=True)
class _Ctx:
    """What one call shares with every helper: the spec, the time, who and why."""

    spec: RolloutSpec
    now: float
    trigger: str  # "check", "command" or "start"
    actor: str = CONTROLLER
    obs: Observation | None = None
    elapsed: float = 0.0
    extra: tuple[tuple[str, str], ...] = ()

    def evidence(self) -> dict[str, Any] | None:
        if self.obs is None:
            return None
        decision = self.obs.decision
        return {
            "elapsed": self.elapsed,
            "n_baseline": self.obs.n_baseline,
            "n_candidate": self.obs.n_candidate,
            "failing": [v.to_dict() for v in decision.critical_failed],
            "decision": decision.to_dict(),
            "alerts": [a.to_dict() for a in self.obs.alerts],
            "ab": None if self.obs.ab is None else self.obs.ab.to_dict(),
        }


def start(state: RolloutState, spec: RolloutSpec, now: float) -> Result:
    """PENDING -> SHADOW (shadow enabled) or CANARY step 0."""
    _check_now(now)
    if state.phase is not Phase.PENDING:
        raise ConflictError(f"rollout {spec.name} has already started ({state.phase.value})")
    ctx = _Ctx(spec, now, "start")
    if spec.shadow.enabled:
        reason = f"started: mirroring {spec.shadow.sample:.0%} of requests to the candidate"
        return _move(state, ctx, Phase.SHADOW, -1, reason)
    reason = f"started without shadow: canary at {spec.steps[0].weight:g}%"
    return _move(state, ctx, Phase.CANARY, 0, reason)


def advance(state: RolloutState, spec: RolloutSpec, obs: Observation, now: float) -> Result:
    """One check of the current window; see the module docstring for the rules in order."""
    _check_now(now)
    if state.terminal or state.phase is Phase.PENDING:
        return state, []
    decision = obs.decision
    ctx = _Ctx(spec, now, "check", obs=obs, elapsed=now - state.phase_started)
    seen = replace(state, checks=state.checks + 1, last_check=now, last_outcome=decision.outcome)
    fired = tuple(a for a in obs.alerts if a.outcome is Outcome.FAIL)
    if decision.critical_failed or fired:
        return _rollback(seen, ctx, _harm_reason(decision.critical_failed, fired))
    seen, actions = _warnings(seen, ctx, decision)
    if seen.phase is Phase.PAUSED:
        return seen, actions
    if decision.srm_mismatch:
        srm = decision.srm
        # The SRM verdict's own explanation already reads "sample ratio mismatch: ...".
        reason = srm.explanation if srm is not None and srm.explanation else None
        moved = _move(
            seen, ctx, Phase.PAUSED, seen.step, reason or "sample ratio mismatch", alert=True
        )
    elif seen.phase is Phase.SHADOW:
        moved = _shadow(seen, ctx, obs)
    elif seen.phase is Phase.CANARY:
        moved = _canary(seen, ctx, obs)
    else:
        moved = _ab(seen, ctx, obs)
    return moved[0], actions + moved[1]


def apply_command(state: RolloutState, spec: RolloutSpec, cmd: Command, now: float) -> Result:
    """An operator's command; ConflictError when it cannot apply to this state."""
    _check_now(now)
    what = cmd.kind.value
    if state.terminal:
        raise ConflictError(
            f"cannot {what} rollout {spec.name}: it is already {state.phase.value} "
            "and a finished rollout accepts no command"
        )
    ctx = _Ctx(spec, now, "command", actor=cmd.actor, extra=(("command", what),))
    reason = f"{what} by {cmd.actor}" + (f": {cmd.reason}" if cmd.reason else "")
    if cmd.kind is CommandKind.PAUSE:
        if state.phase is Phase.PENDING:
            raise ConflictError(f"cannot pause rollout {spec.name}: it has not started")
        if state.phase is Phase.PAUSED:
            raise ConflictError(f"cannot pause rollout {spec.name}: it is already paused")
        return _move(state, ctx, Phase.PAUSED, state.step, reason)
    if cmd.kind is CommandKind.RESUME:
        if state.paused_from is None:
            raise ConflictError(
                f"cannot resume rollout {spec.name}: it is {state.phase.value}, not paused"
            )
        return _move(state, ctx, state.paused_from, state.step, reason)
    target = {
        CommandKind.PROMOTE: Phase.PROMOTED,
        CommandKind.ROLLBACK: Phase.ROLLED_BACK,
        CommandKind.ABORT: Phase.ABORTED,
    }[cmd.kind]
    return _move(state, ctx, target, state.step, reason)


# --- phase progress -----------------------------------------------------------------------


def _shadow(state: RolloutState, ctx: _Ctx, obs: Observation) -> Result:
    shadow, elapsed = ctx.spec.shadow, ctx.elapsed
    if elapsed >= shadow.min_duration and obs.n_candidate >= shadow.min_samples:
        reason = (
            f"shadow complete after {elapsed:g}s with {obs.n_candidate} shadow samples "
            f"(min {shadow.min_samples}), no alert fired"
        )
        return _next(state, ctx, reason)
    if shadow.max_duration is not None and elapsed >= shadow.max_duration:
        why = (
            f"shadow reached max_duration {shadow.max_duration:g}s with {obs.n_candidate}/"
            f"{shadow.min_samples} shadow samples"
        )
        return _inconclusive(state, ctx, why)
    return state, []


def _canary(state: RolloutState, ctx: _Ctx, obs: Observation) -> Result:
    spec, elapsed = ctx.spec, ctx.elapsed
    step = spec.steps[state.step]
    label = f"step {state.step} ({step.weight:g}%)"
    full = weight_bp(step.weight) >= BUCKETS  # no concurrent baseline to compare with
    n = obs.n_candidate if full else min(obs.n_baseline, obs.n_candidate)
    missing = []
    if n < step.min_samples:
        arms = "candidate" if full else "per arm"
        missing.append(f"{n} < {step.min_samples} samples {arms}")
    if not full and not _gates_allow(spec.require, obs.decision):
        missing.append(f"gates {obs.decision.outcome.value} (require {spec.require.value})")
    if elapsed >= step.min_dwell and not missing:
        gates = "not judged: no concurrent baseline" if full else obs.decision.outcome.value
        return _next(state, ctx, f"{label} complete after {elapsed:g}s, n={n}, gates {gates}")
    if elapsed >= step.max_dwell:
        why = f"{label} reached max_dwell {step.max_dwell:g}s: " + "; ".join(missing)
        return _inconclusive(state, ctx, why)
    return state, []


def _ab(state: RolloutState, ctx: _Ctx, obs: Observation) -> Result:
    ab = ctx.spec.ab
    if ab is None:
        raise ValueError("state is in the A/B phase but the spec has no ab step")
    if ctx.elapsed < ab.duration:
        return state, []
    verdict = obs.ab
    outcome = Outcome.NODATA if verdict is None else verdict.outcome
    detail = "no A/B verdict" if verdict is None else verdict.explanation or outcome.value
    label = f"A/B {ab.rule.value} on {ab.metric} after {ctx.elapsed:g}s"
    if outcome is Outcome.PASS:
        return _move(state, ctx, Phase.PROMOTED, state.step, f"{label}: met ({detail})")
    if outcome is Outcome.FAIL:
        return _rollback(state, ctx, f"{label}: candidate worse ({detail})")
    reason = f"{label}: {outcome.value} ({detail}); on_inconclusive={ab.on_inconclusive}"
    if ab.on_inconclusive == "promote":
        return _move(state, ctx, Phase.PROMOTED, state.step, reason)
    return _rollback(state, ctx, reason)


def _gates_allow(require: Require, decision: StepDecision) -> bool:
    if require is Require.PASS:
        return decision.outcome is Outcome.PASS
    return not decision.critical_failed


def _next(state: RolloutState, ctx: _Ctx, reason: str) -> Result:
    """The position after the current one: shadow -> step 0 -> ... -> last -> A/B / promoted."""
    spec = ctx.spec
    if state.phase is Phase.SHADOW:
        return _move(state, ctx, Phase.CANARY, 0, reason)
    if state.phase is Phase.CANARY and state.step + 1 < len(spec.steps):
        return _move(state, ctx, Phase.CANARY, state.step + 1, reason)
    if state.phase is Phase.CANARY and spec.ab is not None:
        return _move(state, ctx, Phase.AB, ab_step_index(spec), reason)
    return _move(state, ctx, Phase.PROMOTED, state.step, reason)


def _inconclusive(state: RolloutState, ctx: _Ctx, why: str) -> Result:
    policy = ctx.spec.on_inconclusive
    reason = f"{why}; on_inconclusive={policy.value}"
    if policy is OnInconclusive.HOLD:
        return _move(state, ctx, Phase.PAUSED, state.step, reason, alert=True)
    if policy is OnInconclusive.ROLLBACK:
        return _rollback(state, ctx, reason)
    return _next(state, ctx, reason)


def _rollback(state: RolloutState, ctx: _Ctx, reason: str) -> Result:
    return _move(state, ctx, Phase.ROLLED_BACK, state.step, reason, alert=True)


# --- warnings, the one transition function ------------------------------------------------


def _name(v: Verdict) -> str:
    return f"{v.gate}.{v.statistic}"


def _harm_reason(failed: tuple[Verdict, ...], fired: tuple[Verdict, ...]) -> str:
    parts = [f"critical gate {_name(v)} FAIL: {v.explanation or 'breach'}" for v in failed]
    parts += [f"shadow alert {_name(v)} fired: {v.explanation or 'above'}" for v in fired]
    return "; ".join(parts)


def _warnings(state: RolloutState, ctx: _Ctx, decision: StepDecision) -> Result:
    new = [v for v in decision.failed if not v.critical and _name(v) not in state.warned]
    actions: list[Action] = []
    for v in new:
        message = f"non-critical gate {_name(v)} FAIL: {v.explanation or 'breach'}"
        data = {
            "time": ctx.now,
            "phase": state.effective_phase.value,
            "step": state.step,
            "reason": message,
            "verdict": v.to_dict(),
        }
        actions += [
            RecordEvent(EventKind.WARNING.value, data),
            Alert(f"rollout {ctx.spec.name}: {message}"),
        ]
    if not new:
        return state, actions
    return replace(state, warned=state.warned + tuple(_name(v) for v in new)), actions


def _kind(before: Phase, after: Phase) -> EventKind:
    """The audit kind follows from the phases, so it can never disagree with them."""
    if after in (Phase.PROMOTED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.PAUSED):
        return EventKind(after.value)
    if before is Phase.PENDING:
        return EventKind.STARTED
    if before is Phase.PAUSED:
        return EventKind.RESUMED
    return EventKind.STEP_ADVANCED


def _move(
    state: RolloutState, ctx: _Ctx, to: Phase, step: int, reason: str, *, alert: bool = False
) -> Result:
    """Every transition goes through here, so every one is audited and re-routed alike."""
    paused_from = state.effective_phase if to is Phase.PAUSED else None
    new = replace(
        state, phase=to, step=step, phase_started=ctx.now, paused_from=paused_from, reason=reason
    )
    if (new.effective_phase, new.step) != (state.effective_phase, state.step):
        new = replace(new, warned=())  # a new step: its warnings are news again
    before, after = route_for(state, ctx.spec), route_for(new, ctx.spec)
    actions: list[Action] = []
    if (before, state.phase, state.step) != (after, new.phase, new.step):
        actions.append(SetRoute(after[0], after[1], new.phase.value, new.step))
    data: dict[str, Any] = {
        "time": ctx.now,
        "trigger": ctx.trigger,
        "actor": ctx.actor,
        "from": state.phase.value,
        "to": new.phase.value,
        "from_step": state.step,
        "step": new.step,
        "from_bp": before[0],
        "candidate_bp": after[0],
        "weight": after[0] / 100,
        "shadow_sample": after[1],
        "reason": reason,
        "evidence": ctx.evidence(),
        **dict(ctx.extra),
    }
    actions.append(RecordEvent(_kind(state.phase, new.phase).value, data))
    if alert:
        actions.append(Alert(f"rollout {ctx.spec.name} {new.phase.value}: {reason}"))
    return new, actions


def _check_now(now: float) -> None:
    if isinstance(now, bool) or not math.isfinite(now):
        raise InvalidDataError(f"now must be a finite time in seconds, got {now!r}")
