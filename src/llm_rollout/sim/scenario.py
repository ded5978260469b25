"""A simulation scenario: the spec under test, the two models' behaviour, traffic, regressions.

Scenario files are YAML::

    name: cost-regression
    spec: ../rollout.yaml          # a spec file (relative to this file) or an inline spec
    models: ../models.yaml         # optional registry file: the models' prices come from it
    seed: 1
    rate: 100                      # requests per minute
    daily_cycle: 0.0               # amplitude of the daily traffic cycle, [0, 1)
    users: 100000                  # sticky users
    baseline: {latency_ms: 800}    # ModelProfile fields
    candidate: {}                  # fields that differ from the baseline's profile
    regressions:
      - {metric: cost, factor: 1.25, start: 0, share: 1.0}

Every problem is reported at once as a :class:`~llm_rollout.errors.SpecError`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import LlmRolloutError, SpecError
from ..profile import ModelProfile
from ..registry import load_models, resolve
from ..spec import RolloutSpec, load_spec, load_yaml, parse_duration, parse_spec
from .regression import Regression
from .traffic import Traffic

PLACEHOLDER_BASELINE = "baseline@sha256:" + "0" * 12
PLACEHOLDER_CANDIDATE = "candidate@sha256:" + "1" * 12

_KEYS = {
    "name",
    "description",
    "spec",
    "models",
    "seed",
    "rate",
    "daily_cycle",
    "peak_hour",
    "start_hour",
    "users",
    "baseline",
    "candidate",
    "regressions",
    "run_variation",
    "stream_fraction",
    "duration",
}
_PRICE_FIELDS = ("price_input", "price_output", "price_cached_input")


def default_spec() -> RolloutSpec:
    """The built-in default spec (every default of RolloutSpec) with placeholder model refs."""
    return RolloutSpec(
        name="default", baseline=PLACEHOLDER_BASELINE, candidate=PLACEHOLDER_CANDIDATE
    )


@dataclass(frozen=True)
class Scenario:
    spec: RolloutSpec = field(default_factory=default_spec)
    baseline: ModelProfile = field(default_factory=ModelProfile)
    candidate: ModelProfile = field(default_factory=ModelProfile)
    traffic: Traffic = field(default_factory=Traffic)
    regressions: tuple[Regression, ...] = ()
    seed: int = 0
    run_variation: float = 0.02  # per-run factor per arm and metric family, +-
    stream_fraction: float = 1.0  # share of requests streamed (those have a TTFT)
    duration: float | None = None  # time limit; None: derived from the spec (time_limit)
    name: str = "default"
    description: str = ""

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        if not (math.isfinite(self.run_variation) and 0 <= self.run_variation < 1):
            problems.append(("run_variation", "must be within [0, 1)"))
        if not (math.isfinite(self.stream_fraction) and 0 <= self.stream_fraction <= 1):
            problems.append(("stream_fraction", "must be within [0, 1]"))
        if self.duration is not None and not (math.isfinite(self.duration) and self.duration > 0):
            problems.append(("duration", "must be a finite time > 0"))
        if problems:
            raise SpecError(problems, f"scenario {self.name}")

    def with_(self, **changes: Any) -> Scenario:
        return replace(self, **changes)

    @property
    def regression_start(self) -> float | None:
        """When the first regression starts (None: an A/A or improvement-only run)."""
        return min((r.start for r in self.regressions), default=None)

    def time_limit(self) -> float:
        """Virtual time after which a run that has not finished ends as ``timeout``."""
        if self.duration is not None:
            return self.duration
        spec = self.spec
        steps = sum(s.max_dwell for s in spec.steps)
        shadow = 0.0
        if spec.shadow.enabled:
            longest = max(s.max_dwell for s in spec.steps)
            shadow = spec.shadow.max_duration or max(spec.shadow.min_duration, longest)
        ab = spec.ab.duration if spec.ab is not None else 0.0
        return shadow + steps + ab + 3 * spec.check_interval

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "rate": self.traffic.rate,
            "daily_cycle": self.traffic.daily_cycle,
            "users": self.traffic.users,
            "spec": self.spec.name,
            "regressions": [r.to_dict() for r in self.regressions],
            "run_variation": self.run_variation,
            "drift": {"baseline": self.baseline.drift, "candidate": self.candidate.drift},
        }


def _profile(
    data: Any, base: dict[str, Any], where: str, problems: list[tuple[str, str]]
) -> ModelProfile | None:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append((where, "expected a mapping of ModelProfile fields"))
        return None
    try:
        return ModelProfile.from_dict({**base, **data})
    except SpecError as exc:
        problems.extend((f"{where}.{path}", reason) for path, reason in exc.problems)
    except TypeError as exc:
        problems.append((where, str(exc)))
    return None


def _resolve_spec(value: Any, folder: Path, source: str) -> RolloutSpec:
    if value is None:
        return default_spec()
    if isinstance(value, dict):
        return parse_spec(value, f"{source} (inline spec)")
    if isinstance(value, str):
        return load_spec(folder / value)
    raise SpecError([("spec", "expected a spec file path or an inline spec mapping")], source)


def _prices(models_file: Path, spec: RolloutSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """Registry prices of the spec's baseline and candidate, as profile fields."""
    versions = load_models(models_file)
    out = []
    for ref in (spec.baseline, spec.candidate):
        try:
            table = resolve(ref, versions).prices
        except LlmRolloutError as exc:
            raise SpecError([("models", str(exc))], str(models_file)) from exc
        out.append(
            {
                "price_input": table.input,
                "price_output": table.output,
                "price_cached_input": table.cached_input,
            }
        )
    return out[0], out[1]


