"""Noise-floor calibration: how far two arms of the *same* model drift apart, per metric.

Two sources of baseline-vs-baseline data:

- the store: an A/A split on the gateway (a route whose candidate digest equals its baseline
  digest, e.g. 50/50), whose served records carry arm baseline / candidate for the same model;
- a simulation: the simulator's behaviour model (:func:`llm_rollout.sim.behave`) on both arms
  with the same profile, per-window drift and per-run variation.

Per metric and window the arm ratio ``r = candidate / baseline`` is measured. Its variation
across windows (RMS of ``log r``, since the truth is 0) has two parts: sampling, which the
gates' confidence sequences already account for, and the systematic rest (non-determinism,
provider load) which they cannot. The sampling part is estimated per window from the data
(variance of a mean over ``n``, the spread of neighbouring order statistics for a quantile,
``(1 - p) / (n p)`` for a rate) and removed: ``drift_sd = sqrt(max(sd^2 - sampling^2, 0))``.
The noise floor is ``exp(m x drift_sd) - 1`` with the bound multiplier ``m = z(1 - target)``:
a bound above ``1 + floor`` keeps a persistent arm-to-arm deviation from breaching it in more
than ``target`` of the windows. The result is a :class:`~llm_rollout.plan.noise.NoiseProfile`
(JSON) that ``llm-rollout plan --noise`` reads, with the baseline's measured levels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidDataError, LlmRolloutError, SpecError
from ..plan.noise import (
    DEFAULT_RUN_VARIATION,
    DRIFT_METRICS,
    METRICS,
    MetricNoise,
    NoiseProfile,
    floor_of,
    multiplier,
)
from ..plan.text import pct, table
from ..profile import ModelProfile
from ..records import ArmWindow, FloatArray, RequestRecord, Role, Status
from ..sim.behaviour import Prompts, behave, drift_factors
from ..sim.traffic import Traffic
from ..store.base import Store

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


def _drift_of(metrics: dict[str, MetricNoise]) -> float:
    values = [metrics[m].drift for m in DRIFT_METRICS if m in metrics]
    return max(values, default=0.0)


# --- from a simulation ------------------------------------------------------------------------


def calibrate_simulation(
    profile: ModelProfile,
    *,
    rate: float,
    run_variation: float = DEFAULT_RUN_VARIATION,
    window_seconds: float = 300.0,
    hours: float = 4.0,
    runs: int = 10,
    target: float = 0.01,
    seed: int = 0,
    model: str | None = None,
) -> NoiseProfile:
    """An A/A split (50/50) of one simulated model: ``runs`` runs of ``hours`` each."""
    problems = []
    if not (math.isfinite(rate) and rate > 0):
        problems.append(("--rate", f"traffic must be > 0 requests per minute, got {rate!r}"))
    if not (math.isfinite(window_seconds) and window_seconds > 0):
        problems.append(("--window", "must be a duration > 0"))
    if not (math.isfinite(hours) and hours * 3600 >= window_seconds):
        problems.append(("--hours", "must cover at least one window"))
    if runs < 1:
        problems.append(("--runs", "must be >= 1"))
    if not 0 < target < 0.5:
        problems.append(("--target", "must be within (0, 0.5)"))
    if problems:
        raise SpecError(problems, "calibration")
    traffic = Traffic(rate)
    windows = math.floor(hours * 3600 / window_seconds)
    pairs: list[tuple[ArmWindow, ArmWindow]] = []
    for run in range(runs):
        rng = np.random.default_rng([seed, run])
        run_b = rng.uniform(1 - run_variation, 1 + run_variation, 6)
        run_c = rng.uniform(1 - run_variation, 1 + run_variation, 6)
        for w in range(windows):
            t0 = w * window_seconds
            times = traffic.arrivals(rng, t0, t0 + window_seconds)
            prompts = Prompts.draw(rng, times)
            side = np.asarray(rng.random(times.shape[0]) < 0.5, dtype=np.bool_)
            arms = []
            for mask, run_f in ((~side, run_b), (side, run_c)):
                drift = drift_factors(rng, profile.drift) * run_f
                batch = behave(
                    profile,
                    prompts.take(mask),
                    rng,
                    drift,
                    prompt_tokens_mean=profile.prompt_tokens,
                )
                arms.append(
                    ArmWindow(
                        latency_ms=batch.latency_ms,
                        ttft_ms=batch.ttft_ms,
                        cost_usd=batch.cost_usd,
                        completion_tokens=batch.completion_tokens,
                        error=batch.error,
                        refused=batch.refused,
                        negative_feedback=int(batch.negative.sum()),
                        feedback_count=int(batch.rated.sum()),
                    )
                )
            pairs.append((arms[0], arms[1]))
    metrics, _ = summarise(pairs, target)
    levels = {k: float(v) for k, v in _profile_fields(profile).items()}
    return NoiseProfile(
        source="simulation",
        model=model,
        window_seconds=window_seconds,
        target=target,
        drift=profile.drift,
        run_variation=run_variation,
        metrics=metrics,
        baseline=levels,
        description=(
            f"simulated A/A: {runs} run(s) of {hours:g} h at {rate:g} requests/minute, drift "
            f"+-{profile.drift:.0%} per arm and window, +-{run_variation:.0%} per run"
        ),
    )


def _profile_fields(profile: ModelProfile) -> dict[str, float]:
    fields = {
        "latency_ms": profile.latency_ms,
        "latency_sigma": profile.latency_sigma,
        "ttft_ms": profile.ttft_ms,
        "ttft_sigma": profile.ttft_sigma,
        "prompt_tokens": profile.prompt_tokens,
        "completion_tokens": profile.completion_tokens,
        "completion_sigma": profile.completion_sigma,
        "cached_fraction": profile.cached_fraction,
        "error_rate": profile.error_rate,
        "refusal_rate": profile.refusal_rate,
        "thumbs_down_rate": profile.thumbs_down_rate,
        "feedback_rate": profile.feedback_rate,
    }
    return fields


# --- from the store ---------------------------------------------------------------------------


def _log_fit(x: FloatArray) -> tuple[float, float]:
    """Median and sigma of a log-normal fitted to positive values."""
    x = x[np.isfinite(x) & (x > 0)]
    if x.size < 2:
        return math.nan, math.nan
    logs = np.log(x)
    return float(np.exp(np.median(logs))), float(np.std(logs, ddof=1))


def calibrate_store(
    store: Store,
    rollout_id: str | None = None,
    *,
    window_seconds: float = 300.0,
    target: float = 0.01,
    since: float | None = None,
    until: float | None = None,
) -> NoiseProfile:
    """Calibrate from the records of an A/A split (served calls, both arms the same model)."""
    read_records = getattr(store, "read_records", None)
    if read_records is None:
        raise InvalidDataError("this store cannot list records; calibrate needs the SQLite store")
    records = [r for r in read_records(rollout_id) if r.role is Role.SERVE]
    if since is not None:
        records = [r for r in records if r.time >= since]
    if until is not None:
        records = [r for r in records if r.time < until]
    where = f"rollout {rollout_id}" if rollout_id else "the store"
    if not records:
        raise SpecError([("ROLLOUT", f"no served records in {where}")], "calibration")
    rollouts = {r.rollout_id for r in records}
    if len(rollouts) > 1:
        names = ", ".join(sorted(rollouts))
        raise SpecError(
            [("ROLLOUT", f"records of several rollouts ({names}); name one")], "calibration"
        )
    rid = rollouts.pop()
    digests: dict[str, set[str]] = {r.arm.value: set() for r in records}
    for r in records:
        digests[r.arm.value].add(r.model_digest)
    if set(digests) != {"baseline", "candidate"}:
        raise SpecError(
            [
                (
                    "ROLLOUT",
                    f"{where} has records of one arm only: calibrate needs an A/A split "
                    "(a route whose candidate is the baseline model, e.g. 50/50)",
                )
            ],
            "calibration",
        )
    models = digests["baseline"] | digests["candidate"]
    if len(models) != 1:
        raise SpecError(
            [
                (
                    "ROLLOUT",
                    f"{where} is not an A/A split: its arms ran different models "
                    f"({', '.join(sorted(d[:12] for d in models))})",
                )
            ],
            "calibration",
        )
    digest = models.pop()
    try:
        ref = store.get_model(digest).ref
    except LlmRolloutError:  # an unregistered digest still identifies the model
        ref = f"unregistered@sha256:{digest}"
    t0 = min(r.time for r in records)
    t1 = max(r.time for r in records) + 1e-6
    count = max(1, math.floor((t1 - t0) / window_seconds))
    steps = sorted({r.step for r in records})
    pairs = []
    for w in range(count):
        ws, we = t0 + w * window_seconds, t0 + (w + 1) * window_seconds
        parts = [store.read_window(rid, s, Role.SERVE, ws, we) for s in steps]
        pairs.append((_concat([p[0] for p in parts]), _concat([p[1] for p in parts])))
    metrics, offset = summarise(pairs, target)
    if not metrics:
        raise SpecError(
            [
                (
                    "--window",
                    f"no window of {window_seconds:g} s holds {MIN_WINDOW_SAMPLES} "
                    "calls per arm: use a longer window or more traffic",
                )
            ],
            "calibration",
        )
    base = [r for r in records if r.arm.value == "baseline"]
    levels = _levels(base, store, rid, steps, t0, t1)
    drift = _drift_of(metrics)
    run_variation = min(offset * math.sqrt(1.5), 0.5)
    # The window-to-window sd holds the persistent offset too: do not count it twice.
    drift = math.sqrt(max(drift * drift - run_variation * run_variation, 0.0))
    return NoiseProfile(
        source="store",
        model=ref,
        window_seconds=window_seconds,
        target=target,
        drift=drift,
        run_variation=run_variation,
        metrics=metrics,
        baseline=levels,
        description=(
            f"A/A split {rid}: {len(records)} served calls in {count} windows of "
            f"{window_seconds:g} s"
        ),
    )


def _concat(arms: list[ArmWindow]) -> ArmWindow:
    if len(arms) == 1:
        return arms[0]
    return ArmWindow(
        latency_ms=np.concatenate([a.latency_ms for a in arms]),
        ttft_ms=np.concatenate([a.ttft_ms for a in arms]),
        cost_usd=np.concatenate([a.cost_usd for a in arms]),
        completion_tokens=np.concatenate([a.completion_tokens for a in arms]),
        error=np.concatenate([a.error for a in arms]),
        refused=np.concatenate([a.refused for a in arms]),
        negative_feedback=sum(a.negative_feedback for a in arms),
        feedback_count=sum(a.feedback_count for a in arms),
    )


def _levels(
    base: list[RequestRecord], store: Store, rid: str, steps: list[int], t0: float, t1: float
) -> dict[str, float]:
    """The baseline arm's behaviour as ModelProfile fields (log-normal fits, rates)."""
    ok = [r for r in base if r.status is not Status.ERROR]
    lat_med, lat_sig = _log_fit(np.array([r.latency_ms for r in ok], dtype=np.float64))
    ttft = np.array([r.ttft_ms for r in ok if r.ttft_ms is not None], dtype=np.float64)
    ttft_med, ttft_sig = _log_fit(ttft)
    comp_med, comp_sig = _log_fit(np.array([r.completion_tokens for r in ok], dtype=np.float64))
    n = len(base)
    arms = [store.read_window(rid, s, Role.SERVE, t0, t1)[0] for s in steps]
    negative = sum(a.negative_feedback for a in arms)
    rated = sum(a.feedback_count for a in arms)
    prompt = [r.prompt_tokens for r in base]
    cached = sum(r.cached_tokens for r in base)
    out = {
        "latency_ms": lat_med,
        "latency_sigma": lat_sig,
        "ttft_ms": ttft_med,
        "ttft_sigma": ttft_sig,
        "prompt_tokens": float(np.mean(prompt)) if prompt else math.nan,
        "completion_tokens": comp_med,
        "completion_sigma": comp_sig,
        "cached_fraction": cached / max(sum(prompt), 1),
        "error_rate": (n - len(ok)) / n,
        "refusal_rate": sum(r.refused for r in ok) / max(len(ok), 1),
        "thumbs_down_rate": negative / n,
        "feedback_rate": rated / n,
    }
    return {k: v for k, v in out.items() if math.isfinite(v)}


