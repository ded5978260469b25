"""What every phase of planning reads (inputs, profiles, traffic, costs), and the warnings and
notes the phases collect on the way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..profile import ModelProfile
from ..sim.regression import Regression
from ..sim.traffic import Traffic
from ._arm import expected_completion
from .bounds import Bounds
from .cost import cost_plan, cost_scale
from .inputs import PlanInputs
from .model import CostPlan
from .rules import AFFECTS
from .stages import traffic_of

SEARCH_REPS = 1000  # Monte Carlo runs behind each search (dwell, shadow sample)
Progress = Callable[[str], None]


@dataclass
class PlanContext:
    """What every phase of planning reads, and the warnings and notes the phases collect."""

    inputs: PlanInputs
    cost: CostPlan
    base: ModelProfile
    cand: ModelProfile
    traffic: Traffic
    max_dwell: float
    expected_out: float  # the candidate's expected completion tokens / the baseline's
    cost_scale: float  # what the spec's cost bounds are relative to (see cost.cost_scale)
    search_reps: int = SEARCH_REPS
    cost_no_go: bool = False  # strict policy, planned cost beyond the bound: fails regardless
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def interval(self) -> float:
        return self.inputs.risk.check_interval

    @property
    def trough(self) -> float:
        return self.inputs.rate * (1.0 - self.inputs.daily_cycle)

    def stats_for(self, reg: Regression | None) -> frozenset[str]:
        """The statistics that differ between the arms: the regression's and the plan's."""
        out: set[str] = set(AFFECTS[reg.metric]) if reg is not None else set()
        if abs(self.cost.ratio - 1.0) > 1e-9 and not self.cost_no_go:
            out.add("cost")
        if self.cost_no_go and (reg is None or "cost" not in AFFECTS[reg.metric]):
            # The cost gate fails on the candidate as planned: it would "detect" everything.
            # Size and report the other gates as if cost were allowed.
            out.discard("cost")
        if abs(self.expected_out - 1.0) > 1e-9:
            out |= {"output_mean", "output", "output_ks", "cost"}
        return frozenset(out)


def plan_context(inputs: PlanInputs, search_reps: int = SEARCH_REPS) -> PlanContext:
    base, cand = inputs.profiles()
    cost = cost_plan(inputs)
    ctx = PlanContext(
        inputs,
        cost,
        base,
        cand,
        traffic_of(inputs),
        inputs.max_dwell or inputs.risk.max_dwell,
        expected_completion(cand) / expected_completion(base),
        cost_scale(inputs, cost),
        search_reps,
    )
    if inputs.cost_policy == "tolerant" and cost.ratio <= 1.0:
        ctx.notes.append(
            "the candidate is not more expensive: the tolerant policy is the strict one"
        )
    return ctx


def strict_cost_no_go(inputs: PlanInputs, cost: CostPlan, bounds: Bounds) -> bool:
    """Under the strict policy, a candidate planned beyond the cost bound fails regardless."""
    return inputs.cost_policy == "strict" and cost.ratio > bounds.cost.planned


def general_warnings(ctx: PlanContext, bounds: Bounds) -> list[str]:
    """Warnings about the inputs themselves, before any phase is sized."""
    inputs = ctx.inputs
    out = []
    if ctx.cost_no_go:
        out.append(
            f"no-go under the strict cost policy: the candidate is planned at "
            f"{ctx.cost.ratio:.2f}x the baseline's cost per request, beyond the cost bound "
            f"{bounds.cost.planned:g}; this spec rolls it back in shadow. Use --cost-policy "
            "tolerant to judge it against its planned cost and decide on quality in an A/B step."
        )
    if inputs.noise_assumed:
        out.append(
            "no noise profile given: bounds are checked against the simulator's default "
            "non-determinism (+-7% per arm and window, +-2% per run). Measure yours with "
            "llm-rollout calibrate and pass --noise."
        )
    if not inputs.noise_assumed and inputs.noise.model is None:
        out.append(
            "the noise profile is not tied to a model (a generic simulation): it is assumed to "
            "describe the baseline; calibrate with --model to have the planner check it"
        )
    if inputs.behaviour_assumed:
        out.append(
            "baseline behaviour (latency, error, refusal and thumbs-down rates) is assumed from "
            "the defaults: a calibrated noise profile carries the measured levels."
        )
    return out
