"""What the planner needs, validated: the two models (prices, expected tokens), traffic, risk
level, noise profile and the cost policy. Every problem is reported by the name of the input
(``--rate``, ``--noise``, ...) as one :class:`~llm_rollout.errors.SpecError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any, Literal

from ..errors import LlmRolloutError, SpecError
from ..profile import ModelProfile
from ..registry import ModelVersion, resolve
from ._arm import expected_completion, median_for_mean
from .noise import NoiseProfile, default_profile
from .risk import RiskLevel, risk_level
from .rollback import RollbackEvidence

CostPolicy = Literal["strict", "tolerant"]
SOURCE = "plan inputs"


@dataclass(frozen=True)
class ModelInput:
    """One model version as the plan uses it."""

    name: str
    ref: str  # name@sha256:<full digest>, as registered
    price_input: float  # USD per 1M tokens
    price_output: float
    price_cached_input: float | None
    prompt_tokens: float  # expected mean per request
    completion_tokens: float  # expected mean per request
    timeout: float = 60.0

    @classmethod
    def of(
        cls, version: ModelVersion, prompt_tokens: float, completion_tokens: float
    ) -> ModelInput:
        p = version.prices
        return cls(
            name=version.name,
            ref=version.ref,
            price_input=p.input,
            price_output=p.output,
            price_cached_input=p.cached_input,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            timeout=version.timeout,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ref": self.ref,
            "prices": {
                "input": self.price_input,
                "output": self.price_output,
                "cached_input": self.price_cached_input,
            },
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


@dataclass(frozen=True)
class PlanInputs:
    name: str
    baseline: ModelInput
    candidate: ModelInput
    behaviour: ModelProfile  # the baseline's measured (or assumed) behaviour, prices excluded
    rate: float  # requests per minute (daily mean when a cycle is on)
    risk: RiskLevel
    noise: NoiseProfile
    noise_assumed: bool = False
    daily_cycle: float = 0.0
    start_hour: float = 10.0
    peak_hour: float = 14.0
    cost_policy: CostPolicy = "strict"
    quality_gain: float = 0.10  # relative thumbs-down reduction the candidate should deliver
    steps: tuple[float, ...] | None = None  # overrides the risk level's step list
    max_dwell: float | None = None  # overrides the risk level's longest step dwell, seconds
    max_shadow: float | None = None  # overrides the risk level's longest shadow phase, seconds
    rollback: RollbackEvidence | None = None
    seed: int = 0
    behaviour_assumed: bool = False

    @property
    def shadow_cap(self) -> float:
        """The longest shadow phase the gates' needs may ask for, seconds."""
        return self.max_shadow or self.risk.shadow_max_duration

    def profiles(self) -> tuple[ModelProfile, ModelProfile]:
        """The simulator's profiles of both arms: shared behaviour, own prices and tokens."""
        base = _with_model(self.behaviour, self.baseline, self.noise.drift)
        return base, _with_model(self.behaviour, self.candidate, self.noise.drift)


def _with_model(behaviour: ModelProfile, model: ModelInput, drift: float) -> ModelProfile:
    return replace(
        behaviour,
        prompt_tokens=model.prompt_tokens,
        completion_tokens=median_for_mean(model.completion_tokens, behaviour.completion_sigma),
        price_input=model.price_input,
        price_output=model.price_output,
        price_cached_input=model.price_cached_input,
        drift=drift,
    )


def check_traffic(rate: Any, daily_cycle: Any = 0.0) -> list[tuple[str, str]]:
    problems = []
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        problems.append(("--rate", f"expected a number of requests per minute, got {rate!r}"))
    elif rate <= 0:
        problems.append(("--rate", f"traffic must be > 0 requests per minute, got {rate:g}"))
    if not (isinstance(daily_cycle, int | float) and 0 <= daily_cycle < 1):
        problems.append(("--daily-cycle", f"amplitude must be within [0, 1), got {daily_cycle!r}"))
    return problems


def resolve_models(
    versions: Sequence[ModelVersion], baseline: str, candidate: str, source: str
) -> tuple[ModelVersion, ModelVersion]:
    """Both references among ``versions``; problems name ``--baseline`` / ``--candidate``."""
    problems: list[tuple[str, str]] = []
    found: list[ModelVersion] = []
    for flag, ref in (("--baseline", baseline), ("--candidate", candidate)):
        try:
            version = resolve(ref, versions)
        except LlmRolloutError as exc:
            problems.append((flag, f"{exc} (in {source})"))
            continue
        if version.prices.input == 0 and version.prices.output == 0:
            problems.append(
                (
                    flag,
                    f"{version.name} has no prices in {source} (input and output are 0 USD "
                    "per 1M tokens): the plan's cost figures need them",
                )
            )
        found.append(version)
    if not problems and found[0].digest == found[1].digest:
        problems.append(("--candidate", "baseline and candidate are the same model version"))
    if problems:
        raise SpecError(problems, SOURCE)
    return found[0], found[1]


