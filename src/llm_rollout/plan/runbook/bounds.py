"""The "Gate bounds and the noise floor" section: each bound, why it is where it is, and the
gates the spec holds."""

from __future__ import annotations

from ..bounds import MARGIN
from ..model import Plan
from ..text import num, pct, table


def bounds_section(plan: Plan) -> list[str]:
    return [
        "Every bound must sit above the noise floor (how far two arms of the same model "
        f"drift apart, {plan.inputs.noise.source}) by {MARGIN:.0%} or identical models breach "
        "it. Ratios are "
        "relative to the planned candidate; the spec holds them times the planned change.",
        "",
        _bounds_table(plan),
        "",
        "Gates in the spec: " + _gate_list(plan) + ".",
    ]


def _bounds_table(plan: Plan) -> str:
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
