"""Phases as the detection model sees them: the expected requests of each arm per check window.

In a canary step of weight ``w`` the candidate serves ``w`` of the traffic and the baseline the
rest. In the shadow phase the baseline serves everything and a sample ``s`` of those requests
is mirrored to the candidate, so the candidate gets ``s`` times the baseline's calls; at a 100%
mirror both arms get the whole traffic.
"""

from __future__ import annotations

import math

from ..sim.traffic import Traffic
from .detect import Stage
from .inputs import PlanInputs


def traffic_of(inputs: PlanInputs) -> Traffic:
    return Traffic(inputs.rate, inputs.daily_cycle, inputs.peak_hour, inputs.start_hour)


def windows(traffic: Traffic, start: float, checks: int, interval: float) -> list[float]:
    """Expected requests in each check window from ``start`` (seconds into the rollout)."""
    return [
        traffic.expected(start + k * interval, start + (k + 1) * interval) for k in range(checks)
    ]


def canary_stage(
    label: str, traffic: Traffic, start: float, checks: int, interval: float, weight: float
) -> Stage:
    per = windows(traffic, start, checks, interval)
    w = weight / 100.0
    return Stage(label, tuple(x * (1 - w) for x in per), tuple(x * w for x in per))


def shadow_stage(
    traffic: Traffic, start: float, checks: int, interval: float, sample: float
) -> Stage:
    per = windows(traffic, start, checks, interval)
    return Stage("shadow", tuple(per), tuple(x * sample for x in per), feedback=False)


def min_samples(expected: float) -> int:
    """A sample minimum the expected traffic reaches with ~99.9% probability (Poisson)."""
    return max(1, math.floor(expected - 3.0 * math.sqrt(max(expected, 0.0))))