def behaviour_of(noise: NoiseProfile) -> tuple[ModelProfile, bool]:
    """The baseline's behaviour from the noise profile's measured levels (or the defaults)."""
    if not noise.baseline:
        return ModelProfile(), True
    try:
        return ModelProfile.from_dict(dict(noise.baseline)), False
    except (SpecError, TypeError) as exc:
        raise SpecError([("--noise", f"its baseline levels are invalid: {exc}")], SOURCE) from exc


def check_noise(noise: NoiseProfile, baseline: ModelVersion) -> None:
    """The profile must have been measured on the baseline (A/A of the baseline)."""
    digest = noise.model_digest
    if digest is not None and not baseline.digest.startswith(digest):
        raise SpecError(
            [
                (
                    "--noise",
                    f"the noise profile was measured on {noise.model}, not on the baseline "
                    f"{baseline.ref}: calibrate the baseline (llm-rollout calibrate) or leave "
                    "--noise out to plan with the default noise",
                )
            ],
            SOURCE,
        )


def parse_tokens(text: str | None, flag: str) -> tuple[float, float] | None:
    """``PROMPT:COMPLETION`` expected tokens per request, both > 0."""
    if text is None:
        return None
    parts = text.split(":")
    try:
        prompt, completion = (float(p) for p in parts)
    except ValueError:
        raise SpecError(
            [(flag, f"expected PROMPT:COMPLETION tokens per request, got {text!r}")], SOURCE
        ) from None
    if not (math.isfinite(prompt) and math.isfinite(completion) and prompt > 0 and completion > 0):
        raise SpecError([(flag, f"token counts must be > 0, got {text!r}")], SOURCE)
    return prompt, completion


def build_inputs(
    versions: Sequence[ModelVersion],
    *,
    baseline: str,
    candidate: str,
    rate: float,
    risk: str,
    source: str = "registry",
    noise: NoiseProfile | None = None,
    tokens: tuple[float, float] | None = None,
    candidate_tokens: tuple[float, float] | None = None,
    daily_cycle: float = 0.0,
    start_hour: float = 10.0,
    peak_hour: float = 14.0,
    cost_policy: CostPolicy = "strict",
    quality_gain: float = 0.10,
    steps: tuple[float, ...] | None = None,
    max_dwell: float | None = None,
    max_shadow: float | None = None,
    rollback: RollbackEvidence | None = None,
    name: str | None = None,
    seed: int = 0,
) -> PlanInputs:
    """Validate and assemble the planner's inputs (every problem at once, by input name)."""
    problems = check_traffic(rate, daily_cycle)
    level: RiskLevel | None = None
    try:
        level = risk_level(risk)
    except SpecError as exc:
        problems.extend(exc.problems)
    if not (math.isfinite(quality_gain) and 0 <= quality_gain < 1):
        problems.append(("--quality-gain", f"must be within [0, 1), got {quality_gain!r}"))
    if max_dwell is not None and not (math.isfinite(max_dwell) and max_dwell > 0):
        problems.append(("--max-dwell", "must be a duration > 0"))
    if max_shadow is not None and not (math.isfinite(max_shadow) and max_shadow > 0):
        problems.append(("--max-shadow", "must be a duration > 0"))
    if steps is not None:
        ws = list(steps)
        if not ws or ws[-1] != 100 or any(b <= a for a, b in pairwise(ws)) or (ws[0] <= 0):
            problems.append(("--steps", f"weights must increase and end at 100, got {ws}"))
    if problems or level is None:
        raise SpecError(problems, SOURCE)
    base_v, cand_v = resolve_models(versions, baseline, candidate, source)
    assumed = noise is None
    profile = noise if noise is not None else default_profile()
    if noise is not None:
        check_noise(noise, base_v)
    behaviour, behaviour_assumed = behaviour_of(profile)
    b_tokens = tokens or (behaviour.prompt_tokens, expected_completion(behaviour))
    c_tokens = candidate_tokens or b_tokens
    plan_name = name or _name(cand_v.name)
    return PlanInputs(
        name=plan_name,
        baseline=ModelInput.of(base_v, *b_tokens),
        candidate=ModelInput.of(cand_v, *c_tokens),
        behaviour=behaviour,
        rate=float(rate),
        risk=level,
        noise=profile,
        noise_assumed=assumed,
        daily_cycle=float(daily_cycle),
        start_hour=start_hour,
        peak_hour=peak_hour,
        cost_policy=cost_policy,
        quality_gain=quality_gain,
        steps=steps,
        max_dwell=max_dwell,
        max_shadow=max_shadow,
        rollback=rollback,
        seed=seed,
        behaviour_assumed=behaviour_assumed,
    )


def _name(candidate: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in candidate)
    return (cleaned.strip("-._") or "rollout")[:100]
