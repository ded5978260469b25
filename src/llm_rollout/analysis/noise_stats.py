"""The statistics of the noise-floor calibration: how far two arms of one model drift apart.

Per metric and window the arm ratio ``r = candidate / baseline`` is measured. Its variation
across windows (RMS of ``log r``, since the truth is 0) has two parts: sampling, which the
gates' confidence sequences already account for, and the systematic rest (non-determinism,
provider load) which they cannot. The sampling part is estimated per window from the data
(variance of a mean over ``n``, the spread of neighbouring order statistics for a quantile,
``(1 - p) / (n p)`` for a rate) and removed: ``drift_sd = sqrt(max(sd^2 - sampling^2, 0))``.
The noise floor is ``exp(m x drift_sd) - 1`` with the bound multiplier ``m = z(1 - target)``:
a bound above ``1 + floor`` keeps a persistent arm-to-arm deviation from breaching it in more
than ``target`` of the windows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..plan.noise import DRIFT_METRICS, METRICS, MetricNoise, floor_of, multiplier
from ..records import ArmWindow, FloatArray

MIN_WINDOW_SAMPLES = 20  # per arm: fewer and a window's statistics say nothing
UNRESOLVED = 0.9  # sampling share of the variation above which drift is not measurable


@dataclass(frozen=True)
class WindowStat:
    """One arm's statistic in one window and the variance of its log from sampling alone."""

    value: float
    log_var: float


def _mean_stat(x: FloatArray) -> WindowStat | None:
    n = x.size
    if n < MIN_WINDOW_SAMPLES:
        return None
    mean = float(x.mean())
    if mean <= 0:
        return None
    return WindowStat(mean, float(x.var(ddof=1)) / (n * mean * mean))


def _quantile_stat(x: FloatArray, p: float) -> WindowStat | None:
    x = x[np.isfinite(x)]
    n = x.size
    if n < MIN_WINDOW_SAMPLES or n * (1 - p) < 1:
        return None
    q = float(np.quantile(x, p))
    if q <= 0:
        return None
    k = math.sqrt(n * p * (1 - p))
    lo = float(np.quantile(x, max(p - k / n, 0.0)))
    hi = float(np.quantile(x, min(p + k / n, 1.0)))
    if lo <= 0:
        return None
    sd = (math.log(hi) - math.log(lo)) / 2.0
    return WindowStat(q, sd * sd)


def _rate_stat(k: int, n: int) -> WindowStat | None:
    if n < MIN_WINDOW_SAMPLES:
        return None
    p = (k + 0.5) / (n + 1.0)  # continuity-corrected: a window without events still counts
    return WindowStat(p, (1 - p) / (n * p))


def window_stats(arm: ArmWindow) -> dict[str, WindowStat | None]:
    ok = ~arm.error
    ttft = arm.ttft_ms[ok]
    return {
        "cost": _mean_stat(arm.cost_usd),
        "latency_p50": _quantile_stat(arm.latency_ms[ok], 0.5),
        "latency_p99": _quantile_stat(arm.latency_ms[ok], 0.99),
        "ttft_p99": _quantile_stat(ttft[~np.isnan(ttft)], 0.99),
        "output_mean": _mean_stat(arm.completion_tokens[ok]),
        "output_p99": _quantile_stat(arm.completion_tokens[ok], 0.99),
        "errors": _rate_stat(int(arm.error.sum()), arm.n),
        "refusals": _rate_stat(int(arm.refused[ok].sum()), int(ok.sum())),
        "feedback": _rate_stat(arm.negative_feedback, arm.n),
    }


@dataclass
class _Series:
    logs: list[float]
    sampling: list[float]


def summarise(
    pairs: Sequence[tuple[ArmWindow, ArmWindow]], target: float
) -> tuple[dict[str, MetricNoise], float]:
    """Per metric noise from (baseline, candidate) window pairs; also the mean log offset of
    the continuous metrics (a persistent arm difference)."""
    series = {m: _Series([], []) for m in METRICS}
    for base, cand in pairs:
        sb, sc = window_stats(base), window_stats(cand)
        for metric in METRICS:
            b, c = sb[metric], sc[metric]
            if b is None or c is None:
                continue
            series[metric].logs.append(math.log(c.value / b.value))
            series[metric].sampling.append(b.log_var + c.log_var)
    mult = multiplier(target)
    measured: dict[str, tuple[int, float, float, float, float]] = {}
    offsets = []
    for metric, s in series.items():
        if not s.logs:
            continue
        logs = np.asarray(s.logs)
        sd = float(np.sqrt(np.mean(logs**2)))
        sampling = float(np.sqrt(np.mean(s.sampling)))
        drift_sd = math.sqrt(max(sd * sd - sampling * sampling, 0.0))
        worst = float(np.max(np.abs(np.expm1(logs))))
        measured[metric] = (len(s.logs), sd, sampling, drift_sd, worst)
        if metric in DRIFT_METRICS:
            offsets.append(abs(float(np.mean(logs))))
    reference = max((measured[m][3] for m in DRIFT_METRICS if m in measured), default=0.0)
    out: dict[str, MetricNoise] = {}
    for metric, (windows, sd, sampling, measured_sd, worst) in measured.items():
        # A rare event's rate in a window is mostly sampling noise: when sampling explains
        # 90% of the variation, the remainder cannot be told from zero; assume the drift of
        # the continuous metrics instead of a floor of zero.
        assumed = sampling >= UNRESOLVED * sd and measured_sd < reference
        drift_sd = reference if assumed else measured_sd
        out[metric] = MetricNoise(
            windows, sd, sampling, drift_sd, worst, floor_of(drift_sd, mult), mult, assumed
        )
    return out, max(offsets, default=0.0)
