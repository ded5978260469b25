"""Small formatting helpers for the Markdown documents (runbook, calibration, shadow report)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..display import duration_text


def duration(seconds: float | None) -> str:
    """:func:`llm_rollout.display.duration_text` (``45 s``, ``2 h 20 min``), in days from 48
    hours on (``3 d 6 h``: plans can run for days), ``-`` for none or a non-finite value."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    minutes = round(seconds / 60)
    if minutes < 48 * 60:
        return duration_text(seconds)
    days, hours = divmod(minutes // 60, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def count(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{round(x):,}"


def usd(x: float) -> str:
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 100:
        return f"{sign}${x:,.0f}"
    if x >= 1:
        return f"{sign}${x:,.2f}"
    if x >= 0.01:
        return f"{sign}${x:.3f}"
    return f"{sign}${x:.3g}" if x > 0 else "$0"


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{100 * x:.{digits}f}%"


def fraction(x: float) -> str:
    """A sample fraction as the spec reads it: 5.6%, 37%, 100%."""
    return f"{100 * x:.3g}%"


def num(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if math.isnan(x):
        return "-"
    return f"{x:.{digits}g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` is one letter per column (l, r, c)."""

    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    marks = {"l": "---", "r": "---:", "c": ":---:"}
    spec = align or "l" * len(header)
    lines = [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "| " + " | ".join(marks[a] for a in spec) + " |",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
