"""The runbook's summary: models, traffic, cost, schedule, false rollbacks, detection, rollback."""

from __future__ import annotations

from ..model import Plan
from ..rollback import measured_text
from ..text import duration, fraction, pct, usd


def summary(plan: Plan) -> list[str]:
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
        f"{fraction(plan.shadow.sample)}, "
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
