"""Whether a plan needs an A/B step after the canary, and its design.

A candidate whose cost or behaviour differs beyond the noise floor gets an A/B step on
thumbs-down: the tolerant cost policy accepts a higher cost only if quality improves
(superiority), and a distinctly different candidate must leave users no worse off
(non-inferiority). Its duration comes from :mod:`.ab`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..spec import ABStep, RolloutSpec
from .ab import ab_duration
from .context import PlanContext
from .inputs import PlanInputs
from .model import ABPlan
from .planned_spec import ab_section


def ab_advice(inputs: PlanInputs, ratio: float, expected_out: float) -> tuple[bool, str]:
    """``(advised, why)`` for a candidate at ``ratio`` times the baseline's cost per request
    and ``expected_out`` times its completion tokens."""
    floor_cost = inputs.noise.floor("cost")
    floor_out = inputs.noise.floor("output_mean")
    if inputs.cost_policy == "tolerant" and ratio > 1.0 + floor_cost:
        return True, (
            f"the candidate's cost curve differs: {ratio:.2f}x per request, beyond the noise "
            f"floor ({floor_cost:.1%}). The tolerant policy accepts that cost only if quality "
            "improves: an A/B step must show fewer thumbs-down (superiority) before promotion."
        )
    if abs(math.log(expected_out)) > math.log1p(floor_out):
        return True, (
            f"the candidate behaves distinctly: {expected_out:.2f}x the completion tokens, "
            f"beyond the noise floor ({floor_out:.1%}). An A/B step checks that users are no "
            "worse off (non-inferiority on thumbs-down, margin 2%)."
        )
    if inputs.cost_policy == "tolerant":
        return False, "not needed: the candidate costs what the baseline costs (within noise)"
    return False, (
        "not advised: cost and behaviour stay within the noise floor of the baseline, so the "
        "canary gates decide (an A/B adds a phase and its share of alpha for no question)"
    )


def provisional_ab(ctx: PlanContext) -> tuple[bool, str, ABStep | None]:
    """``(advised, why, step)``: an advised A/B step lasts one check until it is designed."""
    advised, why = ab_advice(ctx.inputs, ctx.cost.ratio, ctx.expected_out)
    if not advised:
        return False, why, None
    return True, why, ab_section(ctx.inputs.cost_policy == "tolerant", ctx.interval)


def design_ab(
    ctx: PlanContext, draft: Callable[[ABStep | None], RolloutSpec], ab: ABStep, why: str
) -> tuple[ABPlan, ABStep | None]:
    """The A/B step's duration for the risk level's power; ``None`` for the spec's step when it
    would take longer than the risk level allows (the spec then has no A/B step)."""
    inputs = ctx.inputs
    risk = inputs.risk
    noise = inputs.noise
    seconds, n_arm, power = ab_duration(
        draft(ab),
        ab,
        ctx.base,
        inputs.quality_gain,
        traffic_rate=inputs.rate,
        drift=noise.drift,
        run_variation=noise.run_variation,
        power=risk.power,
        max_duration=risk.ab_max_duration,
        seed=inputs.seed,
    )
    if seconds is None:
        ctx.warnings.append(
            f"the A/B step would need more than {risk.ab_max_duration / 86400:g} days to "
            f"confirm a {inputs.quality_gain:.0%} thumbs-down reduction at {inputs.rate:g} "
            "requests/minute: left out of the spec; decide on cost alone (strict) or accept the "
            "cost without proof of quality"
        )
        ctx.notes.append("the spec has no A/B step, so each phase's alpha is a little larger")
        return _ab_plan(ab, why, None, None, power, inputs.quality_gain), None
    designed = ab_section(inputs.cost_policy == "tolerant", seconds)
    return _ab_plan(designed, why, seconds, n_arm, power, inputs.quality_gain), designed


def _ab_plan(
    ab: ABStep,
    why: str,
    seconds: float | None,
    n_arm: float | None,
    power: float,
    gain: float,
) -> ABPlan:
    return ABPlan(
        True,
        why,
        "feedback",
        ab.rule.value,
        ab.weight,
        ab.margin,
        seconds,
        n_arm,
        power,
        gain,
        seconds is not None,
    )
