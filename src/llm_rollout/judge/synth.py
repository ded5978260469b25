"""Synthetic windows from stated distributions: for golden cases, studies and tests.

An arm is described by JSON-able parameters, so a golden case stores *how* its data was drawn
(distribution, size, seed), never the arrays::

    {"n": 5000,
     "latency_ms": {"dist": "lognormal", "median": 800, "sigma": 0.5},
     "ttft_ms": {"dist": "lognormal", "median": 250, "sigma": 0.4, "share": 0.5},
     "cost_usd": {"dist": "const", "value": 0.002},
     "completion_tokens": {"dist": "lognormal", "median": 200, "sigma": 0.6},
     "error_rate": 0.01, "refusal_rate": 0.02, "negative_rate": 0.05,
     "error_latency_ms": {"dist": "const", "value": 60000},
     "inject": [{"column": "latency_ms", "index": 0, "value": "nan"}]}

Distributions: ``lognormal`` (median, sigma), ``normal`` (mean, sd), ``exponential`` (mean),
``uniform`` (lo, hi), ``const`` (value), ``values`` (an explicit list, cycled; for tiny cases).
``completion_tokens`` are rounded to whole tokens. ``ttft_ms`` is drawn only for a ``share``
of calls (streams), NaN elsewhere; absent, no call streams. ``error_latency_ms``, if given,
replaces the latency of errored calls (timeouts). ``negative_feedback`` at the top level
overrides an arm's count (to state impossible counts). Each arm draws from its own
generator ``default_rng([seed, 0 | 1])`` in a fixed column order, so a case is reproducible
and changing one arm never changes the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..records import ArmWindow, BoolArray, FloatArray, Window

Params = Mapping[str, Any]

DEFAULT_ARM: dict[str, Any] = {
    "latency_ms": {"dist": "lognormal", "median": 800.0, "sigma": 0.5},
    "cost_usd": {"dist": "lognormal", "median": 0.002, "sigma": 0.3},
    "completion_tokens": {"dist": "lognormal", "median": 200.0, "sigma": 0.6},
}


def draw(dist: Params, n: int, rng: np.random.Generator) -> FloatArray:
    kind = dist["dist"]
    if kind == "lognormal":
        return np.asarray(
            float(dist["median"]) * np.exp(rng.normal(0.0, float(dist["sigma"]), n)), np.float64
        )
    if kind == "normal":
        return np.asarray(rng.normal(float(dist["mean"]), float(dist["sd"]), n), np.float64)
    if kind == "exponential":
        return np.asarray(rng.exponential(float(dist["mean"]), n), np.float64)
    if kind == "uniform":
        return np.asarray(rng.uniform(float(dist["lo"]), float(dist["hi"]), n), np.float64)
    if kind == "const":
        return np.full(n, float(dist["value"]), np.float64)
    if kind == "values":
        values = np.asarray([float(v) for v in dist["values"]], np.float64)
        return np.resize(values, n) if n else np.zeros(0)
    raise ValueError(f"unknown distribution {kind!r}")


@dataclass(frozen=True)
class SyntheticArm:
    """One arm's full draw; ``window(m)`` is its first ``m`` calls (a look part-way through)."""

    latency_ms: FloatArray
    ttft_ms: FloatArray
    cost_usd: FloatArray
    completion_tokens: FloatArray
    error: BoolArray
    refused: BoolArray
    negative: BoolArray  # per served call: got a thumbs-down

    @property
    def n(self) -> int:
        return int(self.latency_ms.shape[0])

    def window(self, m: int | None = None) -> ArmWindow:
        k = self.n if m is None else min(m, self.n)
        neg = int(self.negative[:k].sum())
        return ArmWindow(
            latency_ms=self.latency_ms[:k],
            ttft_ms=self.ttft_ms[:k],
            cost_usd=self.cost_usd[:k],
            completion_tokens=self.completion_tokens[:k],
            error=self.error[:k],
            refused=self.refused[:k],
            negative_feedback=neg,
            feedback_count=neg,
        )


def draw_arm(params: Params, rng: np.random.Generator) -> SyntheticArm:
    """Draw one arm; missing columns use :data:`DEFAULT_ARM`. Injections apply last."""
    p = {**DEFAULT_ARM, **params}
    n = int(p.get("n", 0))
    latency = draw(p["latency_ms"], n, rng)
    ttft = np.full(n, math.nan)
    if "ttft_ms" in p:
        streamed = rng.random(n) < float(p["ttft_ms"].get("share", 1.0))
        ttft[streamed] = draw(p["ttft_ms"], int(streamed.sum()), rng)
    cost = draw(p["cost_usd"], n, rng)
    tokens = np.round(draw(p["completion_tokens"], n, rng))
    error = rng.random(n) < float(p.get("error_rate", 0.0))
    refused = rng.random(n) < float(p.get("refusal_rate", 0.0))
    negative = rng.random(n) < float(p.get("negative_rate", 0.0))
    columns = {
        "latency_ms": latency,
        "ttft_ms": ttft,
        "cost_usd": cost,
        "completion_tokens": tokens,
    }
    if "error_latency_ms" in p:  # e.g. timeouts: errored calls take their own time
        latency[error] = draw(p["error_latency_ms"], int(error.sum()), rng)
    for inj in p.get("inject", ()):
        columns[inj["column"]][int(inj["index"])] = float(inj["value"])  # "nan", "inf", -1, ...
    return SyntheticArm(latency, ttft, cost, tokens, error, refused, negative)


def draw_pair(params: Params) -> tuple[SyntheticArm, SyntheticArm]:
    seed = int(params["seed"])
    base = draw_arm(params.get("baseline", {}), np.random.default_rng([seed, 0]))
    cand = draw_arm(params.get("candidate", {}), np.random.default_rng([seed, 1]))
    return base, cand


def make_window(params: Params) -> Window:
    """A window from ``{"seed", "baseline", "candidate", "candidate_weight"?}``."""
    base, cand = draw_pair(params)
    overrides = {k: int(v) for k, v in params.get("negative_feedback", {}).items()}
    b, c = base.window(), cand.window()
    if overrides:  # impossible counts (rejected by validation) can only be stated directly
        b = _with_negative(b, overrides.get("baseline", b.negative_feedback))
        c = _with_negative(c, overrides.get("candidate", c.negative_feedback))
    return Window(b, c, candidate_weight=float(params.get("candidate_weight", 0.5)))


def _with_negative(arm: ArmWindow, k: int) -> ArmWindow:
    return ArmWindow(
        arm.latency_ms,
        arm.ttft_ms,
        arm.cost_usd,
        arm.completion_tokens,
        arm.error,
        arm.refused,
        negative_feedback=k,
        feedback_count=k,
    )
