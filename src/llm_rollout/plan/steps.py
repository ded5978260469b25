"""The canary steps of a plan: which steps to keep, and how long each must dwell.

The risk level's step list loses the steps that cannot gather ``min_step_samples`` requests per
arm within the longest dwell (at this traffic they would judge nothing). For each reference
regression beyond a bound and each step, the detection model (:mod:`.detect`) gives the number
of checks at which the gates detect it with the risk level's power. The regression is assigned
to the first step that gets there within the dwell target, else to the step that gets there
fastest within the longest dwell; a step dwells as long as its assigned regressions need, at
least the minimum dwell and the time for its minimum samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..spec import RolloutSpec, Step
from ._arm import Arm
from .context import PlanContext, Progress
from .detect import stage_curve
from .inputs import PlanInputs
from .model import Need, StepPlan
from .planned_spec import step_section
from .risk import RiskLevel
from .rules import references, stage_rules
from .stages import canary_stage, min_samples, windows


@dataclass(frozen=True)
class SizedStep:
    weight: float  # as the step list gives it (the plan JSON writes it unchanged)
    checks: int
    section: Step  # the step as the spec holds it
    needs: tuple[Need, ...]  # what each breach regression needs at this step
    sized_for: tuple[str, ...]  # the regressions assigned to this step


@dataclass(frozen=True)
class SizedSteps:
    steps: tuple[SizedStep, ...]
    assigned: dict[str, str]  # regression label -> the step sized for it, e.g. "10%"

    def sections(self) -> list[Step]:
        return [s.section for s in self.steps]


def min_checks(risk: RiskLevel, inputs: PlanInputs, w: float, interval: float) -> int:
    """The fewest checks a step of weight ``w`` dwells: the minimum dwell, and long enough for
    ``min_step_samples`` requests per arm at the daily trough (the soak at 100%)."""
    if w >= 100:
        return max(1, math.ceil(risk.soak / interval))
    trough = inputs.rate * (1.0 - inputs.daily_cycle)
    k = max(1, math.ceil(risk.min_dwell / interval))
    for share in (w / 100.0, 1 - w / 100.0):
        k = max(k, math.ceil(risk.min_step_samples / max(trough * share * interval / 60.0, 1e-9)))
    return int(k)


def choose_steps(ctx: PlanContext) -> tuple[list[float], list[float]]:
    """The risk level's steps (or ``--steps``), without those that cannot gather their minimum
    samples within the longest dwell: ``(kept, dropped)``."""
    risk = ctx.inputs.risk
    weights = list(ctx.inputs.steps or risk.steps)
    kept: list[float] = []
    dropped: list[float] = []
    for i, w in enumerate(weights):
        later = any(x < 100 for x in weights[i + 1 :])
        if (
            w < 100
            and later
            and min_checks(risk, ctx.inputs, w, ctx.interval) * ctx.interval > ctx.max_dwell
        ):
            dropped.append(w)
            continue
        kept.append(w)
    if dropped:
        ctx.warnings.append(
            "dropped step(s) " + ", ".join(f"{w:g}%" for w in dropped) + f": at "
            f"{ctx.inputs.rate:g} requests/minute they cannot gather {risk.min_step_samples} "
            f"requests per arm within {ctx.max_dwell / 3600:g} h, too few for any gate to judge"
        )
    return kept, dropped


def provisional_steps(ctx: PlanContext, kept: list[float]) -> list[Step]:
    """One check each: enough for a draft spec (the judge's alphas do not depend on dwells)."""
    return [step_section(w, 1, ctx.interval, 1) for w in kept]


def size_steps(
    ctx: PlanContext,
    spec: RolloutSpec,
    kept: list[float],
    shadow_checks: int,
    breach: dict[str, bool],
    say: Progress,
) -> SizedSteps:
    """Each breach regression goes to the first step that detects it with the risk level's
    power within the dwell target, else to the fastest within the longest dwell."""
    risk, interval = ctx.inputs.risk, ctx.interval
    judged = [w for w in kept if w < 100]
    starts: dict[float, float] = {}
    k_los: dict[float, int] = {}
    t0 = shadow_checks * interval
    for w in kept:  # provisional start times (minimum dwells), for the daily cycle
        starts[w], k_los[w] = t0, min_checks(risk, ctx.inputs, w, interval)
        t0 += k_los[w] * interval
    k_max = max(1, math.floor(ctx.max_dwell / interval))
    needs_at: dict[float, list[Need]] = {w: [] for w in judged}
    choice: dict[str, tuple[float, int]] = {}
    base_arm = Arm(ctx.base)
    noise = ctx.inputs.noise
    for r_i, reg in enumerate(references()):
        label = reg.label()
        if not breach[label]:
            continue
        options: list[tuple[float, int]] = []
        for i, w in enumerate(judged):
            stage = canary_stage(f"{w:g}%", ctx.traffic, starts[w], k_max, interval, w)
            curve = stage_curve(
                stage,
                base_arm,
                Arm(ctx.cand, (reg,)),
                stage_rules(spec, "canary", ctx.stats_for(reg), reg),
                drift=noise.drift,
                run_variation=noise.run_variation,
                reps=ctx.search_reps,
                seed=ctx.inputs.seed + 101 * i + 7 * r_i,
                stop_at=risk.power,
            )
            hit = np.flatnonzero(curve >= risk.power)
            if not hit.size:
                needs_at[w].append(Need(label, None, None, None, float(curve[-1])))
                continue
            k = int(hit[0]) + 1
            needs_at[w].append(
                Need(
                    label, k, sum(stage.candidate[:k]), sum(stage.baseline[:k]), float(curve[k - 1])
                )
            )
            options.append((w, k))
        fast = [(w, k) for w, k in options if k * interval <= risk.target_dwell]
        if fast:
            choice[label] = fast[0]
        elif options:
            choice[label] = min(options, key=lambda o: (o[1], o[0]))
    sized: list[SizedStep] = []
    start = shadow_checks * interval
    for w in kept:
        for_here = tuple(label for label, (cw, _) in choice.items() if cw == w)
        checks = max([k_los[w], *(choice[label][1] for label in for_here)])
        stage = canary_stage(f"{w:g}%", ctx.traffic, start, checks, interval, w)
        n_min = sum(stage.candidate) if w >= 100 else min(sum(stage.candidate), sum(stage.baseline))
        section = step_section(w, checks, interval, min_samples(n_min))
        sized.append(SizedStep(w, checks, section, tuple(needs_at.get(w, ())), for_here))
        start += checks * interval
        say(f"step {w:g}%: {checks} checks")
    return SizedSteps(tuple(sized), {label: f"{w:g}%" for label, (w, _) in choice.items()})


def step_plans(ctx: PlanContext, sized: SizedSteps, shadow_checks: int) -> list[StepPlan]:
    out = []
    interval = ctx.interval
    t = shadow_checks * interval
    for step in sized.steps:
        w, k, section = step.weight, step.checks, step.section
        win = windows(ctx.traffic, t, k, interval)
        t += k * interval
        share = w / 100.0
        out.append(
            StepPlan(
                weight=w,
                checks=k,
                dwell=section.min_dwell,
                max_dwell=section.max_dwell,
                min_samples=section.min_samples,
                candidate_per_min=ctx.inputs.rate * share,
                baseline_per_min=ctx.inputs.rate * (1 - share),
                candidate_samples=sum(win) * share,
                baseline_samples=sum(win) * (1 - share),
                sized_for=step.sized_for,
                needs=step.needs,
                cost_delta_per_day=ctx.cost.per_day_full * share,
                notes=_step_notes(step, min_checks(ctx.inputs.risk, ctx.inputs, w, interval)),
            )
        )
    return out


def _step_notes(step: SizedStep, fewest: int) -> tuple[str, ...]:
    if step.weight >= 100:
        return ("no concurrent baseline: nothing to compare, a soak before promotion",)
    if step.sized_for:
        return (f"dwell sized to detect {', '.join(step.sized_for)}",)
    if step.checks == fewest:
        return ("minimum dwell: catches gross failures only",)
    return ()
