"""The rollout spec a plan writes, built from typed sections of :mod:`llm_rollout.spec`.

The planner drafts the spec more than once: the judge's alphas depend on the phases and gates
(not on their sizes), so a draft with provisional phases serves to size them, and the final
spec holds the sized ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ..spec import (
    ABStep,
    AlertRule,
    CostGate,
    Decision,
    FeedbackGate,
    Gates,
    LatencyGate,
    OnInconclusive,
    OutputLengthGate,
    RateGate,
    Require,
    RolloutSpec,
    Shadow,
    Step,
    parse_spec,
)
from .bounds import Bounds
from .inputs import PlanInputs
from .risk import RiskLevel

Alert = tuple[Literal["cost", "latency"], float]  # (gate, above) of a shadow alert rule
AB_WEIGHT = 50  # the A/B step's candidate share, percent


def planned_gates(bounds: Bounds, risk: RiskLevel) -> Gates:
    """The gates at the planned bounds. Output-length bounds stay off 1 (the spec wants a band
    around 1 and a P99 ratio above it); rounded values are written with 4 decimals."""
    out = bounds.output_mean_lo, bounds.output_mean_hi
    return Gates(
        latency=LatencyGate(
            p50=bounds.latency_p50.spec_value,
            p95=None,
            p99=bounds.latency_p99.spec_value,
            ttft_p99=bounds.ttft_p99.spec_value,
        ),
        cost=CostGate(bound=round(bounds.cost.spec_value, 4)),
        errors=RateGate(ratio=bounds.errors.planned, floor=risk.bounds.errors[1]),
        refusals=RateGate(ratio=bounds.refusals.planned, floor=risk.bounds.refusals[1]),
        output_length=OutputLengthGate(
            mean=(round(min(out[0].spec_value, 0.99), 4), round(max(out[1].spec_value, 1.01), 4)),
            p99=round(max(bounds.output_p99.spec_value, 1.01), 4),
            ks=round(bounds.output_ks.spec_value, 4),
        ),
        feedback=FeedbackGate(ratio=bounds.feedback.planned, floor=risk.bounds.feedback[1]),
    )


def shadow_section(
    sample: float,
    checks: int,
    interval: float,
    min_samples: int,
    alerts: Sequence[Alert],
    concurrency: int,
) -> Shadow:
    """The shadow phase: ``checks`` check intervals, at most three times as long."""
    return Shadow(
        enabled=True,
        sample=sample,
        max_concurrency=concurrency,
        min_duration=checks * interval,
        min_samples=min_samples,
        max_duration=3 * checks * interval,
        alerts=tuple(AlertRule(gate=gate, above=round(above, 4)) for gate, above in alerts),
    )


def step_section(weight: float, checks: int, interval: float, min_samples: int) -> Step:
    """A canary step dwelling ``checks`` check intervals; ``max_dwell`` leaves room for twice
    that and two more checks before an inconclusive step holds."""
    dwell = checks * interval
    return Step(
        weight=weight,
        min_dwell=dwell,
        min_samples=min_samples,
        max_dwell=2 * dwell + 2 * interval,
    )


def ab_section(tolerant: bool, duration: float) -> ABStep:
    """The A/B step on thumbs-down: the tolerant policy asks the candidate to be better (the
    quality that pays for its cost), the strict one only no worse than 2%."""
    return ABStep(
        weight=AB_WEIGHT,
        duration=duration,
        metric="feedback",
        rule=Decision.SUPERIORITY if tolerant else Decision.NON_INFERIORITY,
        margin=0.0 if tolerant else 0.02,
        on_inconclusive="rollback",
    )


def planned_spec(
    inputs: PlanInputs,
    bounds: Bounds,
    steps: Sequence[Step],
    shadow: Shadow,
    ab: ABStep | None,
) -> RolloutSpec:
    """The whole spec. Its sections are typed already; the top level goes through
    :func:`~llm_rollout.spec.parse_spec` so a name the spec refuses (``--name``) is reported as
    every spec problem is, by field."""
    risk = inputs.risk
    return parse_spec(
        {
            "name": inputs.name,
            "baseline": inputs.baseline.ref,
            "candidate": inputs.candidate.ref,
            "alpha": risk.alpha,
            "check_interval": risk.check_interval,
            "require": Require.NO_BREACH,
            "on_inconclusive": OnInconclusive.HOLD,
            "shadow": shadow,
            "steps": tuple(steps),
            "gates": planned_gates(bounds, risk),
            "ab": ab,
        },
        "planned spec",
    )
