"""Uniform coverage of the mean CS on a synthetic arm's own column (cost, tokens).

:func:`arm_mean` computes the arm's true mean exactly (token rounding included);
:func:`mean_misses` and :func:`mean_coverage` check :func:`~llm_rollout.stats.mean_cs` against
it at every look, like :func:`llm_rollout.stats.coverage.uniform_coverage` does for stated
distributions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...records import FloatArray
from ...stats import mean_cs
from .synth import DEFAULT_ARM, Params, draw_arm


def _rounded_lognormal_mean(dist: Params) -> float:
    """``E[round(X)]`` for a log-normal ``X`` (token counts are rounded draws), exactly:
    ``round(X) = sum_{k >= 1} 1[X >= k - 1/2]``, so the mean is the sum of the tails."""
    if dist["dist"] != "lognormal" or "tail" in dist:
        raise ValueError("rounded means are implemented for plain log-normal draws only")
    mu, sigma = math.log(float(dist["median"])), float(dist["sigma"])
    total, k = 0.0, 1
    while True:
        z = (math.log(k - 0.5) - mu) / sigma
        tail = 0.5 * math.erfc(z / math.sqrt(2.0))
        total += tail
        if tail < 1e-15 and z > 0:
            return total
        k += 1


def arm_mean(arm: Params, column: str) -> float:
    """The true mean of ``completion_tokens`` or of ``cost_usd`` (priced from tokens) of an arm
    drawn by :func:`~.synth.draw_arm` (plain log-normal token counts)."""
    p = {**DEFAULT_ARM, **arm}
    tokens = _rounded_lognormal_mean(p["completion_tokens"])
    if column == "completion_tokens":
        return tokens
    if column == "cost_usd" and "prices" in p:
        prompt = _rounded_lognormal_mean(p["prompt_tokens"])
        prices = p["prices"]
        usd = prompt * float(prices["input"]) + tokens * float(prices["output"])
        return (1.0 - float(p.get("error_rate", 0.0))) * usd / 1_000_000
    raise ValueError(f"no closed-form mean for {column!r} of this arm")


def mean_misses(
    arm: Params,
    column: str,
    *,
    alpha: float,
    runs: int,
    length: int,
    looks: Sequence[int],
    seed: int,
) -> list[tuple[int, str]]:
    """Uniform coverage of :func:`~llm_rollout.stats.mean_cs` on one column of an arm, as its
    misses: for every run whose CS excludes :func:`arm_mean` at some look, that first look
    and the side of the truth the CS lies on (``"below"``: the whole CS is below the truth).

    Run ``r`` draws from ``default_rng([seed, r])``. Like
    :func:`llm_rollout.stats.coverage.uniform_coverage`, for the distributions the gates see.
    """
    if not looks or min(looks) < 1 or max(looks) > length:
        raise ValueError("looks must lie within 1..length")
    truth = arm_mean(arm, column)
    misses = []
    for run in range(runs):
        drawn = draw_arm({**arm, "n": length}, np.random.default_rng([seed, run]))
        x: FloatArray = getattr(drawn, column)
        for n in looks:
            cs = mean_cs(x[:n], alpha)
            if not cs.contains(truth):
                misses.append((n, "below" if cs.hi < truth else "above"))
                break
    return misses


def mean_coverage(
    arm: Params,
    column: str,
    *,
    alpha: float,
    runs: int,
    length: int,
    looks: Sequence[int],
    seed: int,
) -> float:
    """The share of runs in which the CS of :func:`mean_misses` covers at every look."""
    misses = mean_misses(arm, column, alpha=alpha, runs=runs, length=length, looks=looks, seed=seed)
    return 1.0 - len(misses) / runs
