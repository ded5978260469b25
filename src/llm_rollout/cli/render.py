"""Rich renderings shared by the commands."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text

from ..verdict import Outcome, StepDecision, Verdict

STYLE = {
    Outcome.PASS: "green",
    Outcome.FAIL: "bold red",
    Outcome.INCONCLUSIVE: "yellow",
    Outcome.NODATA: "dim",
}


def _num(x: float) -> str:
    if math.isnan(x):
        return "-"
    if x in (float("inf"), float("-inf")):
        return "∞" if x > 0 else "-∞"
    return f"{x:.4g}"


def _bound(v: Verdict) -> str:
    if v.direction == "outside" and v.bound_hi is not None:
        return f"[{_num(v.bound)}, {_num(v.bound_hi)}]"
    sign = "<" if v.direction == "below" else ">"
    return f"{sign} {_num(v.bound)}"


def decision_table(decision: StepDecision, title: str | None = None) -> Table:
    heading = title or f"step decision: {decision.outcome.value}"
    table = Table(title=heading, title_style=STYLE[decision.outcome])
    for col in (
        "gate",
        "statistic",
        "verdict",
        "estimate",
        "interval",
        "breach",
        "n base",
        "n cand",
        "method",
    ):
        table.add_column(col, justify="right" if col.startswith(("n ", "est")) else "left")
    rows = list(decision.verdicts) + ([decision.srm] if decision.srm is not None else [])
    for v in rows:
        table.add_row(
            v.gate + ("" if v.critical else " (non-critical)"),
            v.statistic,
            Text(v.outcome.value, style=STYLE[v.outcome]),
            _num(v.estimate),
            f"[{_num(v.lo)}, {_num(v.hi)}]",
            _bound(v),
            str(v.n_baseline),
            str(v.n_candidate),
            v.method,
        )
    return table
