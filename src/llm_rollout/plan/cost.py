"""What the candidate costs against the baseline, per request and per day, from the registry
prices and the expected tokens."""

from __future__ import annotations

import math

from ._arm import expected_cost
from .inputs import PlanInputs
from .model import CostPlan


def cost_plan(inputs: PlanInputs) -> CostPlan:
    base, cand = inputs.profiles()
    cb, cc = expected_cost(base), expected_cost(cand)
    per_day = inputs.rate * 1440.0
    return CostPlan(cb, cc, cc / cb if cb > 0 else math.inf, (cc - cb) * per_day, per_day)


def cost_scale(inputs: PlanInputs, cost: CostPlan) -> float:
    """What the spec's cost bounds are relative to: the baseline's cost (strict policy), or the
    candidate's planned cost when it is higher (tolerant: the planned increase is accepted, cost
    beyond it is not)."""
    return max(cost.ratio, 1.0) if inputs.cost_policy == "tolerant" else 1.0
