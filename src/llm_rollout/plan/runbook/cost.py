"""The "Cost" section: cost per request and per day of every stage."""

from __future__ import annotations

from ..model import Plan
from ..text import duration, fraction, table, usd


def cost_section(plan: Plan) -> list[str]:
    c = plan.cost
    rows = [
        [
            "shadow",
            f"{fraction(plan.shadow.sample)} mirrored",
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
    return [
        head,
        "",
        table(["stage", "traffic", "cost delta per day", "during the stage"], rows, "llrl"),
    ]
