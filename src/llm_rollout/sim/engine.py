"""The simulation engine: a virtual clock driving the real controller and the real judge.

Every ``spec.check_interval`` of virtual time the engine draws that interval's traffic under
the current route and appends it to an in-memory window source
(:class:`llm_rollout.sources.InMemorySource`), then does what the live service does: reads the
window the state calls for (:func:`llm_rollout.controller.window_query`), judges it
(:func:`llm_rollout.controller.observe`: the step decision, the shadow alert rules in SHADOW,
the A/B rule in the A/B phase) and hands the observation to
:func:`llm_rollout.controller.advance`. The engine applies the returned actions (``SetRoute``
changes the route; a new ``phase_started`` starts a new window) and stops at a terminal phase,
at PAUSED (from there an operator decides) or at the scenario's time limit.

Nothing here decides a rollout: outcomes are the controller's; the engine only measures
what they cost (time, exposure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import controller as ctl
from ..records import Arm, Role
from ..sources import InMemorySource
from ..spec import Method, RolloutSpec
from ..verdict import Outcome, StepDecision, Verdict
from .behaviour import Prompts, behave, drift_factors
from .report import halt_headline, stage_label
from .scenario import Scenario
from .traffic import UserBuckets

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[float, float], None]  # (virtual now, time limit)


@dataclass(frozen=True)
class Check:
    """One check of the timeline: what was judged, and what the controller did with it."""

    time: float
    phase: str  # the phase judged: shadow, canary or ab
    step: int
    weight: float  # candidate share of served traffic, percent
    shadow_sample: float
    n_baseline: int
    n_candidate: int
    outcome: str  # the decision's combined outcome
    decision: StepDecision
    alerts: tuple[Verdict, ...] = ()
    ab: Verdict | None = None
    event: str | None = None  # the transition this check caused, if any
    to_phase: str | None = None
    to_stage: str | None = None  # e.g. "10%", "shadow", "promoted"
    reason: str = ""

    def to_dict(self, verdicts: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": self.time,
            "phase": self.phase,
            "step": self.step,
            "weight": self.weight,
            "shadow_sample": self.shadow_sample,
            "n_baseline": self.n_baseline,
            "n_candidate": self.n_candidate,
            "outcome": self.outcome,
            "event": self.event,
            "to_phase": self.to_phase,
            "to_stage": self.to_stage,
            "reason": self.reason,
        }
        if verdicts:
            out["verdicts"] = [v.to_dict() for v in self.decision.verdicts]
            out["srm"] = None if self.decision.srm is None else self.decision.srm.to_dict()
            out["alerts"] = [a.to_dict() for a in self.alerts]
            out["ab"] = None if self.ab is None else self.ab.to_dict()
        return out


@dataclass(frozen=True)
class RunResult:
    """One simulated rollout. ``exposure``: candidate-served requests from the first
    regression's start until the halt (0 without a regression)."""

    scenario: str
    seed: int
    method: str
    outcome: str  # promoted, rolled_back, paused or timeout
    time: float  # virtual seconds from start to the end of the run
    stage: str  # where it ended: shadow, 1%, 10%, ..., A/B, promoted
    weight: float  # candidate weight (percent) when it ended; 0 in shadow, 100 promoted
    reason: str
    fired: tuple[Verdict, ...]  # the failing critical gates / fired alerts at a rollback
    headline: str
    requests: int  # served requests, both arms
    candidate_served: int
    shadow_calls: int
    exposure: int
    exposed_users: int
    regression_start: float | None
    detect_time: float | None  # rollback time - regression start
    checks: tuple[Check, ...] = ()
    events: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self, timeline: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "seed": self.seed,
            "method": self.method,
            "outcome": self.outcome,
            "time": self.time,
            "stage": self.stage,
            "weight": self.weight,
            "reason": self.reason,
            "headline": self.headline,
            "fired": [v.to_dict() for v in self.fired],
            "requests": self.requests,
            "candidate_served": self.candidate_served,
            "shadow_calls": self.shadow_calls,
            "exposure": self.exposure,
            "exposed_users": self.exposed_users,
            "regression_start": self.regression_start,
            "detect_time": self.detect_time,
        }
        if timeline:
            out["timeline"] = [c.to_dict() for c in self.checks]
            out["events"] = list(self.events)
        return out


