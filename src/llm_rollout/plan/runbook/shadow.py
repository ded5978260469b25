"""The "Shadow phase" section: the mirror, what sized it, what it costs, its alert rules."""

from __future__ import annotations

from ..model import Plan, ShadowNeed
from ..shadow import REACH
from ..text import count, duration, fraction, num, pct, table, usd


def shadow_section(plan: Plan) -> list[str]:
    s = plan.shadow
    alerts = ", ".join(f"`{g}` above {num(a, 4)}" for g, a in s.alerts)
    lines = [
        f"- Mirror **{fraction(s.sample)}** of served requests to the candidate for "
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
                    f"at {fraction(s.sample)}: time to {power}",
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
            f"({duration(s.duration)} at {fraction(s.sample)})."
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


def _shadow_spend(plan: Plan) -> str:
    s = plan.shadow
    c = plan.cost
    text = (
        f"- **Spend**: shadow calls are paid on top of the served ones (nothing is saved): "
        f"{fraction(s.sample)} x {c.requests_per_day:,.0f} requests x "
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
