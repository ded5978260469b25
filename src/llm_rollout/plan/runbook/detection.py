"""The "Detection by stage" section: each reference regression's cumulative detection
probability by the end of every stage."""

from __future__ import annotations

from ..model import Plan
from ..text import pct, table


def detection_section(plan: Plan) -> list[str]:
    return [
        "Probability that each reference regression, present from the start, "
        "is rolled back by the end of each stage (cumulative, one Monte Carlo "
        "of the whole plan):",
        "",
        _detection_table(plan),
    ]


def _detection_table(plan: Plan) -> str:
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
