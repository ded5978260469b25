"""The plan as a Markdown runbook (renders on GitHub: headings, pipe tables, code blocks)."""

from __future__ import annotations

import math

import numpy as np

from ..stats import mixture_radius
from ._arm import Arm
from .bounds import MARGIN
from .export import spec_yaml
from .inputs import ModelInput
from .model import Plan, ShadowNeed, StepPlan
from .rollback import measured_text
from .shadow import REACH
from .text import count, duration, num, pct, table, usd
from .verify import TOLERANCE, Verification


def _gate_list(plan: Plan) -> str:
    g = plan.spec.gates
    lo, hi = g.output_length.mean or (0.0, 0.0)
    return (
        f"cost > {num(g.cost.bound, 4)}, p99 latency > {num(g.latency.p99)}, p50 latency > "
        f"{num(g.latency.p50)}, p99 TTFT > {num(g.latency.ttft_p99)}, errors > "
        f"{g.errors.ratio:g}x + {g.errors.floor:g}, refusals > {g.refusals.ratio:g}x + "
        f"{g.refusals.floor:g}, output length mean outside [{num(lo)}, {num(hi)}] or p99 > "
        f"{num(g.output_length.p99)} or KS > {num(g.output_length.ks)}, thumbs-down > "
        f"{g.feedback.ratio:g}x + {g.feedback.floor:g}"
    )


def _fraction(x: float) -> str:
    """A sample fraction as the spec reads it: 5.6%, 37%, 100%."""
    return f"{100 * x:.3g}%"


def _model_detail(m: ModelInput) -> str:
    return (
        f"{m.price_input:g} / {m.price_output:g} USD per 1M tokens in / out; "
        f"{m.prompt_tokens:g} prompt + {m.completion_tokens:.0f} completion tokens per request"
    )


def _summary(plan: Plan) -> list[str]:
    i = plan.inputs
    c = plan.cost
    judged = [s for s in plan.steps if s.weight < 100]
    lines = [
        f"- **Models**: baseline `{i.baseline.ref}` -> candidate `{i.candidate.ref}`.",
        f"- **Traffic**: {i.rate:g} requests/minute"
        + (
            f", daily cycle +-{i.daily_cycle:.0%} (peak {i.peak_hour:g}:00)"
            if i.daily_cycle
            else ""
        )
        + f"; **risk** `{i.risk.name}` (alpha {i.risk.alpha:g}, power {i.risk.power:.0%});"
        f" **cost policy** `{i.cost_policy}`.",
        f"- **Cost**: {usd(c.baseline_per_request)} -> {usd(c.candidate_per_request)} per request "
        f"(**{c.ratio:.2f}x**), {usd(c.per_day_full)} per day more at 100%.",
        _schedule(plan),
        f"- **False rollbacks**: at most {pct(i.risk.alpha)} of good candidates (alpha split over "
        f"{len(plan.spec.gates.enabled())} gates and {plan.spec.looks()} phases), as long as the "
        "noise stays below the floor the bounds clear.",
        "- **Detection** of the reference regressions (present from the start): "
        + "; ".join(
            f"{d.label} {pct(d.stated, 0)} by {d.stated_stage}"
            + ("" if d.breach else " (tolerated)")
            for d in plan.detections
        )
        + ".",
        _rollback_summary(plan),
        f"- Steps judged: {', '.join(f'{s.weight:g}%' for s in judged)}"
        + (
            f"; dropped: {', '.join(f'{w:g}%' for w in plan.dropped_steps)}"
            if plan.dropped_steps
            else ""
        )
        + ".",
    ]
    return lines


def _schedule(plan: Plan) -> str:
    """The phases in the controller's order: shadow, the steps through the 100% soak, then the
    A/B step if the spec has one, and only then promotion."""
    head = (
        f"- **Schedule**: shadow {duration(plan.shadow.duration)} at "
        f"{_fraction(plan.shadow.sample)}, "
        + ", ".join(f"{s.weight:g}% for {duration(s.dwell)}" for s in plan.steps)
    )
    if not plan.ab.in_spec:
        return head + f": **{duration(plan.total_duration())}** to promotion."
    return (
        head + f" ({duration(plan.total_duration())} through the 100% soak), then the A/B step at "
        f"{plan.ab.weight:g}/{100 - plan.ab.weight:g} for {duration(plan.ab.duration)}: "
        f"**{duration(plan.time_to_promotion())} to promotion** if the A/B rule passes (a "
        "failed or inconclusive A/B rolls back)."
    )


