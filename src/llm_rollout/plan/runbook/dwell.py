"""The "How long each step must dwell" section: the detection model, and what each step needs for
each reference regression."""

from __future__ import annotations

import math

import numpy as np

from ...spec import GateName
from ...stats import mixture_radius
from .._arm import Arm
from ..model import Plan, StepPlan
from ..text import count, duration, pct, table


def dwell_section(plan: Plan) -> list[str]:
    return [
        *_method(plan),
        "",
        "Dwell each step needs for each regression (candidate / baseline "
        "samples; bold: the step sized for it):",
        "",
        _needs_table(plan),
    ]


def _method(plan: Plan) -> list[str]:
    i = plan.inputs
    lines = [
        "A sequential gate FAILs at the first check where its **whole anytime-valid interval** "
        "lies beyond the bound, so the fixed-sample `z` formula does not apply: the interval at "
        "`n` is the confidence sequence's, wider than a fixed-`n` interval because it holds at "
        "every check at once, and the gate gets a look every check interval. For a step of "
        "weight `w` at `R` requests/minute the candidate gets `w R` and the baseline `(1 - w) R` "
        f"requests per minute, a check every {duration(plan.spec.check_interval)}.",
        "",
        "For each reference regression and step the planner computes the probability that some "
        f"check up to `k` FAILs, for `k = 1, 2, ...`, by Monte Carlo ({plan.reps} runs; "
        f"{plan.search_reps} for the search) over the windows' summary statistics, not their "
        "requests: per window the request count (Poisson), each arm's drift factor per metric "
        "family, the sampling error of the window's sums (normal, exact per-request variance, "
        "cost and tokens correlated), counts in 2% cells of the latency and token axes (for "
        "quantiles and the KS distance) and binomial counts for rates. At every check it applies "
        "the judge's own interval, built with the stats package: the Gaussian-mixture radius with"
        " Hall's skewness correction for means, the beta-binomial ranks for quantiles, the beta-"
        "binomial mixture for rates, the time-uniform DKW radius for the KS distance, each arm at"
        " half the statistic's alpha (the gate's alpha split over its statistics). The step's "
        "**dwell is the smallest `k` with probability >= the power** times the check interval; "
        "the regression is assigned to the first step that gets there within the dwell target "
        f"({duration(i.risk.target_dwell)}), else to the fastest step within the longest dwell.",
        "",
        "Assumptions: the regression is present from the step's start; arrivals are Poisson at "
        "the planned rate; requests are independent, with log-normal latency and token counts "
        "(the simulator's model; token rounding ignored); each arm drifts by a factor uniform in "
        f"+-{i.noise.drift:.1%} per window and +-{i.noise.run_variation:.1%} per run; only the "
        "statistics the regression moves count as detection (other gates' false alarms, at most "
        "alpha in total, only add to it).",
    ]
    cost = next((d for d in plan.detections if d.regression.startswith("cost=")), None)
    # The step sized for the cost regression, even when the shadow is where it is stated
    step = next((s for s in plan.steps if cost is not None and cost.label in s.sized_for), None)
    if cost is not None and step is not None:
        lines += ["", _cost_example(plan, step)]
    return lines


def _cost_example(plan: Plan, step: StepPlan) -> str:
    """The cost gate's interval width at its sized step, as a worked number."""
    base, cand = plan.inputs.profiles()
    alpha = plan.spec.gate_alpha(GateName.COST) / 2
    widths = []
    for prof, n in ((cand, step.candidate_samples), (base, step.baseline_samples)):
        arm = Arm(prof)
        raw, _ = arm.cost_moments(np.ones(1), np.ones(1))
        cv = math.sqrt(max(float(raw[1][0] - raw[0][0] ** 2), 0.0)) / float(raw[0][0])
        c = float(mixture_radius(np.array([n]), alpha)[0])
        widths.append((cv, c, c * cv / math.sqrt(max(n, 1.0))))
    (cv_c, c_c, w_c), (_, _, w_b) = widths
    bound = plan.spec.gates.cost.bound / max(plan.cost.ratio, 1e-12)
    margin = math.log(1.25 / bound)
    return (
        f"Worked number (cost gate at {step.weight:g}%): per-request cost has a coefficient of "
        f"variation of {cv_c:.2f}; at alpha/2 = {alpha:.2g} the mixture radius is c = {c_c:.2f} "
        f"standard errors, so after {count(step.candidate_samples)} candidate and "
        f"{count(step.baseline_samples)} baseline requests each arm's mean is known to "
        f"+-{w_c:.1%} and +-{w_b:.1%}. A candidate 1.25x its plan against a bound of "
        f"{bound:.2f}x leaves log(1.25 / {bound:.2f}) = {margin:.3f} for those widths and the "
        "drift between the arms; that is why this step dwells "
        f"{duration(step.dwell)}."
    )


def _needs_table(plan: Plan) -> str:
    judged = [s for s in plan.steps if s.weight < 100]
    labels = [d.label for d in plan.detections if d.breach]
    rows = []
    for label in labels:
        row = [label]
        for s in judged:
            need = next((n for n in s.needs if n.regression == label), None)
            if need is None:
                row.append("(sized earlier)")
            elif need.checks is None:
                row.append(
                    f"> {duration(plan.inputs.max_dwell or plan.inputs.risk.max_dwell)} "
                    f"({pct(need.power, 0)})"
                )
            else:
                mark = "**" if label in s.sized_for else ""
                row.append(
                    f"{mark}{duration(need.checks * plan.spec.check_interval)}{mark}: "
                    f"{count(need.candidate_samples)} / {count(need.baseline_samples)}"
                )
        rows.append(row)
    return table(["regression", *(f"{s.weight:g}%" for s in judged)], rows)