class _Run:
    """The mutable state of one run; :func:`simulate` is its only user."""

    def __init__(self, scenario: Scenario, seed: int, method: Method | None) -> None:
        self.sc = scenario
        self.spec = scenario.spec
        self.method = method
        self.rng = np.random.default_rng(seed)
        var = scenario.run_variation
        self.run_drift_b = self.rng.uniform(1 - var, 1 + var, 6)
        self.run_drift_c = self.rng.uniform(1 - var, 1 + var, 6)
        self.buckets = UserBuckets(self.spec.name, scenario.traffic.users)
        self.seen: BoolArray = np.zeros(scenario.traffic.users, dtype=np.bool_)
        self.arms = InMemorySource()
        self.bp = 0
        self.shadow = 0.0
        self.requests = self.candidate_served = self.shadow_calls = self.exposure = 0
        self.reg_start = scenario.regression_start

    def traffic(self, step: int, t0: float, t1: float) -> None:
        sc, rng = self.sc, self.rng
        times = sc.traffic.arrivals(rng, t0, t1)
        n = int(times.shape[0])
        users: IntArray = rng.integers(0, sc.traffic.users, n)
        prompts = Prompts.draw(rng, times, sc.stream_fraction)
        on_cand = np.zeros(n, dtype=np.bool_)
        if self.bp > 0:
            on_cand = self.buckets.of(users) < self.bp
        drift_b = drift_factors(rng, sc.baseline.drift) * self.run_drift_b
        drift_c = drift_factors(rng, sc.candidate.drift) * self.run_drift_c
        mean = sc.baseline.prompt_tokens
        base = behave(sc.baseline, prompts.take(~on_cand), rng, drift_b, prompt_tokens_mean=mean)
        rid = self.spec.name
        self.arms.extend(rid, step, Arm.BASELINE, Role.SERVE, base)
        self.requests += n
        if on_cand.any():
            cand = behave(
                sc.candidate,
                prompts.take(on_cand),
                rng,
                drift_c,
                prompt_tokens_mean=mean,
                regressions=sc.regressions,
            )
            self.arms.extend(rid, step, Arm.CANDIDATE, Role.SERVE, cand)
            self.candidate_served += cand.n
            if self.reg_start is not None:
                hit = times >= self.reg_start
                self.exposure += int((on_cand & hit).sum())
                self.seen[users[on_cand & hit]] = True
        if self.shadow > 0:
            mirror = ~on_cand & (rng.random(n) < self.shadow)
            shadow = behave(
                sc.candidate,
                prompts.take(mirror),
                rng,
                drift_c,
                prompt_tokens_mean=mean,
                regressions=sc.regressions,
                served=False,
            )
            self.shadow_calls += shadow.n
            self.arms.extend(rid, step, Arm.CANDIDATE, Role.SHADOW, shadow)

    def observe(self, state: ctl.RolloutState, now: float) -> tuple[ctl.Observation, Check]:
        """Read and judge the window exactly as the live controller does."""
        window = self.arms.read_window(ctl.window_query(self.spec.name, self.spec, state, now))
        obs = ctl.observe(self.spec, state, window, self.method)
        decision, alerts, ab = obs.decision, obs.alerts, obs.ab
        phase = ctl.judged_phase(state)
        check = Check(
            now,
            phase,
            state.step,
            self.bp / 100,
            self.shadow,
            obs.n_baseline,
            obs.n_candidate,
            decision.outcome.value,
            decision,
            alerts,
            ab,
        )
        return obs, check


def simulate(
    scenario: Scenario,
    method: Method | None = None,
    *,
    seed: int | None = None,
    timeline: bool = True,
    progress: Progress | None = None,
) -> RunResult:
    """Run one rollout of ``scenario`` (seed: the scenario's unless given)."""
    seed = scenario.seed if seed is None else seed
    run = _Run(scenario, seed, method)
    spec = scenario.spec
    limit = scenario.time_limit()
    state = ctl.initial_state(0.0)
    state, actions = ctl.start(state, spec, 0.0)
    events: list[dict[str, Any]] = []
    checks: list[Check] = []
    last_fired: tuple[Verdict, ...] = ()
    _apply(run, actions, events)
    now = 0.0
    while not state.terminal and state.phase is not ctl.Phase.PAUSED and now < limit:
        t1 = now + spec.check_interval
        run.traffic(state.step, now, t1)
        now = t1
        obs, check = run.observe(state, now)
        before = state.phase_started
        state, actions = ctl.advance(state, spec, obs, now)
        moved = _apply(run, actions, events)
        if state.phase_started != before:
            run.arms.clear()  # a new window: what came before is never read again
        if state.phase is ctl.Phase.ROLLED_BACK:
            last_fired = obs.decision.critical_failed + tuple(
                a for a in obs.alerts if a.outcome is Outcome.FAIL
            )
        if timeline or moved is not None:
            if moved is not None:
                check = _with_event(check, moved, state, spec)
            checks.append(check)
        if progress is not None:
            progress(now, limit)
    return _result(
        run,
        scenario=scenario,
        seed=seed,
        method=method,
        state=state,
        now=now,
        fired=last_fired,
        checks=checks,
        events=events,
        timeline=timeline,
    )


