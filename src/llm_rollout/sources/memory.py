"""A window source held in memory: columns appended as traffic happens.

The simulator's arms are this source (it appends each check interval's draws and the judge
reads the window through the same seam as the live controller); tests use it as a source that
needs no store. Columns grow in place with amortised doubling and observations arrive in time
order, so reading a window is two binary searches and a slice: the judge gets views of
everything so far without a copy.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..errors import InvalidDataError
from ..records import (
    Arm,
    ArmWindow,
    BoolArray,
    FloatArray,
    IntArray,
    Role,
    Window,
    WindowQuery,
)


class Observed(Protocol):
    """A batch of observations of one arm, column-wise (the simulator's ``Batch``)."""

    @property
    def time(self) -> FloatArray: ...
    @property
    def latency_ms(self) -> FloatArray: ...
    @property
    def ttft_ms(self) -> FloatArray: ...
    @property
    def cost_usd(self) -> FloatArray: ...
    @property
    def completion_tokens(self) -> FloatArray: ...
    @property
    def error(self) -> BoolArray: ...
    @property
    def refused(self) -> BoolArray: ...
    @property
    def rated(self) -> BoolArray: ...  # got any rating (served requests only)
    @property
    def negative(self) -> BoolArray: ...  # got a thumbs-down (served requests only)


_FLOATS = ("latency_ms", "ttft_ms", "cost_usd", "completion_tokens")
_FLAGS = ("error", "refused", "rated", "negative")


class ArmColumns:
    """One arm's observations in time order, grown in place."""

    def __init__(self, capacity: int = 1024) -> None:
        self._cap = capacity
        self.n = 0
        self._t = np.empty(capacity)
        self._f = np.empty((len(_FLOATS), capacity))
        self._b = np.empty((len(_FLAGS), capacity), dtype=np.bool_)
        self._u: IntArray | None = None  # units, once a batch has come with them

    def extend(self, batch: Observed, unit: IntArray | None = None) -> None:
        """Append a batch whose times are sorted and not before the last one appended."""
        times = batch.time
        k = int(times.shape[0])
        if k == 0:
            return
        if (self.n and float(times[0]) < float(self._t[self.n - 1])) or np.any(
            times[1:] < times[:-1]
        ):
            raise InvalidDataError("observations must be appended in time order")
        if (unit is None) != (self._u is None) and self.n:
            raise InvalidDataError("either every batch of an arm carries units or none does")
        end = self.n + k
        if end > self._cap:
            self._grow(max(end, 2 * self._cap))
        self._t[self.n : end] = times
        for i, name in enumerate(_FLOATS):
            self._f[i, self.n : end] = getattr(batch, name)
        for i, name in enumerate(_FLAGS):
            self._b[i, self.n : end] = getattr(batch, name)
        if unit is not None:
            if self._u is None:
                self._u = np.empty(self._cap, dtype=np.int64)
            self._u[self.n : end] = unit
        self.n = end

    def _grow(self, cap: int) -> None:
        n = self.n
        t, f = np.empty(cap), np.empty((len(_FLOATS), cap))
        b = np.empty((len(_FLAGS), cap), dtype=np.bool_)
        t[:n], f[:, :n], b[:, :n] = self._t[:n], self._f[:, :n], self._b[:, :n]
        if self._u is not None:
            u = np.empty(cap, dtype=np.int64)
            u[:n] = self._u[:n]
            self._u = u
        self._t, self._f, self._b, self._cap = t, f, b, cap

    def window(self, start: float, end: float) -> ArmWindow:
        """The observations with ``start <= time < end``, as views of the columns."""
        times = self._t[: self.n]
        lo = int(np.searchsorted(times, start, side="left"))
        hi = int(np.searchsorted(times, end, side="left"))
        negative = int(np.count_nonzero(self._b[3, lo:hi]))
        return ArmWindow(
            latency_ms=self._f[0, lo:hi],
            ttft_ms=self._f[1, lo:hi],
            cost_usd=self._f[2, lo:hi],
            completion_tokens=self._f[3, lo:hi],
            error=self._b[0, lo:hi],
            refused=self._b[1, lo:hi],
            negative_feedback=negative,
            feedback_count=int(np.count_nonzero(self._b[2, lo:hi])),
            unit=None if self._u is None else self._u[lo:hi],
        )


class InMemorySource:
    """Observations appended per (rollout, step, arm, role); read by :class:`WindowQuery`."""

    kind = "memory"

    def __init__(self) -> None:
        self._arms: dict[tuple[str, int, Arm, Role], ArmColumns] = {}

    def extend(
        self,
        rollout_id: str,
        step: int,
        arm: Arm,
        role: Role,
        batch: Observed,
        unit: IntArray | None = None,
    ) -> None:
        """Append a batch of one arm's calls (times sorted, after the arm's last ones)."""
        key = (rollout_id, step, arm, role)
        columns = self._arms.get(key)
        if columns is None:
            columns = self._arms[key] = ArmColumns()
        columns.extend(batch, unit)

    def clear(self) -> None:
        """Forget every observation (the simulator does at each new window, to bound memory)."""
        self._arms.clear()

    def read_window(self, query: WindowQuery) -> Window:
        def arm(arm: Arm, role: Role) -> ArmWindow:
            columns = self._arms.get((query.rollout_id, query.step, arm, role))
            return ArmWindow.empty() if columns is None else columns.window(query.start, query.end)

        return Window(
            arm(Arm.BASELINE, Role.SERVE),
            arm(Arm.CANDIDATE, query.role),
            query.candidate_weight,
            query.start,
            query.end,
        )

    def check(self) -> None:
        """Always reachable."""