def _rollback_summary(plan: Plan) -> str:
    rb = plan.rollback
    limit = "under" if rb.under_60s else "NOT under"
    if rb.measured is not None:
        return (
            f"- **Rollback** (measured): {measured_text(rb.measured)}. This candidate's last "
            f"in-flight answer ends about {rb.total_seconds:.1f} s after the commit, {limit} "
            "60 s; no redeploy."
        )
    return (
        f"- **Rollback**: about {rb.total_seconds:.1f} s to the last candidate answer, **an "
        f"estimate** (no measurement given: pass --rollback-bench), {limit} 60 s; no redeploy."
    )


def _inputs(plan: Plan) -> str:
    i = plan.inputs
    b = i.behaviour
    noise = i.noise
    rows = [
        [
            "baseline",
            f"`{i.baseline.ref}`",
            _model_detail(i.baseline),
        ],
        [
            "candidate",
            f"`{i.candidate.ref}`",
            _model_detail(i.candidate),
        ],
        [
            "traffic",
            f"{i.rate:g} requests/minute",
            "daily cycle amplitude " + (f"{i.daily_cycle:.0%}" if i.daily_cycle else "none"),
        ],
        ["risk level", f"`{i.risk.name}`", i.risk.description],
        [
            "noise",
            noise.source + ("" if noise.model is None else f" (`{noise.model}`)"),
            f"drift +-{noise.drift:.1%} per arm and window, +-{noise.run_variation:.1%} per run; "
            + noise.description,
        ],
        [
            "baseline behaviour",
            "assumed" if i.behaviour_assumed else "measured",
            f"latency median {b.latency_ms:g} ms (sigma {b.latency_sigma:g}), errors "
            f"{b.error_rate:.2%}, refusals {b.refusal_rate:.2%}, thumbs-down "
            f"{b.thumbs_down_rate:.2%} per request",
        ],
        [
            "cost policy",
            f"`{i.cost_policy}`",
            "judge cost against the baseline"
            if i.cost_policy == "strict"
            else "judge cost against the candidate's planned cost; quality must pay for it",
        ],
    ]
    return table(["input", "value", "detail"], rows)


def _risk(plan: Plan) -> str:
    r = plan.inputs.risk
    rows = [
        ["alpha (false-rollback rate)", f"{r.alpha:g}"],
        ["power each detecting step is sized for", f"{r.power:.0%}"],
        ["steps", ", ".join(f"{w:g}%" for w in r.steps)],
        ["check interval", duration(r.check_interval)],
        [
            "dwell: minimum / target / longest",
            f"{duration(r.min_dwell)} / {duration(r.target_dwell)} / "
            f"{duration(plan.inputs.max_dwell or r.max_dwell)}",
        ],
        ["candidate samples a step needs at least", f"{r.min_step_samples}"],
        [
            "shadow: minimum duration / minimum shadow calls / longest",
            f"{duration(r.shadow_duration)} / {r.shadow_samples} / "
            f"{duration(plan.inputs.shadow_cap)}",
        ],
        [
            "bounds (relative to the planned candidate)",
            f"cost {r.bounds.cost:g}, p99 latency {r.bounds.latency_p99:g}, output mean "
            f"{list(r.bounds.output_mean)}, errors {r.bounds.errors[0]:g}x + "
            f"{r.bounds.errors[1]:g}, refusals {r.bounds.refusals[0]:g}x + "
            f"{r.bounds.refusals[1]:g}, thumbs-down {r.bounds.feedback[0]:g}x + "
            f"{r.bounds.feedback[1]:g}",
        ],
    ]
    return table(["setting", "value"], rows)


