"""Builders for the state-machine tests: specs, verdicts, decisions and observations."""

from __future__ import annotations

import json
from typing import Any

from llm_rollout.controller import (
    Action,
    Alert,
    Observation,
    RecordEvent,
    RolloutState,
    SetRoute,
    advance,
    initial_state,
    start,
)
from llm_rollout.spec import RolloutSpec, parse_spec
from llm_rollout.verdict import Outcome, StepDecision, Verdict

BASE = "base@sha256:0123456789abcdef"
CAND = "cand@sha256:fedcba9876543210"
T0 = 1_700_000_000.0

STEPS = [
    {"weight": 1, "min_dwell": 60, "min_samples": 100, "max_dwell": 600},
    {"weight": 50, "min_dwell": 60, "min_samples": 100, "max_dwell": 600},
    {"weight": 100, "min_dwell": 60, "min_samples": 100, "max_dwell": 600},
]


SRM_TEXT = "sample ratio mismatch: candidate share 30.00% [27.00%, 33.00%] excludes 50.00%"


def make_spec(**extra: Any) -> RolloutSpec:
    """Three steps (1%, 50%, 100%), shadow on for 60 s / 100 samples unless overridden."""
    doc: dict[str, Any] = {
        "name": "r1",
        "baseline": BASE,
        "candidate": CAND,
        "steps": STEPS,
        "shadow": {"min_duration": 60, "min_samples": 100},
    }
    doc.update(extra)
    return parse_spec(doc)


def verdict(
    outcome: Outcome = Outcome.PASS,
    *,
    gate: str = "latency",
    statistic: str = "p99_ratio",
    critical: bool = True,
    n: int = 1000,
    explanation: str = "",
) -> Verdict:
    return Verdict(
        gate=gate,
        statistic=statistic,
        outcome=outcome,
        method="sequential",
        estimate=1.0,
        lo=0.9,
        hi=1.1,
        bound=1.5,
        n_baseline=n,
        n_candidate=n,
        explanation=explanation or f"{gate} {statistic} {outcome.value}",
        critical=critical,
    )


def decision(
    outcome: Outcome = Outcome.PASS,
    *,
    critical_fail: bool = False,
    noncritical_fail: bool = False,
    srm: bool = False,
) -> StepDecision:
    """A decision of ``outcome``: one cost verdict (INCONCLUSIVE when ``outcome`` is FAIL, so
    failures come only from the flags) plus the requested failures."""
    base = Outcome.INCONCLUSIVE if outcome is Outcome.FAIL else outcome
    verdicts = [verdict(base, gate="cost", statistic="mean_ratio")]
    if critical_fail:
        verdicts.append(verdict(Outcome.FAIL, explanation="p99 latency ratio 2.1 > 1.5"))
    if noncritical_fail:
        verdicts.append(
            verdict(Outcome.FAIL, gate="feedback", statistic="rate_excess", critical=False)
        )
    srm_verdict = verdict(
        Outcome.FAIL if srm else Outcome.PASS,
        gate="srm",
        statistic="share",
        explanation=SRM_TEXT,
    )
    return StepDecision(outcome=outcome, verdicts=tuple(verdicts), srm=srm_verdict)


def obs(
    outcome: Outcome = Outcome.PASS,
    *,
    n: int = 1000,
    nb: int | None = None,
    nc: int | None = None,
    critical_fail: bool = False,
    noncritical_fail: bool = False,
    srm: bool = False,
    alerts: tuple[Verdict, ...] = (),
    ab: Verdict | None = None,
) -> Observation:
    d = decision(outcome, critical_fail=critical_fail, noncritical_fail=noncritical_fail, srm=srm)
    return Observation(d, n if nb is None else nb, n if nc is None else nc, alerts=alerts, ab=ab)


def alert_rule(outcome: Outcome) -> Verdict:
    return verdict(outcome, gate="cost", statistic="mean_ratio", explanation="cost ratio 1.9 > 1.4")


def events(actions: list[Action], kind: str | None = None) -> list[RecordEvent]:
    return [a for a in actions if isinstance(a, RecordEvent) and kind in (None, a.kind)]


def routes(actions: list[Action]) -> list[SetRoute]:
    return [a for a in actions if isinstance(a, SetRoute)]


def alerts_of(actions: list[Action]) -> list[Alert]:
    return [a for a in actions if isinstance(a, Alert)]


def json_safe(value: Any) -> Any:
    """Round-trip through strict JSON (no NaN); fails loudly on anything else."""
    return json.loads(json.dumps(value, allow_nan=False))


def started(spec: RolloutSpec, now: float = T0) -> RolloutState:
    state, _ = start(initial_state(now), spec, now)
    return state


def at_step(spec: RolloutSpec, step: int) -> tuple[RolloutState, float]:
    """Drive a rollout with passing checks to canary ``step``; returns (state, time)."""
    now = T0
    state = started(spec, now)
    while state.step < step or state.phase.value == "shadow":
        now += 3600
        state, _ = advance(state, spec, obs(), now)
    assert (state.phase.value, state.step) == ("canary", step), state
    return state, now
