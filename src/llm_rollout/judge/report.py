"""Rows for a verdict table (the CLI renders them with rich); plain strings, no styling."""

from __future__ import annotations

from ..verdict import StepDecision, Verdict
from . import _format

VERDICT_TABLE_HEADER = (
    "gate",
    "statistic",
    "outcome",
    "estimate",
    "interval",
    "bound",
    "n baseline",
    "n candidate",
    "method",
)


def _bound(v: Verdict) -> str:
    fmt = _format.bound_for(v.statistic)
    if v.direction == "outside" and v.bound_hi is not None:
        if v.bound_hi == v.bound:  # SRM: the interval must contain the weight
            return f"= {fmt(v.bound)}"
        return f"within {_format.interval(v.bound, v.bound_hi, fmt)}"
    return f"<= {fmt(v.bound)}"


def verdict_row(v: Verdict) -> list[str]:
    fmt = _format.formatter_for(v.statistic)
    critical = "" if v.critical else " (non-critical)"
    return [
        v.gate,
        v.statistic,
        f"{v.outcome.value}{critical}",
        fmt(v.estimate),
        _format.interval(v.lo, v.hi, fmt),
        _bound(v),
        str(v.n_baseline),
        str(v.n_candidate),
        v.method,
    ]


def verdict_table_rows(decision: StepDecision) -> list[list[str]]:
    """One row per verdict, columns as in :data:`VERDICT_TABLE_HEADER`; the SRM guard last."""
    rows = [verdict_row(v) for v in decision.verdicts]
    if decision.srm is not None:
        rows.append(verdict_row(decision.srm))
    return rows