def _costs(plan: Plan) -> str:
    c = plan.cost
    rows = [
        [
            "shadow",
            f"{_fraction(plan.shadow.sample)} mirrored",
            usd(plan.shadow.spend_per_day),
            f"{usd(plan.shadow.spend_phase)} for the phase (extra spend: shadow calls are "
            "never served)",
        ]
    ]
    for s in plan.steps:
        rows.append(
            [
                f"{s.weight:g}%",
                f"{s.weight:g}% served by the candidate",
                usd(s.cost_delta_per_day),
                f"{usd(s.cost_delta_per_day * s.dwell / 86400)} during its {duration(s.dwell)}",
            ]
        )
    if plan.ab.advised and plan.ab.duration is not None:
        rows.append(
            [
                "A/B",
                f"{plan.ab.weight:g}% split",
                usd(c.per_day_full * plan.ab.weight / 100),
                f"{usd(c.per_day_full * plan.ab.weight / 100 * plan.ab.duration / 86400)} "
                f"during its {duration(plan.ab.duration)}",
            ]
        )
    rows.append(["promoted", "100%", usd(c.per_day_full), "from then on"])
    head = (
        f"Per request: baseline {usd(c.baseline_per_request)}, candidate "
        f"{usd(c.candidate_per_request)} (ratio {c.ratio:.3f}), from the registry prices and the "
        "expected tokens (errored calls are not billed). Per day at weight w: "
        f"(candidate - baseline) x {c.requests_per_day:,.0f} requests x w."
    )
    return (
        head
        + "\n\n"
        + table(["stage", "traffic", "cost delta per day", "during the stage"], rows, "llrl")
    )


def _bounds(plan: Plan) -> str:
    rows = [
        [
            b.name,
            num(b.requested, 4),
            num(b.planned, 4),
            num(b.spec_value, 4),
            pct(b.floor),
            num(b.minimum, 4),
            ("**raised** - " if b.raised else "") + b.reason,
        ]
        for b in plan.bounds
    ]
    return table(
        ["bound", "risk level", "planned", "in the spec", "noise floor", "must clear", "why"],
        rows,
        "lrrrrrl",
    )


def _need_cells(plan: Plan, n: ShadowNeed) -> list[str]:
    s = plan.shadow
    interval = plan.spec.check_interval
    mark = "**" if n.regression in s.driven_by else ""
    if n.checks is None:
        at_sample = [f"> {duration(s.duration)} ({pct(n.power, 0)} by then)", "-"]
    else:
        at_sample = [
            f"{mark}{duration(n.checks * interval)}{mark} ({pct(n.power, 0)})",
            f"{count(n.candidate_samples)} / {count(n.baseline_samples)}",
        ]
    full = (
        duration(n.full_mirror_checks * interval)
        if n.full_mirror_checks is not None
        else f"> {duration(REACH * s.max_duration)}"
    )
    return [n.regression, ", ".join(n.gates), *at_sample, full]