def _profiles(
    data: dict[str, Any], spec: RolloutSpec, folder: Path, problems: list[tuple[str, str]]
) -> tuple[ModelProfile | None, ModelProfile | None]:
    base_prices: dict[str, Any] = {}
    cand_prices: dict[str, Any] = {}
    if data.get("models") is not None:
        if not isinstance(data["models"], str):
            problems.append(("models", "expected the path of a models file"))
        else:
            base_prices, cand_prices = _prices(folder / data["models"], spec)
    raw_base = data.get("baseline") or {}
    baseline = _profile(raw_base, base_prices, "baseline", problems)
    # The candidate inherits the baseline's behaviour but not its prices (the registry's win).
    inherited = dict(raw_base) if isinstance(raw_base, dict) else {}
    for key in _PRICE_FIELDS:
        inherited.pop(key, None)
    candidate = _profile(data.get("candidate"), {**inherited, **cand_prices}, "candidate", problems)
    return baseline, candidate


def _regressions(data: dict[str, Any], problems: list[tuple[str, str]]) -> tuple[Regression, ...]:
    raw = data.get("regressions") or []
    if not isinstance(raw, list):
        problems.append(("regressions", "expected a list of {metric, factor, start?, share?}"))
        return ()
    out: list[Regression] = []
    for i, item in enumerate(raw):
        try:
            out.append(Regression.from_dict(item))
        except SpecError as exc:
            problems.extend((f"regressions.{i}.{p}", r) for p, r in exc.problems)
    return tuple(out)


def _traffic(data: dict[str, Any], problems: list[tuple[str, str]]) -> Traffic | None:
    before = len(problems)
    rate = _num(data.get("rate", 100.0), "rate", problems)
    daily_cycle = _num(data.get("daily_cycle", 0.0), "daily_cycle", problems)
    peak_hour = _num(data.get("peak_hour", 14.0), "peak_hour", problems)
    start_hour = _num(data.get("start_hour", 10.0), "start_hour", problems)
    users = _int(data.get("users", 100_000), "users", problems)
    if len(problems) > before:
        return None
    try:
        return Traffic(rate, daily_cycle, peak_hour, start_hour, users)
    except SpecError as exc:
        problems.extend(exc.problems)
    return None


def parse_scenario(
    data: Any, source: str = "scenario", folder: Path | None = None, spec: RolloutSpec | None = None
) -> Scenario:
    """Validate a decoded scenario document. ``spec`` overrides the document's own spec."""
    folder = folder or Path.cwd()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError([("(root)", "expected a mapping of scenario fields")], source)
    problems: list[tuple[str, str]] = [
        (k, "unknown scenario field") for k in sorted(set(data) - _KEYS)
    ]
    if spec is None:
        spec = _resolve_spec(data.get("spec"), folder, source)
    baseline, candidate = _profiles(data, spec, folder, problems)
    regressions = _regressions(data, problems)
    traffic = _traffic(data, problems)
    seed = _int(data.get("seed", 0), "seed", problems)
    run_variation = _num(data.get("run_variation", 0.02), "run_variation", problems)
    stream_fraction = _num(data.get("stream_fraction", 1.0), "stream_fraction", problems)
    duration = None
    if data.get("duration") is not None:
        try:
            duration = parse_duration(data["duration"])
        except ValueError as exc:
            problems.append(("duration", str(exc)))
    if problems or baseline is None or candidate is None or traffic is None:
        raise SpecError(problems or [("(root)", "invalid scenario")], source)
    try:
        return Scenario(
            spec=spec,
            baseline=baseline,
            candidate=candidate,
            traffic=traffic,
            regressions=regressions,
            seed=seed,
            run_variation=run_variation,
            stream_fraction=stream_fraction,
            duration=duration,
            name=str(data.get("name", Path(source).stem)),
            description=str(data.get("description", "")),
        )
    except SpecError as exc:
        raise SpecError(exc.problems, source) from exc


def load_scenario(path: str | Path, spec: RolloutSpec | None = None) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecError([("(file)", f"cannot read {p}: {exc.strerror}")], str(p)) from exc
    return parse_scenario(load_yaml(text, str(p)), str(p), p.parent, spec)


def _num(value: Any, name: str, problems: list[tuple[str, str]]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append((name, f"expected a number, got {value!r}"))
        return math.nan
    return float(value)


def _int(value: Any, name: str, problems: list[tuple[str, str]]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append((name, f"expected an integer, got {value!r}"))
        return 0
    return value


def describe(regressions: Iterable[Regression]) -> str:
    labels = [r.label() for r in regressions]
    return ", ".join(labels) if labels else "none (A/A)"