def _apply(run: _Run, actions: list[ctl.Action], events: list[dict[str, Any]]) -> str | None:
    """Carry out the controller's actions in order; returns the transition's event kind."""
    kind = None
    for action in actions:
        if isinstance(action, ctl.SetRoute):
            run.bp, run.shadow = action.candidate_bp, action.shadow_sample
        elif isinstance(action, ctl.RecordEvent):
            events.append({"kind": action.kind, **_event_summary(action.data)})
            if action.kind != ctl.EventKind.WARNING.value:
                kind = action.kind
    return kind


def _event_summary(data: dict[str, Any]) -> dict[str, Any]:
    keep = ("time", "from", "to", "from_step", "step", "candidate_bp", "weight", "reason")
    return {k: data[k] for k in keep if k in data}


def _with_event(check: Check, kind: str, state: ctl.RolloutState, spec: RolloutSpec) -> Check:
    return Check(
        check.time,
        check.phase,
        check.step,
        check.weight,
        check.shadow_sample,
        check.n_baseline,
        check.n_candidate,
        check.outcome,
        check.decision,
        check.alerts,
        check.ab,
        event=kind,
        to_phase=state.phase.value,
        to_stage=stage_label(spec, state.step, state.phase.value),
        reason=state.reason,
    )


def _result(
    run: _Run,
    *,
    scenario: Scenario,
    seed: int,
    method: Method | None,
    state: ctl.RolloutState,
    now: float,
    fired: tuple[Verdict, ...],
    checks: list[Check],
    events: list[dict[str, Any]],
    timeline: bool,
) -> RunResult:
    spec = scenario.spec
    if state.phase is ctl.Phase.PROMOTED:
        outcome = "promoted"
    elif state.phase is ctl.Phase.ROLLED_BACK:
        outcome = "rolled_back"
    elif state.phase is ctl.Phase.PAUSED:
        outcome = "paused"
    else:
        outcome = "timeout"
    where = state.effective_phase
    if where is ctl.Phase.PROMOTED:
        weight = 100.0
    elif where is ctl.Phase.CANARY:
        weight = spec.steps[state.step].weight
    elif where is ctl.Phase.AB and spec.ab is not None:
        weight = spec.ab.weight
    elif state.phase is ctl.Phase.ROLLED_BACK and 0 <= state.step < len(spec.steps):
        weight = spec.steps[state.step].weight
    elif state.phase is ctl.Phase.ROLLED_BACK and spec.ab is not None and state.step >= 0:
        weight = spec.ab.weight
    else:
        weight = 0.0
    stage = stage_label(spec, state.step, outcome)
    detect = None
    if outcome == "rolled_back" and run.reg_start is not None and now > run.reg_start:
        detect = now - run.reg_start
    method_name = method.value if method is not None else "per-gate"
    headline = halt_headline(outcome, stage, now, fired, state.reason)
    return RunResult(
        scenario=scenario.name,
        seed=seed,
        method=method_name,
        outcome=outcome,
        time=now,
        stage=stage,
        weight=weight,
        reason=state.reason,
        fired=fired,
        headline=headline,
        requests=run.requests,
        candidate_served=run.candidate_served,
        shadow_calls=run.shadow_calls,
        exposure=run.exposure,
        exposed_users=int(run.seen.sum()),
        regression_start=run.reg_start,
        detect_time=detect,
        checks=tuple(checks),
        events=tuple(events) if timeline else (),
    )


__all__ = ["Check", "RunResult", "simulate"]
