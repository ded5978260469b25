"""The shadow phase, sized from the samples its gates need.

Shadow calls are judged by every gate except thumbs-down (they get no feedback) and by the
alert rules, with no user exposed. For each reference regression those gates can see, the
detection model (:mod:`.detect`) gives the checks the gates need to reach the risk level's
power at a sample fraction ``s``; the baseline arm is the whole served traffic, so at a 100%
mirror both arms grow as fast as they ever can.

Mirrored calls are paid on top of the served ones, so the plan takes the **smallest** ``s`` at
which every regression that a 100% mirror catches within the longest shadow (the risk level's
cap) is caught within that cap, and runs the phase as long as the slowest of them needs. A
smaller fraction takes longer but costs less per day and no more per phase: the baseline arm
keeps growing at full traffic, so fewer shadow calls carry the comparison.
Regressions that even a 100% mirror cannot catch within the cap are left to the canary steps,
with a warning. The risk level's minimum duration and shadow calls stay a floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..profile import ModelProfile
from ..sim.traffic import Traffic
from ._arm import Arm
from .detect import FloatArray, Rule, stage_curve
from .model import ShadowNeed
from .stages import shadow_stage
from .text import duration

# 1% .. 100% in two significant digits: the fractions a spec is written with.
SAMPLE_LADDER: tuple[float, ...] = tuple(
    [m / 1000 for m in range(10, 100)] + [m / 100 for m in range(10, 101)]
)
SMALLEST_SAMPLE = 0.01
REACH = 4  # how far beyond the cap a 100% mirror is searched, to say what the cap cost
DEFAULT_CONCURRENCY = 32  # the spec's default max_concurrency of shadow calls


@dataclass(frozen=True)
class ShadowCase:
    """A reference regression as the shadow gates see it."""

    label: str
    candidate: Arm  # the candidate carrying the regression
    rules: tuple[Rule, ...]  # the shadow rules of the statistics that differ between the arms
    gates: tuple[str, ...]  # the labels of those the regression itself moves


@dataclass(frozen=True)
class ShadowModel:
    """Everything a detection run of the shadow phase needs besides the case and the sample."""

    traffic: Traffic
    interval: float
    base: Arm
    power: float
    drift: float
    run_variation: float
    reps: int
    seed: int

    def curve(
        self, case: ShadowCase, index: int, sample: float, checks: int, stop: bool = True
    ) -> FloatArray:
        """``P(detected by check k)``. One seed per case at every sample (common random
        numbers), so a larger fraction never looks worse by chance."""
        return stage_curve(
            shadow_stage(self.traffic, 0.0, checks, self.interval, sample),
            self.base,
            case.candidate,
            list(case.rules),
            drift=self.drift,
            run_variation=self.run_variation,
            reps=self.reps,
            seed=self.seed + 31 * index,
            stop_at=self.power if stop else None,
        )

    def checks_to_power(
        self, case: ShadowCase, index: int, sample: float, max_checks: int
    ) -> int | None:
        curve = self.curve(case, index, sample, max_checks)
        hit = np.flatnonzero(curve >= self.power)
        return int(hit[0]) + 1 if hit.size else None


@dataclass(frozen=True)
class ShadowSizing:
    sample: float
    checks: int
    needs: tuple[ShadowNeed, ...]
    sized_for: tuple[str, ...]
    driven_by: tuple[str, ...]
    warnings: tuple[str, ...]


def round_up_fraction(raw: float) -> float:
    """At least 1%, at most 100%, rounded up to two significant digits."""
    raw = min(1.0, max(SMALLEST_SAMPLE, raw))
    digits = 1 - math.floor(math.log10(raw))
    return float(min(1.0, math.ceil(raw * 10**digits - 1e-9) / 10**digits))


def floor_design(
    rate: float, floor_duration: float, floor_samples: int, interval: float
) -> tuple[float, int]:
    """The risk level's minimum: ``floor_samples`` shadow calls within ``floor_duration``."""
    sample = round_up_fraction(floor_samples / max(rate * floor_duration / 60.0, 1e-9))
    checks = max(1, math.ceil(floor_duration / interval))
    while rate * sample * checks * interval / 60 < floor_samples and checks < 288:
        checks += 1
    return sample, checks


def smallest_sample(
    model: ShadowModel, cases: list[tuple[int, ShadowCase]], cap_checks: int, lowest: float
) -> float:
    """The smallest ladder fraction >= ``lowest`` at which every case reaches the power within
    ``cap_checks`` (binary search; detection grows with the fraction)."""
    ladder = [s for s in SAMPLE_LADDER if s >= lowest] or [1.0]

    def enough(sample: float) -> bool:
        return all(
            model.checks_to_power(case, i, sample, cap_checks) is not None for i, case in cases
        )

    lo, hi = 0, len(ladder) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if enough(ladder[mid]):
            hi = mid
        else:
            lo = mid + 1
    return ladder[lo]


