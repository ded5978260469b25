"""The noise profile: how far two arms of the *same* model drift apart, per metric.

``llm-rollout calibrate`` writes it (from an A/A split in the store, or from a simulation);
``llm-rollout plan`` reads it. Per metric it holds the window-to-window variation of the arm
ratio, split into what sampling alone explains and the systematic rest (LLM non-determinism,
provider load), and from that the *noise floor*: the ratio deviation the systematic part
reaches with probability ``target``. A gate bound must sit above ``1 + floor`` or identical
models will breach it.

The floor is ``exp(multiplier x drift_sd) - 1`` with ``multiplier = z(1 - target)``, the normal
quantile: it assumes the deviation of one window may persist for a whole step (provider load
does), which is conservative when windows drift independently.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

from ..errors import SpecError

KIND = "llm-rollout noise profile"
VERSION = 1

# metric -> what it is, for reports
METRICS: dict[str, str] = {
    "cost": "mean cost per request",
    "latency_p50": "p50 latency",
    "latency_p99": "p99 latency",
    "ttft_p99": "p99 time to first token",
    "output_mean": "mean completion tokens",
    "output_p99": "p99 completion tokens",
    "errors": "error rate",
    "refusals": "refusal rate",
    "feedback": "thumbs-down rate",
}
# Continuous metrics whose drift is measured well enough to set the simulator's drift.
DRIFT_METRICS = ("cost", "latency_p50", "output_mean")

DEFAULT_DRIFT = 0.07  # the simulator's default: +-7% per arm and window (ratio up to ~15%)
DEFAULT_RUN_VARIATION = 0.02
DEFAULT_TARGET = 0.01


def multiplier(target: float) -> float:
    """``z(1 - target)``: the one-sided normal quantile (2.33 for 1%)."""
    return NormalDist().inv_cdf(1.0 - target)


def drift_sd_of(drift: float, run_variation: float) -> float:
    """The sd of the log arm ratio when each arm drifts by a uniform factor in
    ``[1 - drift, 1 + drift]`` per window plus a per-run one in ``[1 - rv, 1 + rv]``."""
    return math.sqrt(2.0 / 3.0 * (drift**2 + run_variation**2))


def floor_of(drift_sd: float, mult: float) -> float:
    return math.expm1(mult * drift_sd)


@dataclass(frozen=True)
class MetricNoise:
    """One metric's arm-to-arm variation across windows (log scale)."""

    windows: int
    sd: float  # RMS of log(candidate / baseline) over windows (A/A: the truth is 0)
    sampling_sd: float  # the part sampling alone explains (per window, RMS)
    drift_sd: float  # sqrt(max(sd^2 - sampling_sd^2, 0)): the systematic part
    max_deviation: float  # largest |ratio - 1| seen in one window
    floor: float  # exp(multiplier x drift_sd) - 1
    multiplier: float
    assumed: bool = False  # sampling hid the drift: the continuous metrics' drift is assumed

    @property
    def drift(self) -> float:
        """The per-arm uniform drift amplitude with this sd (run variation included)."""
        return self.drift_sd * math.sqrt(1.5)


@dataclass(frozen=True)
class NoiseProfile:
    source: str  # "simulation" or "store"
    model: str | None  # registry ref of the measured model (None: a generic simulation)
    window_seconds: float
    target: float
    drift: float  # per-arm drift amplitude for the simulator
    run_variation: float
    metrics: dict[str, MetricNoise]
    baseline: dict[str, float] = field(default_factory=dict)  # measured ModelProfile fields
    description: str = ""

    @property
    def model_digest(self) -> str | None:
        if self.model is None or "@sha256:" not in self.model:
            return None
        return self.model.split("@sha256:", 1)[1]

    def floor(self, metric: str) -> float:
        m = self.metrics.get(metric)
        if m is None:
            return floor_of(drift_sd_of(self.drift, self.run_variation), multiplier(self.target))
        return m.floor

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "version": VERSION,
            "source": self.source,
            "model": self.model,
            "window_seconds": self.window_seconds,
            "target": self.target,
            "drift": self.drift,
            "run_variation": self.run_variation,
            "metrics": {k: asdict(v) for k, v in self.metrics.items()},
            "baseline": dict(self.baseline),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "noise profile") -> NoiseProfile:
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise SpecError(
                [
                    (
                        "(root)",
                        f"not a noise profile (expected kind: {KIND!r}); write one with "
                        "llm-rollout calibrate",
                    )
                ],
                source,
            )
        try:
            metrics = {str(k): MetricNoise(**v) for k, v in dict(data["metrics"]).items()}
            profile = cls(
                source=str(data["source"]),
                model=None if data.get("model") is None else str(data["model"]),
                window_seconds=float(data["window_seconds"]),
                target=float(data["target"]),
                drift=float(data["drift"]),
                run_variation=float(data["run_variation"]),
                metrics=metrics,
                baseline={str(k): float(v) for k, v in dict(data.get("baseline", {})).items()},
                description=str(data.get("description", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError([("(root)", f"malformed noise profile: {exc}")], source) from exc
        bad = [
            (name, "must be a finite number >= 0")
            for name, value in (("drift", profile.drift), ("run_variation", profile.run_variation))
            if not (math.isfinite(value) and 0 <= value < 1)
        ]
        if not 0 < profile.target < 0.5:
            bad.append(("target", "must be within (0, 0.5)"))
        if bad:
            raise SpecError(bad, source)
        return profile


def default_profile(target: float = DEFAULT_TARGET) -> NoiseProfile:
    """The simulator's default non-determinism (+-7% per arm and window, +-2% per run), used
    when no calibration is given (the planner warns)."""
    sd = drift_sd_of(DEFAULT_DRIFT, DEFAULT_RUN_VARIATION)
    mult = multiplier(target)
    metric = MetricNoise(0, sd, 0.0, sd, 0.0, floor_of(sd, mult), mult)
    return NoiseProfile(
        source="default",
        model=None,
        window_seconds=300.0,
        target=target,
        drift=DEFAULT_DRIFT,
        run_variation=DEFAULT_RUN_VARIATION,
        metrics=dict.fromkeys(METRICS, metric),
        description="assumed: each arm drifts +-7% per window and +-2% per run (not measured)",
    )


def load_noise(path: str | Path) -> NoiseProfile:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except OSError as exc:
        raise SpecError([("--noise", f"cannot read {p}: {exc.strerror}")], "plan") from exc
    except json.JSONDecodeError as exc:
        raise SpecError([("--noise", f"{p} is not JSON: {exc.msg}")], "plan") from exc
    return NoiseProfile.from_dict(data, f"noise profile {p}")