# --- the report -------------------------------------------------------------------------------

MARGIN = 0.03  # the planner's margin above the floor (llm_rollout.plan.planner.MARGIN)


def render_noise_markdown(profile: NoiseProfile) -> str:
    rows = []
    for metric, m in profile.metrics.items():
        rows.append(
            [
                METRICS.get(metric, metric),
                str(m.windows),
                pct(m.sd),
                pct(m.sampling_sd),
                pct(m.drift_sd) + (" (assumed)" if m.assumed else ""),
                pct(m.max_deviation),
                f"{m.multiplier:.2f}",
                pct(m.floor),
                f"{1 + m.floor + MARGIN:.3f}",
            ]
        )
    levels = ", ".join(f"{k} {v:.4g}" for k, v in profile.baseline.items()) or "not measured"
    lines = [
        "# Noise floor calibration",
        "",
        f"- Source: **{profile.source}**; model `{profile.model or 'not tied to a model'}`; "
        f"{profile.description}.",
        f"- Windows of {profile.window_seconds:g} s; false-alarm target {profile.target:g} per "
        f"bound; drift for the simulator +-{profile.drift:.1%} per arm and window, "
        f"+-{profile.run_variation:.1%} per run.",
        f"- Baseline levels: {levels}.",
        "",
        "Per metric, the arm ratio candidate / baseline of each window (identical models: any "
        "deviation is noise). *sd* is the RMS of its log; *sampling* the part a window's sample "
        "size explains (the gates' intervals cover it); *drift* the systematic rest. A gate bound "
        "at `1 + multiplier x drift` is breached by drift alone in a share *target* of the "
        "windows: that is the noise floor. The planner asks bounds to clear it by "
        f"{MARGIN:.0%}. *(assumed)*: sampling explains {UNRESOLVED:.0%} or more of the "
        "variation, so the drift cannot be measured from these windows; the largest drift of "
        "the continuous metrics (cost, p50 latency, mean tokens) stands in for it.",
        "",
        table(
            [
                "metric",
                "windows",
                "sd (log ratio)",
                "sampling",
                "drift",
                "max deviation",
                "bound multiplier",
                "noise floor",
                "smallest bound",
            ],
            rows,
            "lrrrrrrrr",
        ),
        "",
    ]
    return "\n".join(lines)