def _shadow_sizing(plan: Plan) -> list[str]:
    s = plan.shadow
    i = plan.inputs
    power = f"{i.risk.power:.0%}"
    lines = [
        "- **Sized from the samples the gates need.** Shadow calls are judged by every gate but "
        "thumbs-down (shadow calls get no feedback) and by the alert rules, and the baseline arm "
        "is the whole served traffic. For each reference regression those gates can see, the "
        "planner computed, as for the steps, the checks until they detect it with "
        f"{power} power; it took the smallest sample fraction at which every regression a 100% "
        f"mirror catches within the longest shadow ({duration(s.max_duration)} at "
        f"`{i.risk.name}` risk) is caught within it, for as long as the slowest needs. The risk "
        f"level's minimum ({duration(s.floor_duration)}, {s.floor_samples} shadow calls) is a "
        "floor.",
    ]
    if s.needs:
        lines += [
            "",
            table(
                [
                    "regression",
                    "shadow gates it moves",
                    f"at {_fraction(s.sample)}: time to {power}",
                    "shadow / baseline calls by then",
                    "at a 100% mirror",
                ],
                [_need_cells(plan, n) for n in s.needs],
                "llrrr",
            ),
            "",
        ]
    if s.driven_by:
        driver = next(n for n in s.needs if n.regression == s.driven_by[0])
        lines.append(
            f"- **The duration is driven by {', '.join(s.driven_by)}** (gates "
            f"{', '.join(driver.gates)}): {count(driver.candidate_samples)} shadow calls against "
            f"{count(driver.baseline_samples)} served baseline calls "
            f"({duration(s.duration)} at {_fraction(s.sample)})."
        )
    else:
        lines.append(
            f"- **The duration is the risk level's minimum** ({duration(s.floor_duration)}, "
            f"{s.floor_samples} shadow calls): no regression the shadow gates see sets a longer "
            "one within the longest shadow."
        )
    beyond = [n for n in s.needs if n.regression not in s.sized_for]
    if beyond:
        lines.append(
            "- Not detected in shadow within the longest shadow, left to the canary steps (see "
            "the warnings): "
            + "; ".join(
                f"{n.regression} (a 100% mirror would need "
                + (
                    duration(n.full_mirror_checks * plan.spec.check_interval)
                    if n.full_mirror_checks is not None
                    else f"more than {duration(REACH * s.max_duration)}"
                )
                + ")"
                for n in beyond
            )
            + "."
        )
    if s.not_judged:
        lines.append(
            f"- Not judged in shadow: {', '.join(s.not_judged)} (no feedback on shadow calls): "
            "the canary steps detect it."
        )
    return lines


def _shadow_spend(plan: Plan) -> str:
    s = plan.shadow
    c = plan.cost
    text = (
        f"- **Spend**: shadow calls are paid on top of the served ones (nothing is saved): "
        f"{_fraction(s.sample)} x {c.requests_per_day:,.0f} requests x "
        f"{usd(c.candidate_per_request)} = **{usd(s.spend_per_day)} per day** while it runs, "
        f"**{usd(s.spend_phase)} for the phase** ({count(s.candidate_samples)} shadow calls)."
    )
    driver = next((n for n in s.needs if n.regression in s.driven_by), None)
    if driver is not None and driver.full_mirror_checks is not None and s.sample < 1.0:
        minutes = driver.full_mirror_checks * plan.spec.check_interval / 60.0
        full = minutes * plan.inputs.rate * c.candidate_per_request
        per_day = c.requests_per_day * c.candidate_per_request
        text += (
            f" For comparison, a 100% mirror would catch {driver.regression} in "
            f"{duration(minutes * 60)} for {usd(full)} ({usd(per_day)} per day)."
        )
    return text


def _shadow(plan: Plan) -> list[str]:
    s = plan.shadow
    alerts = ", ".join(f"`{g}` above {num(a, 4)}" for g, a in s.alerts)
    lines = [
        f"- Mirror **{_fraction(s.sample)}** of served requests to the candidate for "
        f"**{duration(s.duration)}** ({s.checks} checks): about **{count(s.candidate_samples)} "
        f"shadow calls** against {count(s.baseline_samples)} served baseline calls "
        f"(`min_samples: {s.min_samples}`, reached with 99.9% probability; "
        f"`max_concurrency: {s.max_concurrency}`). No user sees a shadow answer.",
        *_shadow_sizing(plan),
        _shadow_spend(plan),
        f"- Alert rules (fire = roll back before any user sees the candidate): {alerts}. Each is "
        "judged with the sequential margin rule at alpha / phases / rules, and so is every gate "
        "but thumbs-down.",
        "- Run `llm-rollout shadow-report ROLLOUT --fail-on-alert` at the end of the phase (or "
        "in CI) for the paired view: cost, tokens, latency and TTFT ratios per request, "
        "refusal flips, finish-reason changes.",
    ]
    caught = [(d.label, dict(d.by_stage).get("shadow", 0.0)) for d in plan.detections]
    lines.append(
        "- Detection in shadow alone (the whole plan's Monte Carlo): "
        + ", ".join(f"{k} {pct(p, 0)}" for k, p in caught)
        + "."
    )
    return lines


