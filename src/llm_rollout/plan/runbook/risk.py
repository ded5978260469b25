"""The "Risk level" section: what the chosen risk level sets."""

from __future__ import annotations

from ..model import Plan
from ..text import duration, table


def risk_section(plan: Plan) -> list[str]:
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
    return [table(["setting", "value"], rows)]