def _need(
    model: ShadowModel,
    case: ShadowCase,
    index: int,
    sample: float,
    checks: int,
    cap_checks: int,
    full_mirror: int | None,
) -> ShadowNeed:
    """The need at the planned sample, read off the same curve the search used (drawn over
    the cap's checks: the random draws depend on the stage's length)."""
    stage = shadow_stage(model.traffic, 0.0, checks, model.interval, sample)
    curve = model.curve(case, index, sample, cap_checks, stop=False)[:checks]
    hit = np.flatnonzero(curve >= model.power)
    if not hit.size:
        return ShadowNeed(case.label, case.gates, None, None, None, float(curve[-1]), full_mirror)
    k = int(hit[0]) + 1
    return ShadowNeed(
        case.label,
        case.gates,
        k,
        sum(stage.candidate[:k]),
        sum(stage.baseline[:k]),
        float(curve[k - 1]),
        full_mirror,
    )


def _beyond_cap_warning(
    model: ShadowModel, case: ShadowCase, index: int, cap: float, cap_checks: int, flag: str
) -> tuple[int | None, str]:
    """How long a 100% mirror would need (searched up to REACH x the cap), as a warning."""
    far = model.curve(case, index, 1.0, REACH * cap_checks)
    hit = np.flatnonzero(far >= model.power)
    head = (
        f"{case.label}: the shadow phase cannot detect it with {model.power:.0%} power within "
        f"its longest duration ({duration(cap)})"
    )
    if hit.size:
        k = int(hit[0]) + 1
        need = k * model.interval
        return k, (
            f"{head}; a 100% mirror would need {duration(need)} "
            f"(pass {flag} {math.ceil(need / 3600)}h to plan it)"
        )
    return None, (f"{head}; even {duration(REACH * cap)} of a 100% mirror reach only {far[-1]:.0%}")


def size_shadow(
    model: ShadowModel,
    cases: list[ShadowCase],
    *,
    rate: float,
    floor_duration: float,
    floor_samples: int,
    cap: float,
    cap_flag: str = "--max-shadow",
) -> ShadowSizing:
    """Sample fraction and checks of the shadow phase for ``cases`` (see the module doc)."""
    interval = model.interval
    floor_sample, floor_checks = floor_design(rate, floor_duration, floor_samples, interval)
    cap_checks = max(floor_checks, math.floor(cap / interval))
    full: dict[int, int | None] = {}
    warnings: list[str] = []
    reachable: list[tuple[int, ShadowCase]] = []
    for i, case in enumerate(cases):
        k = model.checks_to_power(case, i, 1.0, cap_checks)
        if k is None:
            k, text = _beyond_cap_warning(model, case, i, cap, cap_checks, cap_flag)
            warnings.append(text)
        else:
            reachable.append((i, case))
        full[i] = k
    if not reachable:
        sample, checks = floor_sample, floor_checks
    else:
        sample = smallest_sample(model, reachable, cap_checks, SMALLEST_SAMPLE)
        needed = [model.checks_to_power(c, i, sample, cap_checks) for i, c in reachable]
        checks = max(floor_checks, *(k or cap_checks for k in needed))
        # The floor's shadow calls, if the needs ask for fewer (a tiny fraction over a long phase)
        enough = floor_samples / max(rate * checks * interval / 60.0, 1e-9)
        sample = max(sample, round_up_fraction(enough))
    needs = tuple(
        _need(model, c, i, sample, checks, cap_checks, full[i]) for i, c in enumerate(cases)
    )
    sized_for = tuple(n.regression for n in needs if n.checks is not None)
    slowest = max((n.checks or 0 for n in needs if n.regression in sized_for), default=0)
    driven_by = (
        tuple(n.regression for n in needs if n.checks == slowest)
        if slowest >= floor_checks and slowest > 0
        else ()
    )
    return ShadowSizing(sample, checks, needs, sized_for, driven_by, tuple(warnings))


def shadow_concurrency(sample: float, rate: float, candidate: ModelProfile) -> int:
    """Shadow calls in flight the gateway must allow, or it sheds the samples the plan counts
    on: the mean in flight (Little's law, the candidate's mean latency) plus four Poisson
    standard deviations, half again for latency drift; never below the spec's default."""
    mean_latency = candidate.latency_ms / 1000.0 * math.exp(candidate.latency_sigma**2 / 2)
    in_flight = sample * rate / 60.0 * mean_latency
    wanted = math.ceil(1.5 * (in_flight + 4.0 * math.sqrt(in_flight)))
    return max(DEFAULT_CONCURRENCY, wanted)
