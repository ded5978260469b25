"""Synthetic traffic: Poisson arrivals with an optional daily cycle, from a population of users.

Arrivals are a Poisson process whose rate follows ``rate x (1 + amplitude x cos(...))`` over
the day, drawn exactly by thinning: candidate arrivals at the peak rate, each kept with
probability ``rate(t) / peak``. Every request belongs to a user drawn uniformly from the
population; the user's sticky bucket is :func:`llm_rollout.policy.bucket` (the gateway's own
function), hashed once per user the first time it appears.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import SpecError
from ..policy import bucket

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DAY = 86_400.0


@dataclass(frozen=True)
class Traffic:
    rate: float = 100.0  # requests per minute (the daily mean when a cycle is on)
    daily_cycle: float = 0.0  # amplitude of the daily cycle, 0 <= a < 1
    peak_hour: float = 14.0  # hour of the day traffic peaks
    start_hour: float = 10.0  # hour of the day the rollout starts
    users: int = 100_000  # population of sticky users

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        if not (math.isfinite(self.rate) and self.rate > 0):
            problems.append(
                ("rate", f"must be a finite number of requests/minute > 0, got {self.rate!r}")
            )
        if not (math.isfinite(self.daily_cycle) and 0 <= self.daily_cycle < 1):
            problems.append(
                ("daily_cycle", f"amplitude must be within [0, 1), got {self.daily_cycle!r}")
            )
        for name in ("peak_hour", "start_hour"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value < 24):
                problems.append((name, f"must be an hour within [0, 24), got {value!r}"))
        if isinstance(self.users, bool) or not isinstance(self.users, int) or self.users < 1:
            problems.append(("users", f"must be an integer >= 1, got {self.users!r}"))
        if problems:
            raise SpecError(problems, "traffic")

    def rate_at(self, t: FloatArray | float) -> FloatArray:
        """Requests per second at rollout time ``t`` (seconds)."""
        hours = np.asarray(t, dtype=np.float64) / 3600.0 + self.start_hour - self.peak_hour
        cycle = 1.0 + self.daily_cycle * np.cos(2 * np.pi * hours / 24.0)
        out: FloatArray = self.rate / 60.0 * cycle
        return out

    def arrivals(self, rng: np.random.Generator, t0: float, t1: float) -> FloatArray:
        """Sorted arrival times in ``[t0, t1)``."""
        peak = self.rate / 60.0 * (1.0 + self.daily_cycle)
        n = int(rng.poisson(peak * (t1 - t0)))
        times = np.sort(rng.uniform(t0, t1, n))
        if self.daily_cycle > 0:
            keep = rng.uniform(0.0, peak, n) < self.rate_at(times)
            times = times[keep]
        return times

    def expected(self, t0: float, t1: float) -> float:
        """Expected arrivals in ``[t0, t1)`` (closed form of the integral of rate_at)."""
        base = self.rate / 60.0 * (t1 - t0)
        if self.daily_cycle == 0:
            return base
        w = 2 * np.pi / DAY
        phase = (self.start_hour - self.peak_hour) * 3600.0 * w
        wave = (math.sin(w * t1 + phase) - math.sin(w * t0 + phase)) / w
        return base + self.rate / 60.0 * self.daily_cycle * wave


class UserBuckets:
    """Each user's sticky bucket, hashed with the gateway's function on first sight."""

    def __init__(self, salt: str, users: int) -> None:
        self.salt = salt
        self._buckets = np.full(users, -1, dtype=np.int64)

    def of(self, users: IntArray) -> IntArray:
        buckets = self._buckets[users]
        new = np.unique(users[buckets < 0])
        if new.size:
            self._buckets[new] = [bucket(self.salt, user_key(int(u))) for u in new]
            buckets = self._buckets[users]
        return buckets


def user_key(user: int) -> str:
    """The sticky key the simulated client sends for user number ``user``."""
    return f"user-{user}"
