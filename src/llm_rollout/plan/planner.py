"""The planner: from two models, traffic, a risk level and a noise profile to a rollout plan.

Order of the decisions (each uses the ones before):

1. Costs (:mod:`.cost`) from prices and expected tokens: per request, the candidate / baseline
   ratio ``E``. The strict cost policy judges cost against the baseline; the tolerant one
   against ``E`` (the planned increase is accepted, cost beyond it is not) and asks an A/B step
   (:mod:`.ab_design`) to show the quality that pays for it.
2. Bounds (:mod:`.bounds`): the risk level's, raised where they do not clear the noise floor by
   a margin.
3. Steps (:mod:`.steps`): the risk level's list, without steps that cannot gather
   ``min_step_samples`` requests per arm within the longest dwell.
4. Shadow (:mod:`.shadow_phase`): sized from what its gates need to see the reference
   regressions; the risk level's minimum duration and shadow calls are a floor.
5. Dwell (:mod:`.steps`): each step as long as the regressions assigned to it need.
6. Detection (:mod:`.detections`): the probability of each reference regression by the end of
   every stage, from one Monte Carlo of the whole plan.

The spec (:mod:`.planned_spec`) is drafted with provisional phases first: the judge's alphas
depend on the phases and gates, not on their sizes, so the draft serves to size them.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from ..spec import ABStep, RolloutSpec
from .ab_design import design_ab, provisional_ab
from .bounds import choose_bounds
from .context import SEARCH_REPS, Progress, general_warnings, plan_context, strict_cost_no_go
from .detections import detections, rollout_stages
from .inputs import PlanInputs
from .model import ABPlan, Plan
from .planned_spec import planned_spec
from .rollback import plan_rollback
from .rules import is_breach, references
from .shadow_phase import (
    alerts,
    provisional_shadow,
    shadow_for,
    shadow_gaps,
    shadow_only_notes,
    shadow_plan,
    size_shadow_phase,
)
from .stages import shadow_stage
from .steps import choose_steps, provisional_steps, size_steps, step_plans


def build_plan(
    inputs: PlanInputs,
    *,
    reps: int = 2000,
    search_reps: int = SEARCH_REPS,
    progress: Progress | None = None,
) -> Plan:
    """The whole plan. Deterministic for a given ``inputs.seed``. ``reps``: Monte Carlo runs
    behind each stated detection probability; ``search_reps``: behind the dwell search."""
    say = progress or (lambda _msg: None)
    ctx = plan_context(inputs, search_reps)
    bounds = choose_bounds(inputs, ctx.cost_scale, ctx.expected_out)
    ctx.cost_no_go = strict_cost_no_go(inputs, ctx.cost, bounds)
    ctx.warnings.extend(general_warnings(ctx, bounds))
    ctx.notes.extend(f"{c.name}: {c.reason}" for c in bounds.choices() if c.raised)
    kept, dropped = choose_steps(ctx)
    ab_advised, ab_why, ab = provisional_ab(ctx)
    alert_rules = alerts(bounds)
    shadow = provisional_shadow(ctx, alert_rules)
    steps = provisional_steps(ctx, kept)

    def draft(ab: ABStep | None) -> RolloutSpec:
        return planned_spec(inputs, bounds, steps, shadow, ab)

    spec = draft(ab)
    breach = {r.label(): is_breach(r, spec, ctx.base, ctx.cand) for r in references()}
    say("sizing the shadow phase")
    sizing, unseen = size_shadow_phase(ctx, spec, breach)
    shadow = shadow_for(ctx, sizing.sample, sizing.checks, alert_rules)
    s_stage = shadow_stage(ctx.traffic, 0.0, sizing.checks, ctx.interval, sizing.sample)
    say(f"shadow: {sizing.sample:g} for {sizing.checks} checks")
    say("sizing the steps")
    sized = size_steps(ctx, spec, kept, sizing.checks, breach, say)
    steps = sized.sections()
    ab_plan = ABPlan(ab_advised, ab_why, quality_gain=inputs.quality_gain)
    if ab is not None:
        ab_plan, ab = design_ab(ctx, draft, ab, ab_why)
    spec = draft(ab)
    say("detection probabilities")
    stages = rollout_stages(ctx, s_stage, sizing.checks, sized)
    stated_at = {**sized.assigned, **dict.fromkeys(sizing.sized_for, "shadow")}
    gaps = shadow_gaps(sizing, ctx.interval, inputs.shadow_cap)
    found = detections(ctx, spec, stages, breach, stated_at, gaps, reps)
    ctx.notes.extend(shadow_only_notes(ctx, sizing, sized.assigned))
    p999 = ctx.cand.latency_ms * math.exp(NormalDist().inv_cdf(0.999) * ctx.cand.latency_sigma)
    rollback = plan_rollback(inputs.rollback, p999 / 1000.0, inputs.candidate.timeout)
    if inputs.daily_cycle > 0:
        ctx.notes.append(
            f"traffic follows a daily cycle (amplitude {inputs.daily_cycle:.0%}, peak at "
            f"{inputs.peak_hour:g}:00); dwells are planned for a start at {inputs.start_hour:g}:00 "
            f"and steps were kept only if they gather their samples at the trough "
            f"({ctx.trough:g} requests/minute). Started at another hour, a step waits for its "
            "min_samples (up to its max_dwell)."
        )
    return Plan(
        inputs=inputs,
        spec=spec,
        bounds=bounds.choices(),
        shadow=shadow_plan(ctx, sizing, shadow, s_stage, alert_rules, unseen),
        steps=tuple(step_plans(ctx, sized, sizing.checks)),
        detections=tuple(found),
        ab=ab_plan,
        cost=ctx.cost,
        rollback=rollback,
        expected_output_ratio=ctx.expected_out,
        dropped_steps=tuple(dropped),
        warnings=tuple(ctx.warnings),
        notes=tuple(ctx.notes),
        reps=reps,
        search_reps=search_reps,
    )
