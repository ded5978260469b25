"""The "Canary steps" section: each step's dwell, traffic, samples and cost."""

from __future__ import annotations

from ..model import Plan
from ..text import count, duration, table, usd


def steps_section(plan: Plan) -> list[str]:
    return [
        _steps_table(plan),
        "",
        "`require: no-breach`: a step advances after its dwell unless a critical "
        "gate confidently breaches (`pass` would also wait for every rare-event "
        "gate to show it is inside its bound, which takes hours at this "
        "traffic); `on_inconclusive: hold` pauses a step that misses its "
        "samples by `max_dwell`.",
        *_steps_after_shadow(plan),
    ]


def _steps_table(plan: Plan) -> str:
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
