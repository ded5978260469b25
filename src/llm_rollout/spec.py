"""The rollout spec: what to roll out, how fast, and which gates judge each step.

A spec is YAML validated by pydantic. Every problem is reported at once, by field path, as a
:class:`~llm_rollout.errors.SpecError`; ``llm-rollout schema`` prints the JSON Schema. The
defaults reproduce the breach rules of the design: P99 latency ratio > 1.5, cost ratio > 1.2,
error / refusal rate > 2x baseline + floor, output length mean outside [0.8, 1.25] or P99 ratio
> 1.5 or a KS shift, thumbs-down rate ratio > 1.5, overall false-rollback rate 1%.
"""

from __future__ import annotations

import itertools
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import SpecError

MODEL_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]*(@sha256:[0-9a-f]{12,64})?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """``90``, ``"90s"``, ``"5m"``, ``"2h"`` -> seconds. Rejects negatives and garbage."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m or 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError(f"expected a duration like 30s, 5m or 2h, got {value!r}")
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError("duration must be a finite number >= 0")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
Fraction = Annotated[float, Field(gt=0, le=1)]
Ratio = Annotated[float, Field(gt=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Method(StrEnum):
    SEQUENTIAL = "sequential"  # anytime-valid confidence sequences + margin rule
    THRESHOLD = "threshold"  # point estimate vs bound (Argo Rollouts / Flagger style)


class OnInconclusive(StrEnum):
    HOLD = "hold"
    ROLLBACK = "rollback"
    ADVANCE = "advance"


class Require(StrEnum):
    PASS = "pass"  # every gate must PASS
    NO_BREACH = "no-breach"  # no gate may FAIL (INCONCLUSIVE is enough)


class GateBase(Strict):
    enabled: bool = True
    method: Method = Method.SEQUENTIAL
    critical: bool = True
    alpha_share: float = Field(1.0, gt=0, description="relative share of the rollout alpha")
    min_samples: int = Field(
        100, ge=1, description="per arm, before the threshold method judges at all"
    )


class LatencyGate(GateBase):
    """Ratios of latency percentiles, candidate / baseline; None switches one off."""

    p50: Ratio | None = 1.5
    p95: Ratio | None = None
    p99: Ratio | None = 1.5
    ttft_p99: Ratio | None = 1.5

    @model_validator(mode="after")
    def _some_bound(self) -> LatencyGate:
        if self.enabled and not any((self.p50, self.p95, self.p99, self.ttft_p99)):
            raise ValueError(
                "an enabled latency gate needs at least one of p50, p95, p99, ttft_p99"
            )
        return self


class CostGate(GateBase):
    """Mean USD per request, candidate / baseline."""

    bound: Ratio = 1.2


class RateGate(GateBase):
    """Breach when candidate rate > ratio x baseline rate + floor (floor in absolute rate)."""

    ratio: float = Field(2.0, ge=1)
    floor: float = Field(0.005, ge=0, lt=1)


class OutputLengthGate(GateBase):
    """Completion tokens: mean ratio band, P99 ratio, and a KS distance for the whole shape."""

    mean: tuple[float, float] | None = (0.8, 1.25)
    p99: Ratio | None = 1.5
    ks: float | None = Field(0.2, gt=0, lt=1)

    @field_validator("mean")
    @classmethod
    def _band(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 < v[0] < 1 < v[1]:
            raise ValueError("mean band must be [low, high] with 0 < low < 1 < high")
        return v


class FeedbackGate(RateGate):
    """Negative-feedback rate per served request."""

    ratio: float = Field(1.5, ge=1)
    floor: float = Field(0.005, ge=0, lt=1)


class SrmCheck(Strict):
    """Sample-ratio mismatch: the observed split differs from the policy weight."""

    enabled: bool = True
    alpha: float = Field(0.001, gt=0, lt=0.5)
    min_samples: int = Field(200, ge=1)


class GateName(StrEnum):
    """The five gates' names (errors and refusals are two gates): the keys of ``gates:`` in a
    spec, of :meth:`Gates.enabled` and of :data:`llm_rollout.judge.GATE_TYPES`, and the
    ``gate`` of every verdict. A ``StrEnum``, so a name equals its string."""

    LATENCY = "latency"
    COST = "cost"
    ERRORS = "errors"
    REFUSALS = "refusals"
    OUTPUT_LENGTH = "output_length"
    FEEDBACK = "feedback"


class Gates(Strict):
    latency: LatencyGate = LatencyGate()
    cost: CostGate = CostGate()
    errors: RateGate = RateGate()
    refusals: RateGate = RateGate()
    output_length: OutputLengthGate = OutputLengthGate()
    feedback: FeedbackGate = FeedbackGate()
    srm: SrmCheck = SrmCheck()

    def enabled(self) -> dict[GateName, GateBase]:
        """The enabled judging gates (SRM is a guard, not a gate), by name."""
        named: dict[GateName, GateBase] = {name: getattr(self, name.value) for name in GateName}
        return {name: gate for name, gate in named.items() if gate.enabled}


class AlertRule(Strict):
    """A shadow alert: the gate's statistic confidently above ``above`` stops the rollout."""

    gate: Literal["latency", "cost", "errors", "refusals", "output_length"]
    above: float = Field(gt=0)


class Shadow(Strict):
    enabled: bool = True
    sample: Fraction = 0.1
    max_concurrency: int = Field(32, ge=1)
    timeout: Duration = Field(60.0, gt=0)
    min_samples: int = Field(200, ge=0)
    min_duration: Duration = 600.0
    max_duration: Duration | None = None
    alerts: tuple[AlertRule, ...] = (AlertRule(gate="cost", above=1.4),)


