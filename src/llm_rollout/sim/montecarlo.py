"""Monte Carlo: many seeded runs of one scenario, in parallel, summarised per judging method.

Runs use seeds ``seed, seed + 1, ...`` and the same seeds for every method compared, so the
methods see the same traffic until their decisions diverge. Rates carry an exact 95%
Clopper-Pearson interval (:func:`~llm_rollout.stats.binomial_interval`).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..spec import Method
from ..stats import binomial_interval
from .engine import RunResult, simulate
from .scenario import Scenario

OUTCOMES = ("promoted", "rolled_back", "paused", "timeout")


@dataclass(frozen=True)
class Rate:
    k: int
    n: int

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """95% Clopper-Pearson; no runs (n = 0) allow any rate."""
        return binomial_interval(self.k, self.n) if self.n else (0.0, 1.0)

    def text(self) -> str:
        lo, hi = self.interval
        return f"{self.value:.1%} [{lo:.1%}, {hi:.1%}]"

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {"k": self.k, "n": self.n, "rate": self.value, "lo": lo, "hi": hi}


def _quantiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None}
    arr = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(arr)), "p90": float(np.quantile(arr, 0.9))}


@dataclass(frozen=True)
class MonteCarloSummary:
    """What N runs of one scenario under one method did."""

    scenario: str
    method: str
    runs: int
    first_seed: int
    outcomes: dict[str, Rate]
    halted_before_50: Rate  # rolled back or paused while the candidate served < 50%
    rolled_back_before_50: Rate
    stages: dict[str, dict[str, int]]  # outcome -> stage -> count
    gates: dict[str, int]  # gate.statistic that fired at a rollback -> runs
    detect_time: dict[str, float | None]  # rolled-back runs with a regression, seconds
    exposure: dict[str, float | None]  # requests served by the regressed candidate
    exposed_users: dict[str, float | None]
    candidate_served: dict[str, float | None]
    duration: dict[str, float | None]  # virtual time per run, seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "method": self.method,
            "runs": self.runs,
            "first_seed": self.first_seed,
            "outcomes": {k: r.to_dict() for k, r in self.outcomes.items()},
            "halted_before_50": self.halted_before_50.to_dict(),
            "rolled_back_before_50": self.rolled_back_before_50.to_dict(),
            "stages": self.stages,
            "gates": self.gates,
            "detect_time": self.detect_time,
            "exposure": self.exposure,
            "exposed_users": self.exposed_users,
            "candidate_served": self.candidate_served,
            "duration": self.duration,
        }


def summarise(results: Sequence[RunResult], scenario: str, method: str) -> MonteCarloSummary:
    n = len(results)
    counts = Counter(r.outcome for r in results)
    stages: dict[str, dict[str, int]] = {}
    # in rollout order: shadow (weight 0), then the steps by weight
    for r in sorted(results, key=lambda r: (r.weight, r.stage != "shadow")):
        by_stage = stages.setdefault(r.outcome, {})
        by_stage[r.stage] = by_stage.get(r.stage, 0) + 1
    halted = [r for r in results if r.outcome in ("rolled_back", "paused") and r.weight < 50]
    gates = Counter(f"{v.gate}.{v.statistic}" for r in results for v in r.fired)
    regressed = [r for r in results if r.regression_start is not None]
    return MonteCarloSummary(
        scenario=scenario,
        method=method,
        runs=n,
        first_seed=min((r.seed for r in results), default=0),
        outcomes={o: Rate(counts.get(o, 0), n) for o in OUTCOMES},
        halted_before_50=Rate(len(halted), n),
        rolled_back_before_50=Rate(sum(r.outcome == "rolled_back" for r in halted), n),
        stages=stages,
        gates=dict(gates.most_common()),
        detect_time=_quantiles([r.detect_time for r in results if r.detect_time is not None]),
        exposure=_quantiles([float(r.exposure) for r in regressed]),
        exposed_users=_quantiles([float(r.exposed_users) for r in regressed]),
        candidate_served=_quantiles([float(r.candidate_served) for r in results]),
        duration=_quantiles([r.time for r in results]),
    )


def _one(scenario: Scenario, task: tuple[Method | None, int]) -> RunResult:
    method, seed = task
    return simulate(scenario, method, seed=seed, timeline=False)


def _job(args: tuple[Scenario, Method | None, int]) -> RunResult:
    scenario, method, seed = args
    return _one(scenario, (method, seed))


def monte_carlo(
    scenario: Scenario,
    runs: int,
    methods: Sequence[Method | None] = (None,),
    *,
    first_seed: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[MonteCarloSummary]:
    """``runs`` seeded runs per method; one summary per method, in the order given.

    ``workers``: processes (default: the CPU count; 1 runs in this process).
    """
    if runs < 1:
        raise ValueError("runs must be >= 1")
    seed0 = scenario.seed if first_seed is None else first_seed
    tasks = [(m, seed0 + i) for m in methods for i in range(runs)]
    workers = workers or os.cpu_count() or 1
    results: list[RunResult] = []
    total = len(tasks)
    if workers == 1 or total == 1:
        for task in tasks:
            results.append(_one(scenario, task))
            if progress is not None:
                progress(len(results), total)
    else:
        chunk = max(1, min(16, total // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            jobs = ((scenario, m, s) for m, s in tasks)
            for result in pool.map(_job, jobs, chunksize=chunk):
                results.append(result)
                if progress is not None:
                    progress(len(results), total)
    out = []
    for i, m in enumerate(methods):
        part = results[i * runs : (i + 1) * runs]
        out.append(summarise(part, scenario.name, m.value if m is not None else "per-gate"))
    return out
