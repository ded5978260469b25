"""Helpers for testing code that uses llm-rollout (public API, like ``structlog.testing``).

- :class:`FakeClock`: an injectable clock that moves only when told to.
- :func:`memory_store`: a real SQLite store in memory, migrated.
- :func:`window`: a judging window from plain sequences, for gate tests.
- :func:`run_golden_cases`: run the judge's golden cases (or your own file of them).
- :func:`assert_tables_are_rectangular`: every Markdown table of a rendered report (runbook,
  noise floor, shadow report) has as many cells per row as its header.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .records import ArmWindow, Window

if TYPE_CHECKING:
    from .store.sqlite import SQLiteStore


@dataclass
class FakeClock:
    """Unix seconds that advance only by :meth:`advance`; call it to read the time."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.now += seconds
        return self.now


def memory_store() -> SQLiteStore:
    from .store.sqlite import SQLiteStore

    return SQLiteStore(":memory:")


def arm(
    latency_ms: Sequence[float],
    *,
    cost_usd: Sequence[float] | None = None,
    completion_tokens: Sequence[float] | None = None,
    ttft_ms: Sequence[float] | None = None,
    error: Sequence[bool] | None = None,
    refused: Sequence[bool] | None = None,
    negative_feedback: int = 0,
) -> ArmWindow:
    """One arm's window from plain sequences; omitted columns are zeros / False / NaN."""
    n = len(latency_ms)

    def col(values: Sequence[float] | None, fill: float) -> Any:
        return np.full(n, fill) if values is None else np.asarray(values, dtype=np.float64)

    def flags(values: Sequence[bool] | None) -> Any:
        return np.zeros(n, dtype=np.bool_) if values is None else np.asarray(values, bool)

    return ArmWindow(
        latency_ms=np.asarray(latency_ms, dtype=np.float64),
        ttft_ms=col(ttft_ms, np.nan),
        cost_usd=col(cost_usd, 0.0),
        completion_tokens=col(completion_tokens, 0.0),
        error=flags(error),
        refused=flags(refused),
        negative_feedback=negative_feedback,
        feedback_count=negative_feedback,
    )


def window(baseline: ArmWindow, candidate: ArmWindow, candidate_weight: float = 0.1) -> Window:
    return Window(baseline=baseline, candidate=candidate, candidate_weight=candidate_weight)


def run_golden_cases(path: str | Path | None = None) -> list[tuple[str, bool, str]]:
    """Run golden judge cases; returns ``(case id, passed, detail)`` per case."""
    from .judge.evaluation.golden import run_cases

    return run_cases(path)


def _cells(line: str) -> int:
    """Cells of a Markdown table row (escaped pipes are content)."""
    return len(re.split(r"(?<!\\)\|", line)) - 2


def assert_tables_are_rectangular(md: str) -> None:
    """Every table row has as many cells as its header: GitHub renders it as a table."""
    width = None
    for line in [*md.splitlines(), ""]:
        if line.startswith("| "):
            assert line.endswith(" |"), line
            width = width or _cells(line)
            assert _cells(line) == width, line
        else:
            width = None
