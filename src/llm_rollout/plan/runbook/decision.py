"""The "Go / no-go: cost versus quality" section: the strict and the tolerant path side by side."""

from __future__ import annotations

from ..model import Plan
from ..text import duration, table


def decision_section(plan: Plan) -> list[str]:
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
