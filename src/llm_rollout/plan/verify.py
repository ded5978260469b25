"""``plan --verify``: run the planned spec through the simulator and compare.

The simulator (:mod:`llm_rollout.sim`) drives the real controller and judge on synthetic
traffic with the plan's profiles (prices and tokens of both models, the baseline's behaviour),
traffic and noise (drift per window and run). For the A/A case (the candidate exactly as
planned) and each reference regression, present from the start, N seeded runs give the share
rolled back by the end of every stage, with an exact 95% (Clopper-Pearson) interval. Runs end
with the last step that has a concurrent baseline: the 100% soak and an A/B step judge nothing
the plan's detection figures are about.

The check: each reference regression's simulated detection by its stated stage is within
``TOLERANCE`` (5 percentage points) of the planned probability.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..sim import Rate, Scenario, Traffic, monte_carlo, parse_regression
from .model import Plan

TOLERANCE = 0.05
AA = "A/A (as planned)"


@dataclass(frozen=True)
class VerifyRow:
    scenario: str  # AA or the regression label
    regression: str | None  # e.g. "cost=1.25"
    runs: int
    rolled_back: Rate  # by the end of the simulated stages
    by_stage: tuple[tuple[str, Rate], ...]  # cumulative rolled back by the end of each stage
    gates: dict[str, int]
    planned: float | None  # the plan's stated probability
    stage: str | None  # where it is stated
    simulated: Rate | None

    @property
    def difference(self) -> float | None:
        if self.planned is None or self.simulated is None:
            return None
        return self.simulated.value - self.planned

    @property
    def within(self) -> bool | None:
        d = self.difference
        return None if d is None else abs(d) <= TOLERANCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "regression": self.regression,
            "runs": self.runs,
            "rolled_back": self.rolled_back.to_dict(),
            "by_stage": {k: r.to_dict() for k, r in self.by_stage},
            "gates": self.gates,
            "planned": self.planned,
            "stage": self.stage,
            "simulated": None if self.simulated is None else self.simulated.to_dict(),
            "difference": self.difference,
            "within_tolerance": self.within,
        }


@dataclass(frozen=True)
class Verification:
    runs: int
    duration: float  # simulated seconds per run (at most)
    rows: tuple[VerifyRow, ...]

    @property
    def false_rollback(self) -> Rate:
        return self.rows[0].rolled_back

    @property
    def all_within(self) -> bool:
        return all(r.within is not False for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "simulated_seconds": self.duration,
            "tolerance": TOLERANCE,
            "false_rollback": self.false_rollback.to_dict(),
            "all_within_tolerance": self.all_within,
            "rows": [r.to_dict() for r in self.rows],
        }


def scenario_of(plan: Plan, regression: str | None = None) -> Scenario:
    """The plan as a simulation scenario (the A/A case without ``regression``)."""
    inputs = plan.inputs
    base, cand = inputs.profiles()
    judged = sum(s.dwell for s in plan.steps if s.weight < 100)
    regs = () if regression is None else (parse_regression(regression),)
    return Scenario(
        spec=plan.spec,
        baseline=base,
        candidate=cand,
        traffic=Traffic(inputs.rate, inputs.daily_cycle, inputs.peak_hour, inputs.start_hour),
        regressions=regs,
        seed=inputs.seed,
        run_variation=inputs.noise.run_variation,
        duration=plan.shadow.duration + judged + 1.0,
        name=regression or "aa",
    )


def verify_plan(
    plan: Plan,
    runs: int,
    *,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Verification:
    """N runs of the A/A case and of every reference regression."""
    labels = plan.stage_labels[: 1 + sum(1 for s in plan.steps if s.weight < 100)]
    cases: list[tuple[str, str | None, float | None, str | None]] = [(AA, None, None, None)]
    cases += [(d.label, d.regression, d.stated, d.stated_stage) for d in plan.detections]
    rows = []
    duration = 0.0
    for name, regression, planned, stage in cases:
        sc = scenario_of(plan, regression)
        duration = sc.time_limit()
        tick = None if progress is None else (lambda k, n, _name=name: progress(_name, k, n))
        summary = monte_carlo(sc, runs, workers=workers, progress=tick)[0]
        halted = summary.stages.get("rolled_back", {})
        cumulative = []
        total = 0
        for label in labels:
            total += halted.get(label, 0)
            cumulative.append((label, Rate(total, runs)))
        simulated = dict(cumulative).get(stage) if stage is not None else None
        rows.append(
            VerifyRow(
                scenario=name,
                regression=regression,
                runs=runs,
                rolled_back=summary.outcomes["rolled_back"],
                by_stage=tuple(cumulative),
                gates=summary.gates,
                planned=planned,
                stage=stage,
                simulated=simulated,
            )
        )
    return Verification(runs, duration, tuple(rows))
