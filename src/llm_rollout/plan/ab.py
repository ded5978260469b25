"""How long an A/B step must run to show a quality difference on thumbs-down.

The controller reads the A/B verdict once, at the end of ``duration``
(:func:`llm_rollout.judge.ab_verdict`): superiority PASSes when the whole interval of
``p_candidate - p_baseline`` is below 0, non-inferiority when the interval of
``p_candidate - (1 + margin) p_baseline`` is at or below 0, each rate with the beta-binomial
confidence sequence at half the A/B phase's alpha. The duration is the shortest whole number of
checks at which that happens with the plan's power, for a candidate whose thumbs-down rate is
``(1 - gain)`` times the baseline's, under the same drift as the canary (per-window factors
average out over the step; the per-run factor does not).
"""

from __future__ import annotations

import math

import numpy as np

from ..profile import ModelProfile
from ..spec import ABStep, RolloutSpec
from ..stats import rate_cs_batch


def ab_pass_probability(
    n_arm: float,
    p_base: float,
    gain: float,
    *,
    rule: str,
    margin: float,
    alpha: float,
    drift: float,
    run_variation: float,
    windows: int,
    reps: int,
    seed: int,
) -> float:
    """P(the A/B rule PASSes) with ``n_arm`` served requests per arm at the end."""
    rng = np.random.default_rng(seed)
    n = max(round(n_arm), 1)
    out = []
    for rate in (p_base, p_base * (1.0 - gain)):
        run = rng.uniform(1 - run_variation, 1 + run_variation, reps)
        # The mean of `windows` uniform factors: sd drift / sqrt(3 windows).
        mean_drift = 1.0 + rng.standard_normal(reps) * drift / math.sqrt(3.0 * max(windows, 1))
        p = np.clip(rate * run * mean_drift, 0.0, 1.0)
        out.append(rng.binomial(n, p).astype(np.float64))
    kb, kc = out
    lo_b, _ = rate_cs_batch(kb, n, alpha / 2)
    _, hi_c = rate_cs_batch(kc, n, alpha / 2)
    factor = 1.0 if rule == "superiority" else 1.0 + margin
    excess_hi = hi_c - factor * lo_b
    passed = excess_hi < 0 if rule == "superiority" else excess_hi <= 0
    return float(np.mean(passed))


def ab_duration(
    spec: RolloutSpec,
    ab: ABStep,
    base: ModelProfile,
    gain: float,
    *,
    traffic_rate: float,
    drift: float,
    run_variation: float,
    power: float,
    max_duration: float,
    seed: int,
    reps: int = 1000,
) -> tuple[float | None, float | None, float]:
    """``(duration seconds, samples per arm, power reached)``; duration None when even
    ``max_duration`` does not reach ``power``."""
    interval = spec.check_interval
    alpha = spec.alpha / spec.looks()
    per_check = traffic_rate * interval / 60.0 * ab.weight / 100.0
    p_base = base.thumbs_down_rate

    def prob(checks: int) -> float:
        return ab_pass_probability(
            per_check * checks,
            p_base,
            gain,
            rule=ab.rule,
            margin=ab.margin,
            alpha=alpha,
            drift=drift,
            run_variation=run_variation,
            windows=checks,
            reps=reps,
            seed=seed,
        )

    k_max = max(1, math.floor(max_duration / interval))
    if p_base <= 0 or (ab.rule == "superiority" and gain <= 0):
        return None, None, 0.0
    top = prob(k_max)
    if top < power:
        return None, None, top
    lo, hi = 0, 1
    while hi < k_max and prob(hi) < power:
        lo, hi = hi, min(2 * hi, k_max)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if prob(mid) >= power:
            hi = mid
        else:
            lo = mid
    return hi * interval, per_check * hi, prob(hi)
