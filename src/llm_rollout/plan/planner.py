"""The planner: from two models, traffic, a risk level and a noise profile to a rollout plan.

Order of the decisions (each uses the ones before):

1. Costs from prices and expected tokens: per request, the candidate / baseline ratio ``E``.
   The strict cost policy judges cost against the baseline; the tolerant one against ``E``
   (the planned increase is accepted, cost beyond it is not) and asks an A/B step to show the
   quality that pays for it.
2. Bounds: the risk level's, raised where they do not clear the noise floor by a margin.
3. Steps: the risk level's list, without steps that cannot gather ``min_step_samples``
   requests per arm within the longest dwell (at this traffic they would judge nothing).
4. Shadow (:mod:`.shadow`): for the reference regressions the shadow gates can see (all but
   thumbs-down), the smallest sample fraction at which they are detected with the risk level's
   power within its longest shadow, and the duration the slowest of them needs; the risk
   level's minimum duration and shadow calls are a floor.
5. Dwell: for each reference regression beyond a bound and each step, the number of checks
   at which the gates detect it with the risk level's power (:mod:`.detect`). The regression
   is assigned to the first step that gets there within the dwell target, else to the step
   that gets there fastest within the longest dwell; a step dwells as long as its assigned
   regressions need, at least the minimum dwell and the time for its minimum samples.
6. The detection probability of each reference regression by the end of every stage, for a
   regression present from the start (shadow first), from one Monte Carlo of the whole plan.
   It is stated at the shadow phase when the shadow is sized for the regression, else at the
   step sized for it. The steps keep their own sizing either way: a regression the shadow
   misses, or one that appears only later, still meets a step that detects it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import Any

import numpy as np

from ..profile import ModelProfile
from ..sim.regression import Regression
from ..sim.traffic import Traffic
from ..spec import RolloutSpec, parse_spec
from ._arm import Arm, expected_completion, expected_cost, phi_cdf
from .ab import ab_duration
from .detect import Stage, rollout_curve, stage_curve
from .inputs import PlanInputs
from .model import (
    ABPlan,
    BoundChoice,
    CostPlan,
    Detection,
    Need,
    Plan,
    ShadowPlan,
    StepPlan,
)
from .risk import RiskLevel
from .rollback import plan_rollback
from .rules import AFFECTS, moved_by, references, stage_rules
from .shadow import (
    REACH,
    ShadowCase,
    ShadowModel,
    ShadowSizing,
    floor_design,
    shadow_concurrency,
    size_shadow,
)
from .stages import canary_stage, min_samples, shadow_stage, traffic_of, windows
from .text import duration

MARGIN = 0.03  # a bound must exceed 1 + noise floor by at least this much
SEARCH_REPS = 1000
Progress = Callable[[str], None]


# --- costs ------------------------------------------------------------------------------------


def cost_plan(inputs: PlanInputs) -> CostPlan:
    base, cand = inputs.profiles()
    cb, cc = expected_cost(base), expected_cost(cand)
    per_day = inputs.rate * 1440.0
    return CostPlan(cb, cc, cc / cb if cb > 0 else math.inf, (cc - cb) * per_day, per_day)


# --- bounds -----------------------------------------------------------------------------------


def _up(x: float, step: float = 0.01) -> float:
    return math.ceil(x / step - 1e-9) * step


def _choose(name: str, requested: float, floor: float, scale: float = 1.0) -> BoundChoice:
    """A ratio bound (breach above ``requested``, relative to plan) against the noise floor."""
    minimum = 1.0 + floor + MARGIN
    planned = max(requested, _up(minimum))
    raised = planned > requested
    reason = (
        f"raised from {requested:g}: identical models drift apart by up to {floor:.1%} "
        f"(noise floor) and a bound needs {MARGIN:.0%} on top"
        if raised
        else f"clears the noise floor {floor:.1%} + {MARGIN:.0%} margin (minimum {minimum:.3f})"
    )
    return BoundChoice(name, requested, planned, planned * scale, floor, minimum, raised, reason)


def _choose_low(name: str, requested: float, floor: float, scale: float) -> BoundChoice:
    """The low end of a band (breach below ``requested``): 1 / low must clear the floor."""
    minimum = 1.0 / (1.0 + floor + MARGIN)
    planned = min(requested, math.floor(minimum * 100 + 1e-9) / 100)
    raised = planned < requested
    reason = (
        f"lowered from {requested:g}: the noise floor {floor:.1%} + {MARGIN:.0%} needs <= "
        f"{minimum:.3f}"
        if raised
        else f"clears the noise floor {floor:.1%} + {MARGIN:.0%} margin (maximum {minimum:.3f})"
    )
    return BoundChoice(name, requested, planned, planned * scale, floor, minimum, raised, reason)


def _ks_floor(floor: float, sigma: float) -> float:
    """KS distance between a log-normal and itself scaled by ``1 + floor``."""
    z = math.log1p(floor) / (2.0 * sigma)
    return float(2.0 * phi_cdf(np.array([z]))[0] - 1.0)


def choose_bounds(
    inputs: PlanInputs, cost_scale: float, output_scale: float, ks_expected: float
) -> dict[str, BoundChoice]:
    b, noise = inputs.risk.bounds, inputs.noise
    sigma = inputs.behaviour.completion_sigma
    out = {
        "cost": _choose("cost", b.cost, noise.floor("cost"), cost_scale),
        "latency.p50": _choose("latency.p50", b.latency_p50, noise.floor("latency_p50")),
        "latency.p99": _choose("latency.p99", b.latency_p99, noise.floor("latency_p99")),
        "latency.ttft_p99": _choose("latency.ttft_p99", b.ttft_p99, noise.floor("ttft_p99")),
        "output_length.mean_hi": _choose(
            "output_length.mean_hi", b.output_mean[1], noise.floor("output_mean"), output_scale
        ),
        "output_length.mean_lo": _choose_low(
            "output_length.mean_lo", b.output_mean[0], noise.floor("output_mean"), output_scale
        ),
        "output_length.p99": _choose(
            "output_length.p99", b.output_p99, noise.floor("output_p99"), output_scale
        ),
        "errors.ratio": _choose("errors.ratio", b.errors[0], noise.floor("errors")),
        "refusals.ratio": _choose("refusals.ratio", b.refusals[0], noise.floor("refusals")),
        "feedback.ratio": _choose("feedback.ratio", b.feedback[0], noise.floor("feedback")),
        "alert.cost": _choose("alert.cost", b.alert_cost, noise.floor("cost"), cost_scale),
        "alert.latency": _choose("alert.latency", b.alert_latency_p99, noise.floor("latency_p99")),
    }
    ks_floor = _ks_floor(noise.floor("output_mean"), sigma)
    ks_min = ks_floor + MARGIN
    ks = max(b.output_ks, _up(ks_min))
    ks_reason = (
        f"raised from {b.output_ks:g}: drift alone moves the KS distance by {ks_floor:.3f}"
        if ks > b.output_ks
        else f"clears the KS distance drift alone gives ({ks_floor:.3f}) + {MARGIN:g}"
    )
    if ks_expected > 0:
        ks_reason += f"; plus the planned shift of the token distribution ({ks_expected:.3f})"
    out["output_length.ks"] = BoundChoice(
        "output_length.ks",
        b.output_ks,
        ks,
        min(ks + ks_expected, 0.95),
        ks_floor,
        ks_min,
        ks > b.output_ks,
        ks_reason,
    )
    return out


# --- spec -------------------------------------------------------------------------------------


def _spec_doc(
    inputs: PlanInputs,
    bounds: dict[str, BoundChoice],
    steps: list[dict[str, Any]],
    shadow: dict[str, Any],
    ab: dict[str, Any] | None,
) -> dict[str, Any]:
    risk = inputs.risk
    return {
        "name": inputs.name,
        "baseline": inputs.baseline.ref,
        "candidate": inputs.candidate.ref,
        "alpha": risk.alpha,
        "check_interval": risk.check_interval,
        "require": "no-breach",
        "on_inconclusive": "hold",
        "shadow": shadow,
        "steps": steps,
        "gates": {
            "latency": {
                "p50": bounds["latency.p50"].spec_value,
                "p95": None,
                "p99": bounds["latency.p99"].spec_value,
                "ttft_p99": bounds["latency.ttft_p99"].spec_value,
            },
            "cost": {"bound": round(bounds["cost"].spec_value, 4)},
            "errors": {"ratio": bounds["errors.ratio"].planned, "floor": risk.bounds.errors[1]},
            "refusals": {
                "ratio": bounds["refusals.ratio"].planned,
                "floor": risk.bounds.refusals[1],
            },
            "output_length": {
                "mean": [
                    round(min(bounds["output_length.mean_lo"].spec_value, 0.99), 4),
                    round(max(bounds["output_length.mean_hi"].spec_value, 1.01), 4),
                ],
                "p99": round(max(bounds["output_length.p99"].spec_value, 1.01), 4),
                "ks": round(bounds["output_length.ks"].spec_value, 4),
            },
            "feedback": {
                "ratio": bounds["feedback.ratio"].planned,
                "floor": risk.bounds.feedback[1],
            },
        },
        "ab": ab,
    }


def _shadow_doc(
    sample: float,
    checks: int,
    interval: float,
    n_min: int,
    alerts: list[tuple[str, float]],
    concurrency: int,
) -> dict[str, Any]:
    return {
        "enabled": True,
        "sample": sample,
        "max_concurrency": concurrency,
        "min_duration": checks * interval,
        "min_samples": n_min,
        "max_duration": 3 * checks * interval,
        "alerts": [{"gate": g, "above": round(a, 4)} for g, a in alerts],
    }


def _step_doc(weight: float, checks: int, interval: float, min_samples: int) -> dict[str, Any]:
    dwell = checks * interval
    return {
        "weight": weight,
        "min_dwell": dwell,
        "min_samples": min_samples,
        "max_dwell": 2 * dwell + 2 * interval,
    }


def _parse(doc: dict[str, Any]) -> RolloutSpec:
    return parse_spec(doc, "planned spec")


# --- the plan ---------------------------------------------------------------------------------


def _breach(reg: Regression, spec: RolloutSpec, base: ModelProfile, cand: ModelProfile) -> bool:
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


@dataclass
class _Ctx:
    """What every phase of planning reads, and the warnings and notes it collects."""

    inputs: PlanInputs
    cost: CostPlan
    base: ModelProfile
    cand: ModelProfile
    traffic: Traffic
    max_dwell: float
    expected_out: float
    cost_scale: float
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    search_reps: int = SEARCH_REPS
    cost_no_go: bool = False  # strict policy, planned cost beyond the bound: fails regardless

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


@dataclass
class _Sized:
    step_docs: list[dict[str, Any]]
    plans: list[dict[str, Any]]
    assigned: dict[str, str]


def _context(inputs: PlanInputs) -> _Ctx:
    base, cand = inputs.profiles()
    cost = cost_plan(inputs)
    expected_out = expected_completion(cand) / expected_completion(base)
    scale = max(cost.ratio, 1.0) if inputs.cost_policy == "tolerant" else 1.0
    ctx = _Ctx(
        inputs,
        cost,
        base,
        cand,
        traffic_of(inputs),
        inputs.max_dwell or inputs.risk.max_dwell,
        expected_out,
        scale,
    )
    if inputs.cost_policy == "tolerant" and cost.ratio <= 1.0:
        ctx.notes.append(
            "the candidate is not more expensive: the tolerant policy is the strict one"
        )
    return ctx


def _general_warnings(ctx: _Ctx, bounds: dict[str, BoundChoice]) -> None:
    inputs = ctx.inputs
    strict_bound = bounds["cost"].planned
    if inputs.cost_policy == "strict" and ctx.cost.ratio > strict_bound:
        ctx.cost_no_go = True
        ctx.warnings.append(
            f"no-go under the strict cost policy: the candidate is planned at "
            f"{ctx.cost.ratio:.2f}x the baseline's cost per request, beyond the cost bound "
            f"{strict_bound:g}; this spec rolls it back in shadow. Use --cost-policy tolerant to "
            "judge it against its planned cost and decide on quality in an A/B step."
        )
    if inputs.noise_assumed:
        ctx.warnings.append(
            "no noise profile given: bounds are checked against the simulator's default "
            "non-determinism (+-7% per arm and window, +-2% per run). Measure yours with "
            "llm-rollout calibrate and pass --noise."
        )
    if not inputs.noise_assumed and inputs.noise.model is None:
        ctx.warnings.append(
            "the noise profile is not tied to a model (a generic simulation): it is assumed to "
            "describe the baseline; calibrate with --model to have the planner check it"
        )
    if inputs.behaviour_assumed:
        ctx.warnings.append(
            "baseline behaviour (latency, error, refusal and thumbs-down rates) is assumed from "
            "the defaults: a calibrated noise profile carries the measured levels."
        )
    ctx.notes.extend(f"{c.name}: {c.reason}" for c in bounds.values() if c.raised)


def _choose_steps(ctx: _Ctx) -> tuple[list[float], list[float]]:
    """The risk level's steps without those that cannot gather their minimum samples."""
    risk = ctx.inputs.risk
    weights = list(ctx.inputs.steps or risk.steps)
    kept: list[float] = []
    dropped: list[float] = []
    for i, w in enumerate(weights):
        later = any(x < 100 for x in weights[i + 1 :])
        if (
            w < 100
            and later
            and k_lo_of(risk, ctx.inputs, w, ctx.interval) * ctx.interval > (ctx.max_dwell)
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


def _ab_start(ctx: _Ctx) -> tuple[bool, str, dict[str, Any] | None]:
    advised, why = _ab_advice(ctx.inputs, ctx.cost.ratio, ctx.expected_out)
    if not advised:
        return False, why, None
    tolerant = ctx.inputs.cost_policy == "tolerant"
    doc = {
        "weight": 50,
        "duration": ctx.interval,
        "metric": "feedback",
        "rule": "superiority" if tolerant else "non-inferiority",
        "margin": 0.0 if tolerant else 0.02,
        "on_inconclusive": "rollback",
    }
    return True, why, doc


def _alerts(bounds: dict[str, BoundChoice]) -> list[tuple[str, float]]:
    return [
        ("cost", bounds["alert.cost"].spec_value),
        ("latency", bounds["alert.latency"].spec_value),
    ]


def _shadow_doc_for(
    ctx: _Ctx, sample: float, checks: int, alerts: list[tuple[str, float]]
) -> dict[str, Any]:
    stage = shadow_stage(ctx.traffic, 0.0, checks, ctx.interval, sample)
    n_min = min_samples(sum(stage.candidate))
    peak = ctx.inputs.rate * (1.0 + ctx.inputs.daily_cycle)
    concurrency = shadow_concurrency(sample, peak, ctx.cand)
    return _shadow_doc(sample, checks, ctx.interval, n_min, alerts, concurrency)


def _shadow_cases(
    ctx: _Ctx, spec: RolloutSpec, breach: dict[str, bool]
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


def _size_shadow(
    ctx: _Ctx, spec: RolloutSpec, breach: dict[str, bool]
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


def _size_steps(
    ctx: _Ctx,
    spec: RolloutSpec,
    kept: list[float],
    shadow_checks: int,
    breach: dict[str, bool],
    say: Progress,
) -> _Sized:
    """Each breach regression goes to the first step that detects it with the risk level's
    power within the dwell target, else to the fastest within the longest dwell."""
    risk, interval = ctx.inputs.risk, ctx.interval
    judged = [w for w in kept if w < 100]
    starts: dict[float, float] = {}
    k_los: dict[float, int] = {}
    t0 = shadow_checks * interval
    for w in kept:  # provisional start times (minimum dwells), for the daily cycle
        starts[w], k_los[w] = t0, k_lo_of(risk, ctx.inputs, w, interval)
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
    sized = _Sized([], [], {label: f"{w:g}%" for label, (w, _) in choice.items()})
    start = shadow_checks * interval
    for w in kept:
        for_here = tuple(label for label, (cw, _) in choice.items() if cw == w)
        checks = max([k_los[w], *(choice[label][1] for label in for_here)])
        stage = canary_stage(f"{w:g}%", ctx.traffic, start, checks, interval, w)
        n_min = sum(stage.candidate) if w >= 100 else min(sum(stage.candidate), sum(stage.baseline))
        sized.step_docs.append(_step_doc(w, checks, interval, min_samples(n_min)))
        sized.plans.append({"needs": tuple(needs_at.get(w, ())), "sized_for": for_here})
        start += checks * interval
        say(f"step {w:g}%: {checks} checks")
    return sized


def _ab_design(
    ctx: _Ctx,
    draft: Callable[[dict[str, Any] | None], RolloutSpec],
    ab_doc: dict[str, Any],
    why: str,
) -> tuple[ABPlan, dict[str, Any] | None]:
    inputs = ctx.inputs
    risk = inputs.risk
    noise = inputs.noise
    duration, n_arm, power = ab_duration(
        draft(ab_doc),
        ab_doc,
        ctx.base,
        inputs.quality_gain,
        traffic_rate=inputs.rate,
        drift=noise.drift,
        run_variation=noise.run_variation,
        power=risk.power,
        max_duration=risk.ab_max_duration,
        seed=inputs.seed,
    )
    if duration is None:
        ctx.warnings.append(
            f"the A/B step would need more than {risk.ab_max_duration / 86400:g} days to "
            f"confirm a {inputs.quality_gain:.0%} thumbs-down reduction at {inputs.rate:g} "
            "requests/minute: left out of the spec; decide on cost alone (strict) or accept the "
            "cost without proof of quality"
        )
        ctx.notes.append("the spec has no A/B step, so each phase's alpha is a little larger")
        plan = ABPlan(
            True,
            why,
            "feedback",
            ab_doc["rule"],
            50.0,
            ab_doc["margin"],
            None,
            None,
            power,
            inputs.quality_gain,
            False,
        )
        return plan, None
    doc = {**ab_doc, "duration": duration}
    plan = ABPlan(
        True,
        why,
        "feedback",
        doc["rule"],
        50.0,
        doc["margin"],
        duration,
        n_arm,
        power,
        inputs.quality_gain,
        True,
    )
    return plan, doc


def _detections(
    ctx: _Ctx,
    spec: RolloutSpec,
    stages: list[tuple[str, Stage]],
    breach: dict[str, bool],
    assigned: dict[str, str],
    shadow_gaps: dict[str, str],
    reps: int,
) -> list[Detection]:
    """One Monte Carlo of the whole plan per reference regression, present from the start.
    ``assigned``: the stage each is stated at (shadow or a step); ``shadow_gaps``: why the
    shadow is not, for those its gates see but cannot catch within the longest shadow."""
    noise = ctx.inputs.noise
    out = []
    for j, reg in enumerate(references()):
        label = reg.label()
        stats = ctx.stats_for(reg)
        staged = [
            (st, stage_rules(spec, "shadow" if name == "shadow" else "canary", stats, reg))
            for name, st in stages
        ]
        curve = rollout_curve(
            staged,
            Arm(ctx.base),
            Arm(ctx.cand, (reg,)),
            drift=noise.drift,
            run_variation=noise.run_variation,
            reps=reps,
            seed=ctx.inputs.seed + 7919 * (j + 1),
        )
        by_stage = tuple((name, float(p)) for (name, _), p in zip(stages, curve, strict=True))
        where = assigned.get(label)
        stated_stage = where or by_stage[-1][0]
        note = ""
        if ctx.cost_no_go and "cost" not in AFFECTS[reg.metric]:
            note = "without the cost gate, which fails on the candidate as planned (no-go)"
        if not breach[label]:
            note = "within the plan's bounds: tolerated by design, not a breach"
        elif where is None:
            note = _undetected_note(ctx, reg, spec)
            ctx.warnings.append(f"{label}: {note}")
            if label in shadow_gaps:
                note = f"{shadow_gaps[label]}; {note}"
        gates = tuple(moved_by(reg, [r for _, rules in staged for r in rules]))
        out.append(
            Detection(
                f"{reg.metric}={reg.factor:g}",
                label,
                breach[label],
                gates,
                where,
                by_stage,
                dict(by_stage)[stated_stage],
                stated_stage,
                note,
            )
        )
    return out


def _step_plans(ctx: _Ctx, sized: _Sized, shadow_checks: int) -> list[StepPlan]:
    out = []
    interval = ctx.interval
    t = shadow_checks * interval
    for doc, info in zip(sized.step_docs, sized.plans, strict=True):
        w = doc["weight"]
        k = round(doc["min_dwell"] / interval)
        win = windows(ctx.traffic, t, k, interval)
        t += k * interval
        share = w / 100.0
        out.append(
            StepPlan(
                weight=w,
                checks=k,
                dwell=doc["min_dwell"],
                max_dwell=doc["max_dwell"],
                min_samples=doc["min_samples"],
                candidate_per_min=ctx.inputs.rate * share,
                baseline_per_min=ctx.inputs.rate * (1 - share),
                candidate_samples=sum(win) * share,
                baseline_samples=sum(win) * (1 - share),
                sized_for=info["sized_for"],
                needs=info["needs"],
                cost_delta_per_day=ctx.cost.per_day_full * share,
                notes=_step_notes(w, info, k, k_lo_of(ctx.inputs.risk, ctx.inputs, w, interval)),
            )
        )
    return out


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
    ctx = _context(inputs)
    ctx.search_reps = search_reps
    ks_expected = 0.0
    if abs(math.log(ctx.expected_out)) > 1e-9:
        z = abs(math.log(ctx.expected_out)) / (2.0 * ctx.base.completion_sigma)
        ks_expected = float(2.0 * phi_cdf(np.array([z]))[0] - 1.0)
    bounds = choose_bounds(inputs, ctx.cost_scale, ctx.expected_out, ks_expected)
    _general_warnings(ctx, bounds)
    kept, dropped = _choose_steps(ctx)
    ab_advised, ab_why, ab_doc = _ab_start(ctx)
    alerts = _alerts(bounds)
    # A provisional shadow (the risk level's minimum): the rules' alphas depend on the phases
    # and gates, not on the shadow's size, so the draft spec serves to size it.
    floor = floor_design(
        inputs.rate, inputs.risk.shadow_duration, inputs.risk.shadow_samples, ctx.interval
    )
    shadow_doc = _shadow_doc_for(ctx, *floor, alerts)
    step_docs = [_step_doc(w, 1, ctx.interval, 1) for w in kept]

    def draft(ab: dict[str, Any] | None) -> RolloutSpec:
        return _parse(_spec_doc(inputs, bounds, step_docs, shadow_doc, ab))

    spec = draft(ab_doc)
    breach = {r.label(): _breach(r, spec, ctx.base, ctx.cand) for r in references()}
    say("sizing the shadow phase")
    sizing, unseen = _size_shadow(ctx, spec, breach)
    sample, s_checks = sizing.sample, sizing.checks
    shadow_doc = _shadow_doc_for(ctx, sample, s_checks, alerts)
    s_stage = shadow_stage(ctx.traffic, 0.0, s_checks, ctx.interval, sample)
    say(f"shadow: {sample:g} for {s_checks} checks")
    say("sizing the steps")
    sized = _size_steps(ctx, spec, kept, s_checks, breach, say)
    step_docs = sized.step_docs
    ab_plan = ABPlan(ab_advised, ab_why, quality_gain=inputs.quality_gain)
    if ab_doc is not None:
        ab_plan, ab_doc = _ab_design(ctx, draft, ab_doc, ab_why)
    spec = draft(ab_doc)
    say("detection probabilities")
    stages: list[tuple[str, Stage]] = [("shadow", s_stage)]
    t = s_checks * ctx.interval
    for doc in step_docs:
        k = round(doc["min_dwell"] / ctx.interval)
        if doc["weight"] < 100:
            stages.append(
                (
                    f"{doc['weight']:g}%",
                    canary_stage("", ctx.traffic, t, k, ctx.interval, doc["weight"]),
                )
            )
        t += k * ctx.interval
    stated_at = {**sized.assigned, **dict.fromkeys(sizing.sized_for, "shadow")}
    gaps = _shadow_gaps(sizing, ctx.interval, inputs.shadow_cap)
    detections = _detections(ctx, spec, stages, breach, stated_at, gaps, reps)
    _note_shadow_only(ctx, sizing, sized.assigned)
    n_shadow = sum(s_stage.candidate)
    shadow = ShadowPlan(
        sample=sample,
        checks=s_checks,
        duration=s_checks * ctx.interval,
        min_samples=shadow_doc["min_samples"],
        candidate_samples=n_shadow,
        baseline_samples=sum(s_stage.baseline),
        alerts=tuple(alerts),
        spend_per_day=sample * ctx.cost.requests_per_day * ctx.cost.candidate_per_request,
        spend_phase=n_shadow * ctx.cost.candidate_per_request,
        max_duration=inputs.shadow_cap,
        floor_duration=inputs.risk.shadow_duration,
        floor_samples=inputs.risk.shadow_samples,
        needs=sizing.needs,
        sized_for=sizing.sized_for,
        driven_by=sizing.driven_by,
        not_judged=tuple(unseen),
        max_concurrency=shadow_doc["max_concurrency"],
    )
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
        bounds=tuple(bounds.values()),
        shadow=shadow,
        steps=tuple(_step_plans(ctx, sized, s_checks)),
        detections=tuple(detections),
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


def _shadow_gaps(sizing: ShadowSizing, interval: float, cap: float) -> dict[str, str]:
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


def _note_shadow_only(ctx: _Ctx, sizing: ShadowSizing, at_steps: dict[str, str]) -> None:
    """A regression only the shadow is sized for: a later onset would meet no step sized for
    it, which the runbook should say."""
    for label in sizing.sized_for:
        if label not in at_steps:
            ctx.notes.append(
                f"{label}: the shadow phase is sized to detect it; no canary step detects it "
                f"with {ctx.inputs.risk.power:.0%} power within "
                f"{ctx.max_dwell / 3600:g} h, so one that appears after the shadow phase is "
                "caught late or not at all"
            )


def k_lo_of(risk: RiskLevel, inputs: PlanInputs, w: float, interval: float) -> int:
    if w >= 100:
        return max(1, math.ceil(risk.soak / interval))
    trough = inputs.rate * (1.0 - inputs.daily_cycle)
    k = max(1, math.ceil(risk.min_dwell / interval))
    for share in (w / 100.0, 1 - w / 100.0):
        k = max(k, math.ceil(risk.min_step_samples / max(trough * share * interval / 60.0, 1e-9)))
    return int(k)


def _step_notes(w: float, info: dict[str, Any], checks: int, k_lo: int) -> tuple[str, ...]:
    if w >= 100:
        return ("no concurrent baseline: nothing to compare, a soak before promotion",)
    if info["sized_for"]:
        return (f"dwell sized to detect {', '.join(info['sized_for'])}",)
    if checks == k_lo:
        return ("minimum dwell: catches gross failures only",)
    return ()


def _ab_advice(inputs: PlanInputs, ratio: float, expected_out: float) -> tuple[bool, str]:
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


def _undetected_note(ctx: _Ctx, reg: Regression, spec: RolloutSpec) -> str:
    """How long the best-balanced step would need, up to 4x the longest dwell."""
    inputs = ctx.inputs
    interval = spec.check_interval
    judged = [s.weight for s in spec.steps if s.weight < 100]
    if not judged:
        return "no step with a concurrent baseline"
    w = min(judged, key=lambda x: abs(50 - x))
    k_max = math.floor(4 * ctx.max_dwell / interval)
    stage = canary_stage(f"{w:g}%", ctx.traffic, 0.0, k_max, interval, w)
    curve = stage_curve(
        stage,
        Arm(ctx.base),
        Arm(ctx.cand, (reg,)),
        stage_rules(spec, "canary", ctx.stats_for(reg), reg),
        drift=inputs.noise.drift,
        run_variation=inputs.noise.run_variation,
        reps=max(ctx.search_reps // 2, 100),
        seed=inputs.seed + 13,
        stop_at=inputs.risk.power,
    )
    hit = np.flatnonzero(curve >= inputs.risk.power)
    limit = f"{ctx.max_dwell / 3600:g} h"
    if hit.size:
        hours = (int(hit[0]) + 1) * interval / 3600
        return (
            f"no step detects it with {inputs.risk.power:.0%} power within {limit}; the {w:g}% "
            f"step would need {hours:.1f} h (pass --max-dwell {math.ceil(hours)}h to plan it)"
        )
    return (
        f"no step detects it with {inputs.risk.power:.0%} power within {limit}; even "
        f"{4 * ctx.max_dwell / 3600:g} h at {w:g}% reach only {curve[-1]:.0%}: at this traffic "
        "the bound is too close to the regression (a wider step list or more traffic needed)"
    )