class Step(Strict):
    weight: float = Field(gt=0, le=100, description="candidate share of served traffic, percent")
    min_dwell: Duration = 600.0
    min_samples: int = Field(200, ge=1, description="served requests per arm before advancing")
    max_dwell: Duration = 7200.0

    @model_validator(mode="after")
    def _dwell_order(self) -> Step:
        if self.max_dwell < self.min_dwell:
            raise ValueError("max_dwell must be >= min_dwell")
        return self


def _step_shorthand(value: Any) -> Any:
    """``steps: [1, 10, 25]`` is shorthand for ``[{weight: 1}, {weight: 10}, ...]``."""
    if isinstance(value, list):
        return [
            {"weight": v} if isinstance(v, int | float) and not isinstance(v, bool) else v
            for v in value
        ]
    return value


DEFAULT_STEPS = (1, 10, 25, 50, 75, 100)


class Decision(StrEnum):
    SUPERIORITY = "superiority"  # candidate must be confidently better
    NON_INFERIORITY = "non-inferiority"  # candidate must be confidently no worse than the margin


class ABStep(Strict):
    """A fixed-split comparison after the canary is stable; promotes or rolls back."""

    weight: float = Field(50, gt=0, lt=100)
    duration: Duration = Field(3600.0, gt=0)
    metric: Literal["feedback", "cost", "latency", "errors", "refusals"] = "feedback"
    rule: Decision = Decision.NON_INFERIORITY
    margin: float = Field(0.05, ge=0, lt=1, description="relative margin, e.g. 0.05 = 5%")
    on_inconclusive: Literal["promote", "rollback"] = "rollback"


class RolloutSpec(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
    baseline: str = Field(description="model reference name@sha256:<hex> (>= 12 hex digits)")
    candidate: str
    logical_model: str | None = Field(
        None, description="model name clients send; defaults to the spec name"
    )
    alpha: float = Field(0.01, gt=0, lt=0.5, description="false-rollback rate of the rollout")
    shadow: Shadow = Shadow()
    steps: Annotated[tuple[Step, ...], BeforeValidator(_step_shorthand)] = tuple(
        Step(weight=w) for w in DEFAULT_STEPS
    )
    gates: Gates = Gates()
    check_interval: Duration = Field(300.0, gt=0)
    on_inconclusive: OnInconclusive = OnInconclusive.HOLD
    require: Require = Require.PASS
    ab: ABStep | None = None

    @field_validator("baseline", "candidate")
    @classmethod
    def _model_ref(cls, v: str) -> str:
        if not MODEL_REF.match(v):
            raise ValueError("expected a model reference like name@sha256:<12-64 hex digits>")
        return v

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        if not steps:
            raise ValueError("at least one step is needed")
        weights = [s.weight for s in steps]
        if any(b <= a for a, b in itertools.pairwise(weights)):
            raise ValueError(f"step weights must strictly increase, got {weights}")
        if weights[-1] != 100:
            raise ValueError(f"the last step must be 100 (full traffic), got {weights[-1]}")
        return steps

    @model_validator(mode="after")
    def _consistent(self) -> RolloutSpec:
        if self.baseline == self.candidate:
            raise ValueError("baseline and candidate must be different model versions")
        if not self.gates.enabled():
            raise ValueError("at least one gate must be enabled")
        return self

    @property
    def model_name(self) -> str:
        return self.logical_model or self.name

    def looks(self) -> int:
        """Phases that each get a share of alpha: shadow (if on), every step, the A/B step."""
        return len(self.steps) + int(self.shadow.enabled) + int(self.ab is not None)

    def gate_alpha(self, gate: str) -> float:
        """Alpha for one gate in one phase: rollout alpha split by share, then by phase.

        Bonferroni over gates and phases; each gate's confidence sequence is time-uniform
        within a phase, so the rollout's false-rollback rate is at most ``alpha``.
        """
        enabled = self.gates.enabled()
        total = sum(g.alpha_share for g in enabled.values())
        return self.alpha * enabled[GateName(gate)].alpha_share / total / self.looks()

    def alert_alpha(self) -> float:
        """Alpha per shadow alert rule: the shadow phase's share of the rollout alpha, split
        over its rules (the shadow gates take the same share again: Bonferroni stays
        conservative)."""
        return self.alpha / self.looks() / max(1, len(self.shadow.alerts))

    def ab_alpha(self) -> float:
        """Alpha of the A/B rule: the A/B phase's share of the rollout alpha."""
        return self.alpha / self.looks()


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"].removeprefix("Value error, ")
        out.append((path, msg))
    return out


def parse_spec(data: Any, source: str = "spec") -> RolloutSpec:
    """Validate a decoded document; every problem becomes one line of a SpecError."""
    if not isinstance(data, dict):
        raise SpecError([("(root)", "expected a mapping of fields")], source)
    try:
        return RolloutSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_problems(exc), source) from exc


def load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(document)"
        raise SpecError(
            [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")], source
        ) from exc


def load_spec(path: str | Path) -> RolloutSpec:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecError([("(file)", f"cannot read {p}: {exc.strerror}")], str(p)) from exc
    return parse_spec(load_yaml(text, str(p)), str(p))


def json_schema() -> dict[str, Any]:
    return RolloutSpec.model_json_schema()
