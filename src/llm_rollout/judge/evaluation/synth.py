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
Any of the first four takes ``"tail": {"quantile": q, "factor": f}``: draws above the
distribution's own q-quantile are multiplied by f (a tail-only regression; with q = 0.98 and
f = 2 the P99 doubles exactly while P50 and P95 stay put).
``completion_tokens`` are rounded to whole tokens. ``ttft_ms`` is drawn only for a ``share``
of calls (streams), NaN elsewhere; absent, no call streams. ``error_latency_ms``, if given,
replaces the latency of errored calls (timeouts). ``negative_feedback`` at the top level
overrides an arm's count (to state impossible counts).

Cost from tokens: with ``"prices": {"input": 2.5, "output": 10.0}`` (USD per million tokens)
and a ``prompt_tokens`` distribution, ``cost_usd`` is computed from the (rounded) prompt and
completion tokens with :func:`~llm_rollout.records.cost_usd`'s formula, and errored calls cost 0
(providers do not bill failed calls); the ``cost_usd`` distribution is then ignored (but still
drawn, so the other columns do not change). :func:`with_drift` multiplies an arm's latency,
tokens and cost by a fresh factor per block of calls (window-to-window non-determinism).

Each arm draws from its own
generator ``default_rng([seed, 0 | 1])`` in a fixed column order, so a case is reproducible
and changing one arm never changes the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np

from ...records import ArmWindow, BoolArray, FloatArray, Window

Params = Mapping[str, Any]

DEFAULT_ARM: dict[str, Any] = {
    "latency_ms": {"dist": "lognormal", "median": 800.0, "sigma": 0.5},
    "cost_usd": {"dist": "lognormal", "median": 0.002, "sigma": 0.3},
    "completion_tokens": {"dist": "lognormal", "median": 200.0, "sigma": 0.6},
}


def _population_quantile(dist: Params, q: float) -> float:
    """The q-quantile of a stated distribution (for ``tail``)."""
    kind = dist["dist"]
    if not 0.0 < q < 1.0:
        raise ValueError(f"tail quantile must be in (0, 1), got {q}")
    if kind == "lognormal":
        return float(dist["median"]) * math.exp(float(dist["sigma"]) * NormalDist().inv_cdf(q))
    if kind == "normal":
        return NormalDist(float(dist["mean"]), float(dist["sd"])).inv_cdf(q)
    if kind == "exponential":
        return -float(dist["mean"]) * math.log1p(-q)
    if kind == "uniform":
        lo, hi = float(dist["lo"]), float(dist["hi"])
        return lo + q * (hi - lo)
    raise ValueError(f"a tail needs a continuous distribution, got {kind!r}")


#: A plausible LLM endpoint, for studies: log-normal latency (median 800 ms), half the calls
#: streamed (TTFT median 250 ms), ~400 prompt and ~200 completion tokens at $2.50 / $10 per
#: million, 0.5% errors, 1% refusals, 5% thumbs-down.
LLM_ARM: dict[str, Any] = {
    "latency_ms": {"dist": "lognormal", "median": 800.0, "sigma": 0.5},
    "ttft_ms": {"dist": "lognormal", "median": 250.0, "sigma": 0.4, "share": 0.5},
    "completion_tokens": {"dist": "lognormal", "median": 200.0, "sigma": 0.6},
    "prompt_tokens": {"dist": "lognormal", "median": 400.0, "sigma": 0.3},
    "prices": {"input": 2.5, "output": 10.0},
    "error_rate": 0.005,
    "refusal_rate": 0.01,
    "negative_rate": 0.05,
}


#: Stationary arm for the power studies of the continuous gates (cost, latency, length): the
#: LLM arm without errors (they have their own gate and the others judge ok calls only) and
#: without streaming, so every look at ``m`` calls per arm judges exactly ``m`` values.
POWER_ARM: dict[str, Any] = {
    **{k: v for k, v in LLM_ARM.items() if k != "ttft_ms"},
    "error_rate": 0.0,
}

#: Arm for the power studies of the rate gates: the LLM arm's rates; the other columns are
#: constant because the rate gates read only the flags (and constants cost no draws).
RATE_ARM: dict[str, Any] = {
    "latency_ms": {"dist": "const", "value": 800.0},
    "cost_usd": {"dist": "const", "value": 0.0034},
    "completion_tokens": {"dist": "const", "value": 240.0},
    "error_rate": LLM_ARM["error_rate"],
    "refusal_rate": LLM_ARM["refusal_rate"],
    "negative_rate": LLM_ARM["negative_rate"],
}


