"""Noise-floor calibration: how far two arms of the *same* model drift apart, per metric.

Two sources of baseline-vs-baseline data:

- the store: an A/A split on the gateway (a route whose candidate digest equals its baseline
  digest, e.g. 50/50), whose served records carry arm baseline / candidate for the same model;
- a simulation: the simulator's behaviour model (:func:`llm_rollout.sim.behave`) on both arms
  with the same profile, per-window drift and per-run variation.

Both are measured window by window as :mod:`.noise_stats` describes (the arm ratio's variation,
less the part sampling explains, gives the drift and the noise floor). The result is a
:class:`~llm_rollout.plan.noise.NoiseProfile` (JSON) that ``llm-rollout plan --noise`` reads,
with the baseline's measured levels.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import LlmRolloutError, SpecError
from ..plan.noise import DEFAULT_RUN_VARIATION, DRIFT_METRICS, MetricNoise, NoiseProfile
from ..profile import ModelProfile
from ..records import ArmWindow, FloatArray, RequestRecord, Role, Status
from ..sim.behaviour import Prompts, behave, drift_factors
from ..sim.traffic import Traffic
from ..store.base import Store
from .noise_stats import MIN_WINDOW_SAMPLES, summarise

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
    records = [r for r in store.read_records(rollout_id) if r.role is Role.SERVE]
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


def _drift_of(metrics: dict[str, MetricNoise]) -> float:
    values = [metrics[m].drift for m in DRIFT_METRICS if m in metrics]
    return max(values, default=0.0)


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
