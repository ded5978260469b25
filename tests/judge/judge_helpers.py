"""Builders for the judge tests: specs, windows from arrays or distributions, verdicts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llm_rollout.records import ArmWindow, Window
from llm_rollout.spec import RolloutSpec
from llm_rollout.testing import arm
from llm_rollout.verdict import Outcome, Verdict

BASE = "base@sha256:0123456789abcdef"
CAND = "cand@sha256:fedcba9876543210"

__all__ = ["arm", "lognormal_arm", "make_spec", "make_verdict", "pair"]


def make_spec(**extra: Any) -> RolloutSpec:
    return RolloutSpec.model_validate({"name": "r1", "baseline": BASE, "candidate": CAND, **extra})


def lognormal_arm(
    n: int,
    seed: int,
    *,
    latency: float = 800.0,
    cost: float = 0.002,
    tokens: float = 200.0,
    error_rate: float = 0.0,
    refusal_rate: float = 0.0,
    negative_rate: float = 0.0,
    stream: bool = True,
) -> ArmWindow:
    """A plausible arm: log-normal latency / TTFT / cost / tokens and Bernoulli flags."""
    rng = np.random.default_rng(seed)
    lat = latency * np.exp(rng.normal(0, 0.5, n))
    ttft = 0.3 * latency * np.exp(rng.normal(0, 0.4, n)) if stream else np.full(n, math.nan)
    return ArmWindow(
        latency_ms=lat,
        ttft_ms=ttft,
        cost_usd=cost * np.exp(rng.normal(0, 0.3, n)),
        completion_tokens=np.round(tokens * np.exp(rng.normal(0, 0.6, n))),
        error=rng.random(n) < error_rate,
        refused=rng.random(n) < refusal_rate,
        negative_feedback=int((rng.random(n) < negative_rate).sum()),
    )


def pair(baseline: ArmWindow, candidate: ArmWindow, weight: float = 0.5) -> Window:
    return Window(baseline=baseline, candidate=candidate, candidate_weight=weight)


def make_verdict(
    outcome: Outcome, *, critical: bool = True, gate: str = "cost", statistic: str = "mean_ratio"
) -> Verdict:
    return Verdict(
        gate=gate,
        statistic=statistic,
        outcome=outcome,
        method="sequential",
        estimate=1.0,
        lo=0.9,
        hi=1.1,
        bound=1.2,
        n_baseline=100,
        n_candidate=100,
        explanation=f"{gate} {statistic} said {outcome.value}",
        critical=critical,
    )
