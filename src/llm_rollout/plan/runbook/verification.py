"""The "Verification in the simulator" section: planned against simulated detection."""

from __future__ import annotations

from ..model import Plan
from ..text import duration, pct, table
from ..verify import TOLERANCE, Verification


def verification_section(plan: Plan, v: Verification) -> list[str]:
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
        "every step with a concurrent baseline. Rates with an exact 95% (Clopper-Pearson) "
        "interval.",
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