def _steps(plan: Plan) -> str:
    rows = []
    for s in plan.steps:
        rows.append(
            [
                f"{s.weight:g}%",
                duration(s.dwell),
                str(s.checks),
                f"{s.candidate_per_min:,.1f} / {s.baseline_per_min:,.1f}",
                f"{count(s.candidate_samples)} / {count(s.baseline_samples)}",
                f"{s.min_samples:,}",
                duration(s.max_dwell),
                ", ".join(s.sized_for) or "-",
                usd(s.cost_delta_per_day),
                "; ".join(s.notes),
            ]
        )
    return table(
        [
            "step",
            "dwell",
            "checks",
            "per min cand / base",
            "samples at dwell cand / base",
            "min_samples per arm",
            "max_dwell",
            "sized for",
            "cost delta per day",
            "note",
        ],
        rows,
        "lrrrrrrlrl",
    )


def _steps_after_shadow(plan: Plan) -> list[str]:
    caught = [
        label for label in plan.shadow.sized_for if any(label in s.sized_for for s in plan.steps)
    ]
    if not caught:
        return []
    return [
        "",
        f"The steps keep their own sizing for what the shadow phase is sized to catch too "
        f"({', '.join(caught)}): a regression the shadow misses (one run in "
        f"{round(1 / max(1 - plan.inputs.risk.power, 1e-9))} at {plan.inputs.risk.power:.0%} "
        "power), or one that appears only once users are served, still meets a step that "
        "detects it.",
    ]


def _needs(plan: Plan) -> str:
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
    alpha = plan.spec.gate_alpha("cost") / 2
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


def _detection(plan: Plan) -> str:
    stages = plan.stage_labels[: 1 + sum(1 for s in plan.steps if s.weight < 100)]
    rows = []
    for d in plan.detections:
        by = dict(d.by_stage)
        rows.append(
            [
                d.label,
                "yes" if d.breach else "no (tolerated)",
                *(pct(by.get(s), 0) for s in stages),
                f"**{pct(d.stated, 0)}** by {d.stated_stage}",
                d.note or ", ".join(d.gates),
            ]
        )
    return table(
        ["regression", "breach", *stages, "stated", "gates / note"],
        rows,
        "ll" + "r" * len(stages) + "rl",
    )


def _ab(plan: Plan) -> list[str]:
    ab = plan.ab
    if not ab.advised:
        return [f"Not advised: {ab.why}."]
    lines = [f"**Advised.** {ab.why}", ""]
    if ab.duration is None:
        lines.append(
            f"Design: {ab.weight:g}/{100 - ab.weight:g} split on `{ab.metric}`, rule "
            f"`{ab.rule}`. To confirm a {ab.quality_gain:.0%} thumbs-down reduction with "
            f"{plan.inputs.risk.power:.0%} power it would run longer than "
            f"{duration(plan.inputs.risk.ab_max_duration)} (power there {pct(ab.power, 0)}): "
            "left out of the spec."
        )
        return lines
    lines += [
        f"- Order: after the 100% soak the controller moves to the A/B step, a {ab.weight:g}% / "
        f"{100 - ab.weight:g}% split (the candidate's share goes back from 100% to "
        f"{ab.weight:g}%), metric `{ab.metric}` (thumbs-down per served request), rule "
        f"`{ab.rule}`"
        + (f" (margin {ab.margin:g})" if ab.rule == "non-inferiority" else "")
        + ", `on_inconclusive: rollback`. The rollout is **promoted only when the A/B rule "
        "PASSes** at the end of the step; a FAIL or an inconclusive end rolls it back.",
        f"- Duration **{duration(ab.duration)}**: {count(ab.samples_per_arm)} requests per arm "
        f"confirm a {ab.quality_gain:.0%} thumbs-down reduction with probability "
        f"{pct(ab.power, 0)} (the verdict is read once, at the end, with the A/B phase's alpha).",
    ]
    return lines


