"""Risk tolerance: what ``low``, ``medium`` and ``high`` mean in numbers.

A risk level fixes the rollout's false-rollback rate (alpha), the detection power each step is
sized for (1 - beta), the step list, the gate bounds, the shadow phase and how long a step may
reasonably dwell. ``medium`` is the spec's built-in defaults; ``low`` is slower and stricter
(more steps, tighter bounds, more power); ``high`` is faster and looser.

=========  =====  =====  ===========================  ==============  ==================  ==========
level      alpha  power  steps (%)                    dwell target    shadow: minimum     bounds
                                                      / longest       / longest
=========  =====  =====  ===========================  ==============  ==================  ==========
low        0.005  0.95   1, 5, 10, 25, 50, 75, 100    2 h / 8 h       30 min, 1000 / 4 h  cost 1.1
medium     0.01   0.90   1, 10, 25, 50, 75, 100       1 h / 4 h       15 min, 500 / 2 h   defaults
high       0.05   0.80   10, 50, 100                  30 min / 1 h    10 min, 300 / 1 h   cost 1.3
=========  =====  =====  ===========================  ==============  ==================  ==========

A reference regression is assigned to the first (smallest) step that detects it within the
dwell target; when none does, to the step that detects it fastest within the longest dwell.

The shadow phase is sized for the regressions its gates can see, up to its longest duration:
twice the dwell target, never more than the longest step dwell. Shadow exposes no user, so it
may take longer than a step is meant to; but every hour of it delays the whole rollout and
mirrored calls are paid on top of the served ones, so it gets no more wall time than the one
step allowed to dwell longest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError


@dataclass(frozen=True)
class Bounds:
    """Breach bounds of every gate and shadow alert, relative to the *expected* candidate.

    Ratios are candidate / baseline after dividing out what the candidate is planned to change
    (e.g. its price): a cost bound of 1.2 with a candidate planned at 3x becomes 3.6 in the spec.
    """

    cost: float
    latency_p50: float
    latency_p99: float
    ttft_p99: float
    output_mean: tuple[float, float]
    output_p99: float
    output_ks: float
    errors: tuple[float, float]  # (ratio, absolute floor)
    refusals: tuple[float, float]
    feedback: tuple[float, float]
    alert_cost: float
    alert_latency_p99: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost": self.cost,
            "latency_p50": self.latency_p50,
            "latency_p99": self.latency_p99,
            "ttft_p99": self.ttft_p99,
            "output_mean": list(self.output_mean),
            "output_p99": self.output_p99,
            "output_ks": self.output_ks,
            "errors": list(self.errors),
            "refusals": list(self.refusals),
            "feedback": list(self.feedback),
            "alert_cost": self.alert_cost,
            "alert_latency_p99": self.alert_latency_p99,
        }


@dataclass(frozen=True)
class RiskLevel:
    name: str
    alpha: float  # false-rollback rate of the whole rollout
    power: float  # detection probability each detecting step is sized for (1 - beta)
    steps: tuple[float, ...]
    bounds: Bounds
    check_interval: float = 300.0  # seconds
    min_dwell: float = 600.0  # shortest step dwell, seconds
    max_dwell: float = 14_400.0  # longest dwell a step may be planned for, seconds
    target_dwell: float = 3600.0  # a regression goes to the first step detecting it this fast
    min_step_samples: int = 200  # candidate samples below which a step judges nothing useful
    shadow_duration: float = 900.0  # shortest shadow phase, seconds (a floor)
    shadow_samples: int = 500  # shadow calls the phase should give at least (a floor)
    shadow_max_duration: float = 7200.0  # longest shadow phase the gates' needs may ask for
    soak: float = 900.0  # dwell of the 100% step (no concurrent baseline: nothing to judge)
    ab_max_duration: float = 7 * 86_400.0  # longest A/B step worth proposing
    description: str = ""
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "alpha": self.alpha,
            "power": self.power,
            "steps": list(self.steps),
            "bounds": self.bounds.to_dict(),
            "check_interval": self.check_interval,
            "min_dwell": self.min_dwell,
            "max_dwell": self.max_dwell,
            "target_dwell": self.target_dwell,
            "min_step_samples": self.min_step_samples,
            "shadow_duration": self.shadow_duration,
            "shadow_samples": self.shadow_samples,
            "shadow_max_duration": self.shadow_max_duration,
            "soak": self.soak,
            "ab_max_duration": self.ab_max_duration,
            "description": self.description,
        }


RISK_LEVELS: dict[str, RiskLevel] = {
    "low": RiskLevel(
        name="low",
        alpha=0.005,
        power=0.95,
        steps=(1, 5, 10, 25, 50, 75, 100),
        bounds=Bounds(
            cost=1.1,
            latency_p50=1.25,
            latency_p99=1.25,
            ttft_p99=1.25,
            output_mean=(0.85, 1.15),
            output_p99=1.3,
            output_ks=0.15,
            errors=(1.5, 0.002),
            refusals=(1.5, 0.002),
            feedback=(1.25, 0.003),
            alert_cost=1.25,
            alert_latency_p99=1.5,
        ),
        min_dwell=900.0,
        max_dwell=28_800.0,
        target_dwell=7200.0,
        shadow_duration=1800.0,
        shadow_samples=1000,
        shadow_max_duration=14_400.0,
        soak=1800.0,
        ab_max_duration=14 * 86_400.0,
        description="slow and strict: more steps, tighter bounds, 95% power, 0.5% false rollbacks",
    ),
    "medium": RiskLevel(
        name="medium",
        alpha=0.01,
        power=0.90,
        steps=(1, 10, 25, 50, 75, 100),
        bounds=Bounds(
            cost=1.2,
            latency_p50=1.5,
            latency_p99=1.5,
            ttft_p99=1.5,
            output_mean=(0.8, 1.25),
            output_p99=1.5,
            output_ks=0.2,
            errors=(2.0, 0.005),
            refusals=(2.0, 0.005),
            feedback=(1.5, 0.005),
            alert_cost=1.4,
            alert_latency_p99=2.0,
        ),
        description="the spec's built-in bounds and steps, 90% power, 1% false rollbacks",
    ),
    "high": RiskLevel(
        name="high",
        alpha=0.05,
        power=0.80,
        steps=(10, 50, 100),
        bounds=Bounds(
            cost=1.3,
            latency_p50=2.0,
            latency_p99=2.0,
            ttft_p99=2.0,
            output_mean=(0.7, 1.4),
            output_p99=2.0,
            output_ks=0.3,
            errors=(3.0, 0.01),
            refusals=(3.0, 0.01),
            feedback=(2.0, 0.01),
            alert_cost=1.6,
            alert_latency_p99=3.0,
        ),
        min_dwell=300.0,
        max_dwell=3600.0,
        target_dwell=1800.0,
        min_step_samples=100,
        shadow_duration=600.0,
        shadow_samples=300,
        shadow_max_duration=3600.0,
        soak=600.0,
        ab_max_duration=2 * 86_400.0,
        description="fast and loose: three steps, looser bounds, 80% power, 5% false rollbacks",
    ),
}


def risk_level(name: str) -> RiskLevel:
    """The level by name; SpecError naming the input otherwise."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in RISK_LEVELS:
        known = ", ".join(RISK_LEVELS)
        raise SpecError([("--risk", f"unknown risk level {name!r}; expected {known}")], "plan")
    return RISK_LEVELS[key]
