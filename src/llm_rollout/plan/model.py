"""The plan: every number the runbook states, as plain data (rendered by :mod:`.runbook`,
exported by :mod:`.export`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..spec import RolloutSpec
from .inputs import PlanInputs
from .rollback import RollbackPlan


@dataclass(frozen=True)
class BoundChoice:
    """One gate bound (or alert threshold): requested by the risk level, planned, and why."""

    name: str  # e.g. "cost", "latency.p99", "output_length.mean_hi", "alert.cost"
    requested: float  # relative to the planned candidate (1.2 = 20% beyond plan)
    planned: float  # relative, after the noise check
    spec_value: float  # what the spec holds (relative x expected change)
    floor: float  # noise floor of the metric (deviation, e.g. 0.15)
    minimum: float  # the smallest relative bound that clears the floor
    raised: bool
    reason: str


@dataclass(frozen=True)
class Need:
    """What one reference regression needs at one step: checks to reach the power."""

    regression: str
    checks: int | None  # None: not within the step's longest dwell
    candidate_samples: float | None
    baseline_samples: float | None
    power: float  # detection probability reached at those checks (or at the longest dwell)


@dataclass(frozen=True)
class StepPlan:
    weight: float
    checks: int
    dwell: float  # seconds (= min_dwell)
    max_dwell: float
    min_samples: int
    candidate_per_min: float
    baseline_per_min: float
    candidate_samples: float  # expected at the end of the dwell
    baseline_samples: float
    sized_for: tuple[str, ...]  # reference regressions this step is sized to detect
    needs: tuple[Need, ...]
    cost_delta_per_day: float  # USD per day at this weight, candidate vs all-baseline
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShadowNeed:
    """What one reference regression needs in the shadow phase, at the planned sample."""

    regression: str
    gates: tuple[str, ...]  # the shadow rules it moves
    checks: int | None  # to reach the power at the planned sample; None: not within the phase
    candidate_samples: float | None  # shadow calls by then
    baseline_samples: float | None  # served baseline calls by then
    power: float  # reached at ``checks`` (else by the end of the phase)
    full_mirror_checks: int | None  # at a 100% mirror; None: not even within 4x the cap


@dataclass(frozen=True)
class ShadowPlan:
    sample: float
    checks: int
    duration: float
    min_samples: int
    candidate_samples: float
    baseline_samples: float
    alerts: tuple[tuple[str, float], ...]  # (gate, above) in the spec
    spend_per_day: float  # USD per day of shadow calls (extra: nothing is saved)
    spend_phase: float  # USD for the whole shadow phase
    max_duration: float = 0.0  # the longest shadow the needs could ask for (risk level's cap)
    floor_duration: float = 0.0  # the risk level's minimum duration
    floor_samples: int = 0  # the risk level's minimum shadow calls
    needs: tuple[ShadowNeed, ...] = ()  # every breach regression the shadow gates can see
    sized_for: tuple[str, ...] = ()  # those detected with the power within the phase
    driven_by: tuple[str, ...] = ()  # those whose need sets the duration (else the floor)
    not_judged: tuple[str, ...] = ()  # breach regressions no shadow gate sees (thumbs-down)
    max_concurrency: int = 32  # shadow calls in flight the gateway allows


@dataclass(frozen=True)
class Detection:
    """One reference regression: where the plan expects to catch it, with what probability."""

    regression: str  # e.g. "cost=1.25"
    label: str  # e.g. "cost x1.25"
    breach: bool  # beyond a bound of the plan (else it is tolerated by design)
    gates: tuple[str, ...]  # the statistics that can catch it
    stage: str | None  # the step sized for it (None: no step within the longest dwell)
    by_stage: tuple[tuple[str, float], ...]  # cumulative detection probability by stage
    stated: float  # the probability the plan states (cumulative at `stage`, else by the end)
    stated_stage: str
    note: str = ""


@dataclass(frozen=True)
class ABPlan:
    advised: bool
    why: str
    metric: str = "feedback"
    rule: str = "superiority"
    weight: float = 50.0
    margin: float = 0.0
    duration: float | None = None  # seconds; None: beyond the risk level's longest A/B
    samples_per_arm: float | None = None
    power: float = 0.0
    quality_gain: float = 0.0
    in_spec: bool = False


@dataclass(frozen=True)
class CostPlan:
    baseline_per_request: float
    candidate_per_request: float
    ratio: float  # expected candidate / baseline cost per request
    per_day_full: float  # USD per day at 100% candidate, vs all-baseline
    requests_per_day: float


@dataclass(frozen=True)
class Plan:
    inputs: PlanInputs
    spec: RolloutSpec
    bounds: tuple[BoundChoice, ...]
    shadow: ShadowPlan
    steps: tuple[StepPlan, ...]
    detections: tuple[Detection, ...]
    ab: ABPlan
    cost: CostPlan
    rollback: RollbackPlan
    expected_output_ratio: float
    dropped_steps: tuple[float, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    reps: int = 0
    search_reps: int = 0

    @property
    def stage_labels(self) -> tuple[str, ...]:
        return ("shadow", *(f"{s.weight:g}%" for s in self.steps))

    def total_duration(self) -> float:
        """Shadow and every step, through the 100% soak (the A/B step, if any, comes after)."""
        return self.shadow.duration + sum(s.dwell for s in self.steps)

    def time_to_promotion(self) -> float:
        """Until the controller promotes: after the 100% soak the A/B step in the spec must
        PASS first (its FAIL or an inconclusive end rolls back)."""
        ab = self.ab.duration if self.ab.in_spec and self.ab.duration is not None else 0.0
        return self.total_duration() + ab


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts; NaN and infinities to None (JSON has none of them)."""
    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