def _decision(plan: Plan) -> list[str]:
    i = plan.inputs
    c = plan.cost
    strict_bound = next(b for b in plan.bounds if b.name == "cost").planned
    strict_ok = c.ratio <= strict_bound
    gain = i.quality_gain
    lines = [
        "Both paths judge the same gates; they differ in what cost is compared with and in what "
        "has to be shown about quality.",
        "",
        table(
            ["path", "cost gate", "quality", "ship when", f"this candidate ({c.ratio:.2f}x cost)"],
            [
                [
                    "**strict**",
                    f"cost ratio vs baseline must not confidently exceed {strict_bound:g}",
                    "no gate may confidently breach (thumbs-down <= "
                    f"{plan.spec.gates.feedback.ratio:g}x + {plan.spec.gates.feedback.floor:g})",
                    "every step passes without a breach",
                    (
                        "go: planned within the bound"
                        if strict_ok
                        else f"**no-go**: {c.ratio:.2f}x > {strict_bound:g}; the cost gate rolls "
                        "it "
                        "back in shadow"
                    ),
                ],
                [
                    "**tolerant**",
                    f"cost ratio vs the planned {max(c.ratio, 1):.2f}x must not confidently "
                    f"exceed {strict_bound:g} of it ({max(c.ratio, 1) * strict_bound:.3g}x)",
                    "an A/B step must show fewer thumbs-down (superiority) - the quality that "
                    "pays for the cost",
                    "the canary passes **and** the A/B rule PASSes; inconclusive rolls back",
                    (
                        f"go if the A/B confirms the gain (a {gain:.0%} reduction takes "
                        f"{duration(plan.ab.duration)})"
                        if plan.ab.duration is not None
                        else "cannot be confirmed at this traffic: no A/B in the spec"
                    ),
                ],
            ],
        ),
        "",
        f"The spec follows the **{i.cost_policy}** path. A trade-off such as +18% cost for +3% "
        "quality is a ship under the strict path only if the cost bound is above 1.18 (at this "
        f"risk level it is {strict_bound:g}); under the tolerant path only once the A/B step "
        "confirms the quality gain, which for a 3% difference in a rate of a few percent takes "
        "millions of requests per arm: decide such cases on cost alone or accept them on "
        "offline evidence, knowingly.",
    ]
    return lines


def _rollback(plan: Plan) -> list[str]:
    rb = plan.rollback
    name = plan.spec.name
    total = rb.total_seconds
    limit = "under" if rb.under_60s else "NOT under"
    head = (
        f"**Time: measured; about {total:.1f} s to this candidate's last answer, {limit} 60 s.**"
        if rb.measured is not None
        else f"**Time: about {total:.1f} s to the last candidate answer (an estimate), {limit} "
        "60 s.**"
    )
    return [
        f"{head} {rb.basis[0].upper()}{rb.basis[1:]}",
        "",
        "Procedure (no controller and no redeploy needed):",
        "",
        "```sh",
        f'llm-rollout rollback {name} --reason "why"   # commits the rollback policy, then returns',
        "curl -s http://GATEWAY:8080/readyz   # each replica: policy_version >= the one printed",
        f"llm-rollout status {name}                      # phase rolled_back, candidate weight 0",
        f"llm-rollout history {name}                     # the evidence of every transition",
        "```",
        "",
        "Infrastructure it requires: every gateway replica reads the same store (SQLite file on "
        "one machine, PostgreSQL beyond one) and polls its policy version (`policy_poll_interval`, "
        "50 ms); the operator (or the controller, or the admin API) can write to that store. "
        "Rollback writes one policy version: candidate weight 0, shadow off, baseline pinned. "
        "Requests already on the candidate finish there; every request that starts after a "
        "replica's next poll goes to the baseline.",
    ]


