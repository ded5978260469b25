"""The detection probability of each reference regression by the end of every stage of a plan,
for a regression present from the start (shadow first), from one Monte Carlo of the whole plan.

It is stated at the shadow phase when the shadow is sized for the regression, else at the step
sized for it. The steps keep their own sizing either way: a regression the shadow misses, or
one that appears only later, still meets a step that detects it.
"""

from __future__ import annotations

import math

import numpy as np

from ..sim.regression import Regression
from ..spec import RolloutSpec
from ._arm import Arm
from .context import PlanContext
from .detect import Stage, rollout_curve, stage_curve
from .model import Detection
from .rules import AFFECTS, moved_by, references, stage_rules
from .stages import canary_stage
from .steps import SizedSteps


def rollout_stages(
    ctx: PlanContext, shadow: Stage, shadow_checks: int, sized: SizedSteps
) -> list[tuple[str, Stage]]:
    """The shadow phase and every step with a concurrent baseline, back to back."""
    stages: list[tuple[str, Stage]] = [("shadow", shadow)]
    t = shadow_checks * ctx.interval
    for step in sized.steps:
        if step.weight < 100:
            stage = canary_stage("", ctx.traffic, t, step.checks, ctx.interval, step.weight)
            stages.append((f"{step.weight:g}%", stage))
        t += step.checks * ctx.interval
    return stages


def detections(
    ctx: PlanContext,
    spec: RolloutSpec,
    stages: list[tuple[str, Stage]],
    breach: dict[str, bool],
    assigned: dict[str, str],
    shadow_gaps: dict[str, str],
    reps: int,
) -> list[Detection]:
    """One Monte Carlo of the whole plan per reference regression, present from the start.
    ``assigned``: the stage each is stated at (shadow or a step); ``shadow_gaps``: why the
    shadow is not, for those its gates see but cannot catch within the longest shadow."""
    noise = ctx.inputs.noise
    out = []
    for j, reg in enumerate(references()):
        label = reg.label()
        stats = ctx.stats_for(reg)
        staged = [
            (st, stage_rules(spec, "shadow" if name == "shadow" else "canary", stats, reg))
            for name, st in stages
        ]
        curve = rollout_curve(
            staged,
            Arm(ctx.base),
            Arm(ctx.cand, (reg,)),
            drift=noise.drift,
            run_variation=noise.run_variation,
            reps=reps,
            seed=ctx.inputs.seed + 7919 * (j + 1),
        )
        by_stage = tuple((name, float(p)) for (name, _), p in zip(stages, curve, strict=True))
        where = assigned.get(label)
        stated_stage = where or by_stage[-1][0]
        note = ""
        if ctx.cost_no_go and "cost" not in AFFECTS[reg.metric]:
            note = "without the cost gate, which fails on the candidate as planned (no-go)"
        if not breach[label]:
            note = "within the plan's bounds: tolerated by design, not a breach"
        elif where is None:
            note = _undetected_note(ctx, reg, spec)
            ctx.warnings.append(f"{label}: {note}")
            if label in shadow_gaps:
                note = f"{shadow_gaps[label]}; {note}"
        gates = tuple(moved_by(reg, [r for _, rules in staged for r in rules]))
        out.append(
            Detection(
                f"{reg.metric}={reg.factor:g}",
                label,
                breach[label],
                gates,
                where,
                by_stage,
                dict(by_stage)[stated_stage],
                stated_stage,
                note,
            )
        )
    return out


def _undetected_note(ctx: PlanContext, reg: Regression, spec: RolloutSpec) -> str:
    """How long the best-balanced step would need, up to 4x the longest dwell."""
    inputs = ctx.inputs
    interval = spec.check_interval
    judged = [s.weight for s in spec.steps if s.weight < 100]
    if not judged:
        return "no step with a concurrent baseline"
    w = min(judged, key=lambda x: abs(50 - x))
    k_max = math.floor(4 * ctx.max_dwell / interval)
    stage = canary_stage(f"{w:g}%", ctx.traffic, 0.0, k_max, interval, w)
    curve = stage_curve(
        stage,
        Arm(ctx.base),
        Arm(ctx.cand, (reg,)),
        stage_rules(spec, "canary", ctx.stats_for(reg), reg),
        drift=inputs.noise.drift,
        run_variation=inputs.noise.run_variation,
        reps=max(ctx.search_reps // 2, 100),
        seed=inputs.seed + 13,
        stop_at=inputs.risk.power,
    )
    hit = np.flatnonzero(curve >= inputs.risk.power)
    limit = f"{ctx.max_dwell / 3600:g} h"
    if hit.size:
        hours = (int(hit[0]) + 1) * interval / 3600
        return (
            f"no step detects it with {inputs.risk.power:.0%} power within {limit}; the {w:g}% "
            f"step would need {hours:.1f} h (pass --max-dwell {math.ceil(hours)}h to plan it)"
        )
    return (
        f"no step detects it with {inputs.risk.power:.0%} power within {limit}; even "
        f"{4 * ctx.max_dwell / 3600:g} h at {w:g}% reach only {curve[-1]:.0%}: at this traffic "
        "the bound is too close to the regression (a wider step list or more traffic needed)"
    )