@dataclass(frozen=True)
class Regression:
    """A reference regression: the gate that must catch it, both arms, and the sample size
    per arm at which the sequential judge is stated to FAIL it in >= 99% of runs."""

    label: str
    gate: str
    baseline: Params
    candidate: Params
    n: int
    how: str  # what exactly the candidate changes


_TAIL_2X = {**LLM_ARM["latency_ms"], "tail": {"quantile": 0.98, "factor": 2.0}}

REFERENCE_REGRESSIONS: tuple[Regression, ...] = (
    Regression(
        "cost +25%", "cost", POWER_ARM,
        {**POWER_ARM, "prices": {"input": 3.125, "output": 12.5}}, 28_000,
        "both token prices x1.25 (same tokens): mean cost ratio 1.25, bound 1.2",
    ),
    Regression(
        "P99 latency x2", "latency", POWER_ARM, {**POWER_ARM, "latency_ms": _TAIL_2X}, 10_000,
        "latencies above the baseline's P98 (2234 ms) x2: P99 ratio exactly 2, P50 and P95"
        " unchanged; bound 1.5",
    ),
    Regression(
        "refusals x3", "refusals", RATE_ARM, {**RATE_ARM, "refusal_rate": 0.03}, 300_000,
        "refusal rate 1% -> 3%: excess 3% - 2 x 1% = 1% against the floor 0.5%",
    ),
    Regression(
        "thumbs-down x2", "feedback", RATE_ARM, {**RATE_ARM, "negative_rate": 0.10}, 48_000,
        "thumbs-down rate 5% -> 10%: excess 10% - 1.5 x 5% = 2.5% against the floor 0.5%",
    ),
    Regression(
        "output length +50%", "output_length", POWER_ARM,
        {**POWER_ARM, "completion_tokens": {"dist": "lognormal", "median": 300.0, "sigma": 0.6}},
        3_000,
        "completion tokens x1.5 (median 200 -> 300): mean ratio 1.5 against the band"
        " [0.8, 1.25]",
    ),
)  # fmt: skip


def draw(dist: Params, n: int, rng: np.random.Generator) -> FloatArray:
    """``n`` draws from a stated distribution (see the module docstring), tail applied."""
    values = _draw_plain(dist, n, rng)
    tail = dist.get("tail")
    if tail is not None:
        cut = _population_quantile(dist, float(tail["quantile"]))
        values = np.where(values > cut, values * float(tail["factor"]), values)
    return values


def _draw_plain(dist: Params, n: int, rng: np.random.Generator) -> FloatArray:
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
    if "prices" in p:  # drawn last: stating prices never changes the other columns
        prompt = np.round(draw(p["prompt_tokens"], n, rng))
        cost[:] = token_cost(p["prices"], prompt, tokens)
        cost[error] = 0.0
    for inj in p.get("inject", ()):
        columns[inj["column"]][int(inj["index"])] = float(inj["value"])  # "nan", "inf", -1, ...
    return SyntheticArm(latency, ttft, cost, tokens, error, refused, negative)


def token_cost(prices: Params, prompt: FloatArray, completion: FloatArray) -> FloatArray:
    """USD per call from token counts and prices per million tokens (no cached tokens)."""
    usd = prompt * float(prices["input"]) + completion * float(prices["output"])
    return np.asarray(usd / 1_000_000, np.float64)


def with_drift(
    arm: SyntheticArm, block: int, spread: float, rng: np.random.Generator
) -> SyntheticArm:
    """Window-to-window non-determinism: every ``block`` consecutive calls share factors.

    Per block, three independent factors uniform in ``[1 - spread, 1 + spread]`` multiply the
    latency (and TTFT), the completion tokens (rounded again) and the cost. Two arms drifted
    with independent generators have a ratio that moves by up to ``(1 + s) / (1 - s)``, e.g.
    15% for ``spread = 0.07``. Flags and feedback are left alone.
    """
    if block < 1 or not 0.0 <= spread < 1.0:
        raise ValueError("need block >= 1 and 0 <= spread < 1")
    blocks = -(-arm.n // block)

    def factors() -> FloatArray:
        per_block = rng.uniform(1.0 - spread, 1.0 + spread, blocks)
        return np.asarray(np.repeat(per_block, block)[: arm.n], np.float64)

    latency = factors()
    return replace(
        arm,
        latency_ms=arm.latency_ms * latency,
        ttft_ms=arm.ttft_ms * latency,
        completion_tokens=np.round(arm.completion_tokens * factors()),
        cost_usd=arm.cost_usd * factors(),
    )


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