def _verification(plan: Plan, v: Verification) -> list[str]:
    rows = []
    for r in v.rows:
        if r.planned is None:
            rows.append([r.scenario, "-", "-", r.rolled_back.text(), "-", "-"])
            continue
        assert r.simulated is not None
        within = "yes" if r.within else "**no**"
        rows.append(
            [
                r.scenario,
                r.stage or "-",
                pct(r.planned, 1),
                r.simulated.text(),
                f"{100 * (r.difference or 0.0):+.1f} pp",
                within,
            ]
        )
    stage_rows = [[r.scenario, *(rate.text() for _, rate in r.by_stage)] for r in v.rows]
    stages = [s for s, _ in v.rows[0].by_stage]
    gates = ", ".join(f"{k} ({n})" for k, n in v.rows[0].gates.items()) or "none"
    return [
        f"{v.runs} simulated runs per row (the real controller and judge on synthetic traffic with "
        f"the plan's profiles, traffic and noise), each up to {duration(v.duration)}: shadow and "
        "every step with a concurrent baseline. Rates with a 95% Wilson interval.",
        "",
        "- **Simulated false-rollback rate (A/A, candidate as planned): "
        f"{v.false_rollback.text()}** "
        f"(planned at most {pct(plan.inputs.risk.alpha)}); gates that fired: {gates}.",
        f"- Planned detection within {TOLERANCE * 100:g} percentage points of the simulation: "
        f"**{'yes, every row' if v.all_within else 'NO - see the rows marked no'}**.",
        "",
        table(
            [
                "scenario",
                "stated by",
                "planned",
                "simulated [95% CI]",
                "difference",
                f"within {TOLERANCE * 100:g} pp",
            ],
            rows,
            "llrrrl",
        ),
        "",
        "Rolled back by the end of each stage (cumulative):",
        "",
        table(["scenario", *stages], stage_rows, "l" + "r" * len(stages)),
    ]


def render_markdown(
    plan: Plan, verification: Verification | None = None, command: str | None = None
) -> str:
    i = plan.inputs
    parts: list[str] = [f"# Rollout plan: {i.baseline.name} -> {i.candidate.name}", ""]
    if command:
        parts += [f"Generated by `{command}`.", ""]
    parts += ["## Summary", "", *_summary(plan), ""]
    if plan.warnings:
        parts += ["**Warnings**", ""] + [f"- {w}" for w in plan.warnings] + [""]
    sections: list[tuple[str, list[str]]] = [
        ("Inputs", [_inputs(plan)]),
        ("Risk level", [_risk(plan)]),
        ("Cost", [_costs(plan)]),
        (
            "Gate bounds and the noise floor",
            [
                "Every bound must sit above the noise floor (how far two arms of the same model "
                f"drift apart, {i.noise.source}) by {MARGIN:.0%} or identical models breach "
                "it. Ratios are "
                "relative to the planned candidate; the spec holds them times the planned change.",
                "",
                _bounds(plan),
                "",
                "Gates in the spec: " + _gate_list(plan) + ".",
            ],
        ),
        ("Shadow phase", _shadow(plan)),
        (
            "Canary steps",
            [
                _steps(plan),
                "",
                "`require: no-breach`: a step advances after its dwell unless a critical "
                "gate confidently breaches (`pass` would also wait for every rare-event "
                "gate to show it is inside its bound, which takes hours at this "
                "traffic); `on_inconclusive: hold` pauses a step that misses its "
                "samples by `max_dwell`.",
                *_steps_after_shadow(plan),
            ],
        ),
        (
            "How long each step must dwell",
            [
                *_method(plan),
                "",
                "Dwell each step needs for each regression (candidate / baseline "
                "samples; bold: the step sized for it):",
                "",
                _needs(plan),
            ],
        ),
        (
            "Detection by stage",
            [
                "Probability that each reference regression, present from the start, "
                "is rolled back by the end of each stage (cumulative, one Monte Carlo "
                "of the whole plan):",
                "",
                _detection(plan),
            ],
        ),
        ("A/B step", _ab(plan)),
        ("Go / no-go: cost versus quality", _decision(plan)),
        ("Rollback", _rollback(plan)),
    ]
    if verification is not None:
        sections.append(("Verification in the simulator", _verification(plan, verification)))
    for title, body in sections:
        parts += [f"## {title}", "", *body, ""]
    if plan.notes:
        parts += ["## Notes", "", *[f"- {n}" for n in plan.notes], ""]
    parts += [
        "## Rollout spec",
        "",
        "Start it as is (register the models first):",
        "",
        "```sh",
        "llm-rollout models add MODELS.yaml",
        "llm-rollout start spec.yaml",
        "llm-rollout status",
        "```",
        "",
        "```yaml",
        spec_yaml(plan).rstrip(),
        "```",
        "",
    ]
    return "\n".join(parts)
