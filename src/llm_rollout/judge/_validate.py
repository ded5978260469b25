"""Input checks before any statistic runs: impossible data raises InvalidDataError.

``ArmWindow.validate`` rejects NaN and negative values; this module adds what a numpy call
would otherwise turn into a traceback or, worse, silent nonsense: columns of different
lengths, non-numeric columns, integer ``error`` flags (``~`` on ints is a bitwise not), and a
policy weight outside [0, 1]. Every message names the arm.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidDataError
from ..records import ArmWindow, Window

_NUMERIC = ("latency_ms", "ttft_ms", "cost_usd", "completion_tokens")
_FLAGS = ("error", "refused")


def _check_columns(label: str, arm: ArmWindow) -> None:
    n: int | None = None
    for name in (*_NUMERIC, *_FLAGS):
        col = getattr(arm, name)
        if not isinstance(col, np.ndarray) or col.ndim != 1:
            raise InvalidDataError(f"{label} arm: {name} must be a one-dimensional numpy array")
        if name in _FLAGS and col.dtype != np.bool_:
            raise InvalidDataError(f"{label} arm: {name} must be boolean, got {col.dtype}")
        if name in _NUMERIC and col.dtype.kind not in "fiu":
            raise InvalidDataError(f"{label} arm: {name} must be numeric, got {col.dtype}")
        if n is None:
            n = col.shape[0]
        elif col.shape[0] != n:
            raise InvalidDataError(
                f"{label} arm: column {name} has {col.shape[0]} values, latency_ms has {n}"
            )


def validate_window(window: Window) -> None:
    """Raise :class:`InvalidDataError` (naming the arm and column) on impossible data."""
    weight = window.candidate_weight
    if not isinstance(weight, int | float) or not math.isfinite(weight) or not 0 <= weight <= 1:
        raise InvalidDataError(f"candidate_weight must be a share within [0, 1], got {weight!r}")
    for label, arm in (("baseline", window.baseline), ("candidate", window.candidate)):
        _check_columns(label, arm)
        try:
            arm.validate()
        except InvalidDataError as exc:
            raise InvalidDataError(f"{label} arm: {exc}") from exc
