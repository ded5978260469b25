"""The shadow phase of a plan: the spec's shadow section, sized by :mod:`.shadow` from what its
gates need to see the reference regressions, and what it leaves to the canary steps.

For the reference regressions the shadow gates can see (all but thumbs-down: shadow calls get
no feedback), the smallest sample fraction at which they are detected with the risk level's
power within its longest shadow, for as long as the slowest of them needs; the risk level's
minimum duration and shadow calls are a floor.
"""

from __future__ import annotations

from ..spec import RolloutSpec, Shadow
from ._arm import Arm
from .bounds import Bounds
from .context import PlanContext
from .detect import Stage
from .model import ShadowPlan
from .planned_spec import Alert, shadow_section
from .rules import moved_by, references, stage_rules
from .shadow import (
    REACH,
    ShadowCase,
    ShadowModel,
    ShadowSizing,
    floor_design,
    shadow_concurrency,
    size_shadow,
)
from .stages import min_samples, shadow_stage
from .text import duration


def alerts(bounds: Bounds) -> list[Alert]:
    return [("cost", bounds.alert_cost.spec_value), ("latency", bounds.alert_latency.spec_value)]


def shadow_for(ctx: PlanContext, sample: float, checks: int, alert_rules: list[Alert]) -> Shadow:
    """The shadow section at this sample and length: its minimum shadow calls are those the
    traffic reaches with ~99.9% probability, its concurrency what the peak needs."""
    stage = shadow_stage(ctx.traffic, 0.0, checks, ctx.interval, sample)
    n_min = min_samples(sum(stage.candidate))
    peak = ctx.inputs.rate * (1.0 + ctx.inputs.daily_cycle)
    concurrency = shadow_concurrency(sample, peak, ctx.cand)
    return shadow_section(sample, checks, ctx.interval, n_min, alert_rules, concurrency)


def provisional_shadow(ctx: PlanContext, alert_rules: list[Alert]) -> Shadow:
    """The risk level's minimum shadow: enough for a draft spec (the rules' alphas depend on the
    phases and gates, not on the shadow's size)."""
    risk = ctx.inputs.risk
    sample, checks = floor_design(
        ctx.inputs.rate, risk.shadow_duration, risk.shadow_samples, ctx.interval
    )
    return shadow_for(ctx, sample, checks, alert_rules)


def _shadow_cases(
    ctx: PlanContext, spec: RolloutSpec, breach: dict[str, bool]
) -> tuple[list[ShadowCase], list[str]]:
    """The breach regressions the shadow gates can see, and those none can (thumbs-down: shadow
    calls get no feedback)."""
    cases: list[ShadowCase] = []
    unseen: list[str] = []
    for reg in references():
        label = reg.label()
        if not breach[label]:
            continue
        rules = stage_rules(spec, "shadow", ctx.stats_for(reg), reg)
        gates = tuple(moved_by(reg, rules))
        if not gates:
            unseen.append(label)
            continue
        cases.append(ShadowCase(label, Arm(ctx.cand, (reg,)), tuple(rules), gates))
    return cases, unseen


def size_shadow_phase(
    ctx: PlanContext, spec: RolloutSpec, breach: dict[str, bool]
) -> tuple[ShadowSizing, list[str]]:
    """The shadow's sample and checks from its gates' needs (:mod:`.shadow`), and the breach
    regressions it cannot see."""
    inputs, risk = ctx.inputs, ctx.inputs.risk
    cases, unseen = _shadow_cases(ctx, spec, breach)
    model = ShadowModel(
        ctx.traffic,
        ctx.interval,
        Arm(ctx.base),
        risk.power,
        inputs.noise.drift,
        inputs.noise.run_variation,
        ctx.search_reps,
        inputs.seed + 4243,  # a seed stream of its own, apart from the steps' search
    )
    sizing = size_shadow(
        model,
        cases,
        rate=inputs.rate,
        floor_duration=risk.shadow_duration,
        floor_samples=risk.shadow_samples,
        cap=inputs.shadow_cap,
    )
    ctx.warnings.extend(sizing.warnings)
    return sizing, unseen


def shadow_plan(
    ctx: PlanContext,
    sizing: ShadowSizing,
    section: Shadow,
    stage: Stage,
    alert_rules: list[Alert],
    unseen: list[str],
) -> ShadowPlan:
    inputs = ctx.inputs
    n_shadow = sum(stage.candidate)
    return ShadowPlan(
        sample=sizing.sample,
        checks=sizing.checks,
        duration=sizing.checks * ctx.interval,
        min_samples=section.min_samples,
        candidate_samples=n_shadow,
        baseline_samples=sum(stage.baseline),
        alerts=tuple(alert_rules),
        spend_per_day=sizing.sample * ctx.cost.requests_per_day * ctx.cost.candidate_per_request,
        spend_phase=n_shadow * ctx.cost.candidate_per_request,
        max_duration=inputs.shadow_cap,
        floor_duration=inputs.risk.shadow_duration,
        floor_samples=inputs.risk.shadow_samples,
        needs=sizing.needs,
        sized_for=sizing.sized_for,
        driven_by=sizing.driven_by,
        not_judged=tuple(unseen),
        max_concurrency=section.max_concurrency,
    )


def shadow_gaps(sizing: ShadowSizing, interval: float, cap: float) -> dict[str, str]:
    """Why the shadow does not state a regression it can see: what a 100% mirror would need."""
    out = {}
    for n in sizing.needs:
        if n.regression in sizing.sized_for:
            continue
        need = (
            f"a 100% mirror would need {duration(n.full_mirror_checks * interval)}"
            if n.full_mirror_checks is not None
            else f"a 100% mirror needs more than {duration(REACH * cap)}"
        )
        out[n.regression] = f"not in shadow ({need}, longest shadow {duration(cap)})"
    return out


def shadow_only_notes(
    ctx: PlanContext, sizing: ShadowSizing, at_steps: dict[str, str]
) -> list[str]:
    """A regression only the shadow is sized for: a later onset would meet no step sized for
    it, which the runbook should say."""
    return [
        f"{label}: the shadow phase is sized to detect it; no canary step detects it "
        f"with {ctx.inputs.risk.power:.0%} power within "
        f"{ctx.max_dwell / 3600:g} h, so one that appears after the shadow phase is "
        "caught late or not at all"
        for label in sizing.sized_for
        if label not in at_steps
    ]
