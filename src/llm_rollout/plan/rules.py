"""From a rollout spec to the FAIL rules the judge applies in each phase, with the judge's alphas,
and the reference regressions the plan is sized for."""

from __future__ import annotations

import math
from dataclasses import replace

from ..profile import ModelProfile
from ..sim.regression import Regression, parse_regression
from ..spec import GateName, RolloutSpec
from ._arm import expected_completion, expected_cost
from .detect import Rule

TAIL_QUANTILE = 0.98  # p99_latency scales the slowest 2% only

# The regressions every plan is checked against (and `plan --verify` simulates).
REFERENCE: tuple[str, ...] = (
    "cost=1.25",
    "p99_latency=2",
    "refusals=3",
    "thumbs_down=2",
    "output_length=1.5",
)

# Which statistics a regression of each metric moves (the others stay as in an A/A).
AFFECTS: dict[str, frozenset[str]] = {
    "cost": frozenset({"cost"}),
    "latency": frozenset({"latency"}),
    "p99_latency": frozenset({"latency"}),
    "ttft": frozenset({"ttft"}),
    "errors": frozenset({"errors", "cost"}),
    "refusals": frozenset({"refusals"}),
    "thumbs_down": frozenset({"feedback"}),
    "output_length": frozenset({"output_mean", "output", "output_ks", "cost"}),
}


def references() -> list[Regression]:
    return [parse_regression(text) for text in REFERENCE]


def is_breach(reg: Regression, spec: RolloutSpec, base: ModelProfile, cand: ModelProfile) -> bool:
    """Is the reference regression beyond a bound of the spec (the spec's bounds are absolute:
    they already include the planned change)?"""
    g = spec.gates
    f = reg.factor
    cost_b = expected_cost(base)
    if reg.metric == "cost":
        return expected_cost(cand) * f / cost_b > g.cost.bound
    if reg.metric == "p99_latency":
        return g.latency.p99 is not None and f > g.latency.p99
    if reg.metric == "latency":
        return any(b is not None and f > b for b in (g.latency.p50, g.latency.p99))
    if reg.metric == "refusals":
        p = base.refusal_rate
        return f * p > g.refusals.ratio * p + g.refusals.floor
    if reg.metric == "errors":
        p = base.error_rate
        return f * p > g.errors.ratio * p + g.errors.floor
    if reg.metric == "thumbs_down":
        p = base.thumbs_down_rate
        return f * p > g.feedback.ratio * p + g.feedback.floor
    if reg.metric == "output_length":
        longer = replace(cand, completion_tokens=cand.completion_tokens * f)
        ratio = expected_completion(longer) / expected_completion(base)
        lo, hi = g.output_length.mean or (0.0, math.inf)
        return ratio > hi or ratio < lo or expected_cost(longer) / cost_b > g.cost.bound
    return False


def gate_rules(spec: RolloutSpec, phase: str) -> list[Rule]:
    """Every gate statistic's FAIL rule in a phase (``shadow`` skips the feedback gate)."""
    g = spec.gates
    enabled = g.enabled()
    rules: list[Rule] = []
    if GateName.LATENCY in enabled:
        lat = g.latency
        wanted = [(p, b) for p, b in ((0.5, lat.p50), (0.95, lat.p95), (0.99, lat.p99)) if b]
        count = len(wanted) + (lat.ttft_p99 is not None)
        a = spec.gate_alpha(GateName.LATENCY) / count
        rules += [
            Rule("latency", "above", b, a, p=p, label=f"latency p{p * 100:g}") for p, b in wanted
        ]
        if lat.ttft_p99 is not None:
            rules.append(Rule("ttft", "above", lat.ttft_p99, a, p=0.99, label="ttft p99"))
    if GateName.COST in enabled:
        alpha = spec.gate_alpha(GateName.COST)
        rules.append(Rule("cost", "above", g.cost.bound, alpha, label="cost"))
    # The rate gates' detection statistics carry the gates' own names.
    for name in ("errors", "refusals", "feedback"):
        if name not in enabled or (name == GateName.FEEDBACK and phase == "shadow"):
            continue
        gate = getattr(g, name)
        rules.append(
            Rule(name, "excess", gate.floor, spec.gate_alpha(name), ratio=gate.ratio, label=name)
        )
    if GateName.OUTPUT_LENGTH in enabled:
        out = g.output_length
        count = sum(x is not None for x in (out.mean, out.p99, out.ks))
        a = spec.gate_alpha(GateName.OUTPUT_LENGTH) / max(count, 1)
        if out.mean is not None:
            lo, hi = out.mean
            rules.append(Rule("output_mean", "outside", lo, a, bound_hi=hi, label="output mean"))
        if out.p99 is not None:
            rules.append(Rule("output", "above", out.p99, a, p=0.99, label="output p99"))
        if out.ks is not None:
            rules.append(Rule("output_ks", "above", out.ks, a, label="output KS"))
    return rules


def alert_rules(spec: RolloutSpec) -> list[Rule]:
    """The shadow alert rules (judged with the sequential margin rule at the alert alpha)."""
    if not spec.shadow.enabled:
        return []
    a = spec.alert_alpha()
    out = []
    for rule in spec.shadow.alerts:
        label = f"alert {rule.gate}"
        if rule.gate == "cost":
            out.append(Rule("cost", "above", rule.above, a, label=label))
        elif rule.gate == "latency":
            out.append(Rule("latency", "above", rule.above, a, p=0.99, label=label))
        elif rule.gate == "output_length":
            out.append(Rule("output_mean", "above", rule.above, a, label=label))
        else:
            out.append(Rule(rule.gate, "rate_ratio", rule.above, a, label=label))
    return out


def stage_rules(
    spec: RolloutSpec, phase: str, stats: frozenset[str], regression: Regression | None = None
) -> list[Rule]:
    """The rules of a phase restricted to the statistics in ``stats`` (and, for a tail-only
    latency regression, to the tail quantiles: the median does not move)."""
    rules = gate_rules(spec, phase) + (alert_rules(spec) if phase == "shadow" else [])
    out = [r for r in rules if r.stat in stats]
    if regression is not None and regression.metric == "p99_latency":
        out = [r for r in out if r.stat != "latency" or r.p >= TAIL_QUANTILE]
    return out


def moved_by(regression: Regression, rules: list[Rule]) -> list[str]:
    """Labels of the rules a regression moves (for the report)."""
    stats = AFFECTS[regression.metric]
    return sorted({r.label for r in rules if r.stat in stats})
