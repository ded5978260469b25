"""How results read on a screen, in one place for the CLI, the demo and the simulator's reports.

Pure functions and constants, no rich import: styles are rich style strings.

- :func:`outcome_style`: the colour of a verdict outcome (PASS green, FAIL bold red, ...).
- :data:`EVENT_STYLE`: the colour of the audit events that end a step or a rollout.
- :func:`duration_text` (``3 h 10 min``), :func:`short_duration` (``2.5m``) and
  :func:`clock` (``3:10``): seconds as text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .verdict import Outcome

#: Keyed by :class:`~llm_rollout.verdict.Outcome`, a ``str`` enum: ``"FAIL"`` finds FAIL too.
OUTCOME_STYLE: Mapping[str, str] = {
    Outcome.PASS: "green",
    Outcome.FAIL: "bold red",
    Outcome.INCONCLUSIVE: "yellow",
    Outcome.NODATA: "dim",
}

#: Audit events worth a colour in an event list; every other kind is plain.
EVENT_STYLE: Mapping[str, str] = {
    "rolled_back": "bold red",
    "paused": "bold red",
    "promoted": "bold green",
}


def outcome_style(outcome: str) -> str:
    """The style of an :class:`~llm_rollout.verdict.Outcome` or of its value (``"FAIL"``);
    empty for anything else."""
    return OUTCOME_STYLE.get(outcome, "")


def duration_text(seconds: float) -> str:
    """``45 s``, ``14 min``, ``3 h 10 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")


def short_duration(seconds: float | None) -> str:
    """``42.0s``, ``2.5m``, ``3.1h``; ``-`` for none or a non-finite value."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def clock(seconds: float) -> str:
    """Time since the start as hours and minutes: ``0:05``, ``3:10``."""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"
