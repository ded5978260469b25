"""Model behaviour, column-wise: one numpy array per metric for a batch of requests.

Given a :class:`~llm_rollout.profile.ModelProfile`, a batch of prompts and the drift factors of
the current check window, :func:`behave` draws what the model did: total latency and TTFT
(log-normal, heavy right tail), completion tokens (log-normal), errors, refusals, ratings, and
cost from tokens x prices with the same formula as :func:`llm_rollout.records.cost_usd`.

Non-determinism: every check window draws, per arm and per metric family, a multiplicative
factor uniformly within ``[1 - drift, 1 + drift]`` (``profile.drift``); a run additionally draws
one factor per arm and family within ``[1 - run_variation, 1 + run_variation]``. Prompt tokens
are a property of the traffic, not the model, so they do not drift; the candidate's prompt
template can still make them longer (``candidate.prompt_tokens / baseline.prompt_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..profile import ModelProfile
from ..records import Prices
from .regression import Regression

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Metric families that drift independently; indices into a drift vector.
FAMILIES = ("latency", "ttft", "tokens", "errors", "refusals", "feedback")
LATENCY, TTFT, TOKENS, ERRORS, REFUSALS, FEEDBACK = range(len(FAMILIES))

PROMPT_SIGMA = 0.5  # spread of prompt sizes (log-normal, mean-preserving)
TAIL_Z = 2.0537  # standard-normal 98th percentile: p99_latency scales the top 2% only


def drift_factors(rng: np.random.Generator, drift: float) -> FloatArray:
    """One multiplicative factor per metric family, uniform in ``[1 - drift, 1 + drift]``."""
    out: FloatArray = rng.uniform(1.0 - drift, 1.0 + drift, len(FAMILIES))
    return out


@dataclass(frozen=True)
class Prompts:
    """The traffic side of a batch: arrival times, prompt sizes, and which prompts are hit."""

    time: FloatArray
    size: FloatArray  # multiplicative prompt size, mean 1
    key: FloatArray  # uniform in [0, 1): a regression with share s hits prompts with key < s
    streamed: BoolArray

    @property
    def n(self) -> int:
        return int(self.time.shape[0])

    def take(self, index: npt.NDArray[np.intp] | BoolArray) -> Prompts:
        return Prompts(self.time[index], self.size[index], self.key[index], self.streamed[index])

    @classmethod
    def draw(
        cls, rng: np.random.Generator, time: FloatArray, stream_fraction: float = 1.0
    ) -> Prompts:
        n = int(time.shape[0])
        size = np.exp(PROMPT_SIGMA * rng.standard_normal(n) - PROMPT_SIGMA**2 / 2)
        key: FloatArray = rng.random(n)
        streamed: BoolArray = rng.random(n) < stream_fraction
        return cls(time, size, key, streamed)


@dataclass(frozen=True)
class Batch:
    """What one arm did for a batch of requests (served or shadow)."""

    time: FloatArray
    latency_ms: FloatArray
    ttft_ms: FloatArray  # NaN when not streamed or errored
    prompt_tokens: FloatArray
    completion_tokens: FloatArray
    cached_tokens: FloatArray
    cost_usd: FloatArray
    error: BoolArray
    refused: BoolArray
    rated: BoolArray  # got any rating (served requests only)
    negative: BoolArray  # got a thumbs-down (served requests only)

    @property
    def n(self) -> int:
        return int(self.time.shape[0])


def cost_columns(
    prices: Prices,
    prompt_tokens: FloatArray,
    completion_tokens: FloatArray,
    cached_tokens: FloatArray,
    price_factor: FloatArray | float = 1.0,
) -> FloatArray:
    """:func:`llm_rollout.records.cost_usd`, vectorised with the same operations in the same
    order, so each element equals the scalar function exactly (``price_factor`` scales all
    three prices, as a pricier tier would)."""
    cached = np.minimum(cached_tokens, prompt_tokens)
    price_in = prices.input * price_factor
    price_cached = (prices.input if prices.cached_input is None else prices.cached_input) * (
        price_factor
    )
    usd = (prompt_tokens - cached) * price_in
    usd = usd + (cached * price_cached + completion_tokens * (prices.output * price_factor))
    out: FloatArray = usd / 1_000_000
    return out


def _hit(prompts: Prompts, reg: Regression) -> BoolArray:
    hit: BoolArray = prompts.time >= reg.start
    if reg.share < 1:
        hit &= prompts.key < reg.share
    return hit


def _scale(values: FloatArray, hit: BoolArray, factor: float) -> FloatArray:
    out: FloatArray = values * np.where(hit, factor, 1.0)
    return out


def behave(
    profile: ModelProfile,
    prompts: Prompts,
    rng: np.random.Generator,
    drift: FloatArray,
    *,
    prompt_tokens_mean: float,
    regressions: Sequence[Regression] = (),
    served: bool = True,
) -> Batch:
    """Draw one model's behaviour on ``prompts``.

    ``drift`` is the product of the window and run factors per family (see FAMILIES);
    ``prompt_tokens_mean`` is the traffic's mean prompt size (the baseline profile's), which
    this model's prompt template scales by ``profile.prompt_tokens / prompt_tokens_mean``.
    """
    n = prompts.n
    latency_z = rng.standard_normal(n)
    latency = profile.latency_ms * drift[LATENCY] * np.exp(profile.latency_sigma * latency_z)
    ttft = profile.ttft_ms * drift[TTFT] * np.exp(profile.ttft_sigma * rng.standard_normal(n))
    completion = (
        profile.completion_tokens
        * drift[TOKENS]
        * np.exp(profile.completion_sigma * rng.standard_normal(n))
    )
    p_error = np.full(n, profile.error_rate * drift[ERRORS])
    p_refusal = np.full(n, profile.refusal_rate * drift[REFUSALS])
    p_negative = np.full(n, profile.thumbs_down_rate * drift[FEEDBACK])
    price_factor: FloatArray = np.ones(n)

    for reg in regressions:
        hit = _hit(prompts, reg)
        if not hit.any():
            continue
        f = reg.factor
        if reg.metric == "cost":
            price_factor = _scale(price_factor, hit, f)
        elif reg.metric == "latency":
            latency = _scale(latency, hit, f)
        elif reg.metric == "p99_latency":
            latency = _scale(latency, hit & (latency_z > TAIL_Z), f)
        elif reg.metric == "ttft":
            ttft = _scale(ttft, hit, f)
        elif reg.metric == "errors":
            p_error = _scale(p_error, hit, f)
        elif reg.metric == "refusals":
            p_refusal = _scale(p_refusal, hit, f)
        elif reg.metric == "thumbs_down":
            p_negative = _scale(p_negative, hit, f)
        elif reg.metric == "output_length":
            completion = _scale(completion, hit, f)

    scale = profile.prompt_tokens / prompt_tokens_mean if prompt_tokens_mean > 0 else 1.0
    prompt_tokens = np.maximum(np.rint(prompt_tokens_mean * scale * prompts.size), 1.0)
    cached_tokens = np.rint(prompt_tokens * profile.cached_fraction)
    completion_tokens = np.maximum(np.rint(completion), 1.0)
    error = rng.random(n) < p_error
    refused = ~error & (rng.random(n) < p_refusal)
    # A failed call returns no completion and is not billed.
    completion_tokens[error] = 0.0
    cost = cost_columns(
        profile.prices, prompt_tokens, completion_tokens, cached_tokens, price_factor
    )
    cost[error] = 0.0
    ttft = np.where(prompts.streamed & ~error, np.minimum(ttft, latency), np.nan)

    if served:
        rated = rng.random(n) < profile.feedback_rate
        # thumbs_down_rate is per served request: among the rated, negative with rate / share.
        share = max(profile.feedback_rate, 1e-12)
        negative = rated & (rng.random(n) < np.minimum(p_negative / share, 1.0))
    else:
        rated = np.zeros(n, dtype=np.bool_)
        negative = rated
    return Batch(
        time=prompts.time,
        latency_ms=latency,
        ttft_ms=ttft,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
        cost_usd=cost,
        error=error,
        refused=refused,
        rated=rated,
        negative=negative,
    )
