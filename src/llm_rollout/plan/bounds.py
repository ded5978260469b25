"""The gate bounds and alert thresholds of a plan: the risk level's, raised where they do not
clear the noise floor by a margin.

A bound is a ratio of the candidate to the baseline. Identical models already drift apart by
up to the noise floor (``llm-rollout calibrate`` measures it), so a bound closer to 1 than the
floor plus :data:`MARGIN` would fail good candidates. Bounds are chosen relative to the
planned candidate; the spec holds them times the planned change (``spec_value``), so a
candidate that is planned to cost more or answer longer is judged against its plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ._arm import phi_cdf
from .inputs import PlanInputs
from .model import BoundChoice

MARGIN = 0.03  # a bound must exceed 1 + noise floor by at least this much
KS_CAP = 0.95  # the spec's KS bound stays below 1 (a distance of 1 is never exceeded)


@dataclass(frozen=True)
class Bounds:
    """Every bound of the plan, in the order the runbook and the plan JSON list them."""

    cost: BoundChoice
    latency_p50: BoundChoice
    latency_p99: BoundChoice
    ttft_p99: BoundChoice
    output_mean_hi: BoundChoice
    output_mean_lo: BoundChoice
    output_p99: BoundChoice
    errors: BoundChoice
    refusals: BoundChoice
    feedback: BoundChoice
    alert_cost: BoundChoice
    alert_latency: BoundChoice
    output_ks: BoundChoice

    def choices(self) -> tuple[BoundChoice, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


def _up(x: float, step: float = 0.01) -> float:
    return math.ceil(x / step - 1e-9) * step


def _choose(name: str, requested: float, floor: float, scale: float = 1.0) -> BoundChoice:
    """A ratio bound (breach above ``requested``, relative to plan) against the noise floor."""
    minimum = 1.0 + floor + MARGIN
    planned = max(requested, _up(minimum))
    moved = (
        f"raised from {requested:g}: identical models drift apart by up to {floor:.1%} "
        f"(noise floor) and a bound needs {MARGIN:.0%} on top"
    )
    return _choice(name, requested, planned, scale, floor, minimum, moved, "minimum")


def _choose_low(name: str, requested: float, floor: float, scale: float) -> BoundChoice:
    """The low end of a band (breach below ``requested``): 1 / low must clear the floor."""
    minimum = 1.0 / (1.0 + floor + MARGIN)
    planned = min(requested, math.floor(minimum * 100 + 1e-9) / 100)
    moved = (
        f"lowered from {requested:g}: the noise floor {floor:.1%} + {MARGIN:.0%} needs <= "
        f"{minimum:.3f}"
    )
    return _choice(name, requested, planned, scale, floor, minimum, moved, "maximum")


def _choice(
    name: str,
    requested: float,
    planned: float,
    scale: float,
    floor: float,
    minimum: float,
    moved: str,
    limit: str,
) -> BoundChoice:
    """The choice with its reason: why the bound moved, else the floor it clears (``limit``:
    whether ``minimum`` is the smallest or the largest bound that does)."""
    raised = planned != requested
    reason = (
        moved
        if raised
        else f"clears the noise floor {floor:.1%} + {MARGIN:.0%} margin ({limit} {minimum:.3f})"
    )
    return BoundChoice(name, requested, planned, planned * scale, floor, minimum, raised, reason)


def scaled_lognormal_ks(log_factor: float, sigma: float) -> float:
    """KS distance between a log-normal of log-sd ``sigma`` and itself scaled by
    ``exp(log_factor)`` (``log_factor >= 0``): ``2 Phi(log_factor / (2 sigma)) - 1``."""
    z = log_factor / (2.0 * sigma)
    return float(2.0 * phi_cdf(np.array([z]))[0] - 1.0)


def _choose_ks(requested: float, floor: float, sigma: float, output_scale: float) -> BoundChoice:
    """The KS bound: the distance drift alone gives, plus the margin, plus the planned shift of
    the token distribution (the spec's bound is absolute, not a ratio)."""
    ks_floor = scaled_lognormal_ks(math.log1p(floor), sigma)
    ks_min = ks_floor + MARGIN
    ks = max(requested, _up(ks_min))
    planned_shift = 0.0
    if abs(math.log(output_scale)) > 1e-9:
        planned_shift = scaled_lognormal_ks(abs(math.log(output_scale)), sigma)
    reason = (
        f"raised from {requested:g}: drift alone moves the KS distance by {ks_floor:.3f}"
        if ks > requested
        else f"clears the KS distance drift alone gives ({ks_floor:.3f}) + {MARGIN:g}"
    )
    if planned_shift > 0:
        reason += f"; plus the planned shift of the token distribution ({planned_shift:.3f})"
    spec_value = min(ks + planned_shift, KS_CAP)
    return BoundChoice(
        "output_length.ks", requested, ks, spec_value, ks_floor, ks_min, ks > requested, reason
    )


def choose_bounds(inputs: PlanInputs, cost_scale: float, output_scale: float) -> Bounds:
    """The plan's bounds; ``cost_scale`` and ``output_scale`` are the planned candidate's cost
    and completion tokens relative to the baseline's, the factors the spec's values carry."""
    b, noise = inputs.risk.bounds, inputs.noise
    return Bounds(
        cost=_choose("cost", b.cost, noise.floor("cost"), cost_scale),
        latency_p50=_choose("latency.p50", b.latency_p50, noise.floor("latency_p50")),
        latency_p99=_choose("latency.p99", b.latency_p99, noise.floor("latency_p99")),
        ttft_p99=_choose("latency.ttft_p99", b.ttft_p99, noise.floor("ttft_p99")),
        output_mean_hi=_choose(
            "output_length.mean_hi", b.output_mean[1], noise.floor("output_mean"), output_scale
        ),
        output_mean_lo=_choose_low(
            "output_length.mean_lo", b.output_mean[0], noise.floor("output_mean"), output_scale
        ),
        output_p99=_choose(
            "output_length.p99", b.output_p99, noise.floor("output_p99"), output_scale
        ),
        errors=_choose("errors.ratio", b.errors[0], noise.floor("errors")),
        refusals=_choose("refusals.ratio", b.refusals[0], noise.floor("refusals")),
        feedback=_choose("feedback.ratio", b.feedback[0], noise.floor("feedback")),
        alert_cost=_choose("alert.cost", b.alert_cost, noise.floor("cost"), cost_scale),
        alert_latency=_choose("alert.latency", b.alert_latency_p99, noise.floor("latency_p99")),
        output_ks=_choose_ks(
            b.output_ks,
            noise.floor("output_mean"),
            inputs.behaviour.completion_sigma,
            output_scale,
        ),
    )
