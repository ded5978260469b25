"""A whole rollout of A/A checks: every check of every step of a spec, under drift.

:func:`aa_rollout_run` draws both arms from one distribution per step, drifts them window to
window (:func:`~.synth.with_drift`) and judges every check with every method on the same
data, as the controller would (:func:`rollout_traffic` says how many requests and checks each
step gets); :func:`judge_methods` is :func:`~llm_rollout.judge.judge_step` for several methods
with each gate measured once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...records import Window
from ...spec import GateBase, Method, RateGate, RolloutSpec
from ...verdict import Outcome, StepDecision, Verdict
from .._validate import validate_window
from ..combine import combine
from ..decide import Context, Stat, decide
from ..gates import measure_gate
from .rates import RATE_COUNTS, rate_fail_looks
from .synth import Params, SyntheticArm, draw_arm, with_drift


def _measured(
    spec: RolloutSpec, window: Window, skip: frozenset[str] = frozenset()
) -> list[tuple[str, GateBase, Stat]]:
    validate_window(window)
    return [
        (name, gate, stat)
        for name, gate in spec.gates.enabled().items()
        if name not in skip
        for stat in measure_gate(name, gate, window, spec.gate_alpha(name))
    ]


def _decided(stats: list[tuple[str, GateBase, Stat]], method: Method) -> list[Verdict]:
    return [
        decide(Context(name, method, gate.critical, gate.min_samples), stat)
        for name, gate, stat in stats
    ]


def judge_methods(
    spec: RolloutSpec, window: Window, methods: Sequence[Method]
) -> dict[Method, StepDecision]:
    """:func:`~llm_rollout.judge.judge_step` (canary phase) for several methods at once.

    Each gate is measured once and decided by every method, which is what ``judge_step``
    does per method; the SRM guard is left out (it never makes a FAIL).
    """
    stats = _measured(spec, window)
    return {method: combine(_decided(stats, method)) for method in methods}


def _critical_names(verdicts: Sequence[Verdict]) -> list[str]:
    return [f"{v.gate}/{v.statistic}" for v in verdicts if v.critical and v.outcome is Outcome.FAIL]


@dataclass(frozen=True)
class StepTraffic:
    """One canary step as checked: requests per check for each arm, and how many checks."""

    weight: float  # candidate share, percent
    per_check_baseline: int
    per_check_candidate: int
    checks: int


def rollout_traffic(
    spec: RolloutSpec, requests_per_minute: float, dwell: str | float = "max"
) -> list[StepTraffic]:
    """The checks of every step that has a concurrent baseline (weight < 100).

    Traffic is deterministic: each check interval brings ``requests_per_minute * interval``
    requests, ``round(weight%)`` of them to the candidate. A step is checked every
    ``check_interval`` until its ``max_dwell`` (``dwell="max"``: the most looks and the most
    data a step can get), its ``min_dwell`` (``"min"``) or for ``dwell`` seconds.
    """
    if dwell not in ("max", "min") and not isinstance(dwell, int | float):
        raise ValueError(f"dwell must be 'max', 'min' or seconds, got {dwell!r}")
    per_check = round(requests_per_minute * spec.check_interval / 60.0)
    out = []
    for step in spec.steps:
        if step.weight >= 100:
            continue
        cand = round(per_check * step.weight / 100.0)
        seconds = {"max": step.max_dwell, "min": step.min_dwell}.get(str(dwell), dwell)
        checks = max(1, math.floor(float(seconds) / spec.check_interval + 1e-9))
        out.append(StepTraffic(step.weight, per_check - cand, cand, checks))
    return out


@dataclass(frozen=True)
class RolloutFail:
    """Where a run first FAILed: the step's weight, the check (1-based) and what FAILed."""

    weight: float
    check: int
    failed: tuple[str, ...]  # "gate/statistic" of every critical FAIL at that check


@dataclass(frozen=True)
class _StepData:
    """One step's drifted draws and the prefix sizes each check judges."""

    step: StepTraffic
    base: SyntheticArm
    cand: SyntheticArm

    @classmethod
    def draw(cls, arm: Params, step: StepTraffic, drift: float, key: list[int]) -> _StepData:
        arms = []
        for a, per_check in enumerate((step.per_check_baseline, step.per_check_candidate)):
            params = {**arm, "n": per_check * step.checks}
            drawn = draw_arm(params, np.random.default_rng([*key, a, 0]))
            drift_rng = np.random.default_rng([*key, a, 1])
            arms.append(with_drift(drawn, max(per_check, 1), drift, drift_rng))
        return cls(step, arms[0], arms[1])

    def sizes(self) -> tuple[list[int], list[int]]:
        checks = range(1, self.step.checks + 1)
        return (
            [j * self.step.per_check_baseline for j in checks],
            [j * self.step.per_check_candidate for j in checks],
        )

    def window(self, check: int) -> Window:
        b = self.base.window(check * self.step.per_check_baseline)
        c = self.cand.window(check * self.step.per_check_candidate)
        return Window(b, c, candidate_weight=self.step.weight / 100.0)


def aa_rollout_run(
    spec: RolloutSpec,
    arm: Params,
    traffic: Sequence[StepTraffic],
    *,
    drift: float,
    seed: int,
    run: int,
    methods: Sequence[Method] = (Method.SEQUENTIAL, Method.THRESHOLD),
) -> dict[Method, RolloutFail | None]:
    """One A/A rollout: both arms drawn from ``arm``, every check of every step judged.

    Each step starts a fresh window (the controller judges from the step's start); within it,
    check ``j`` judges the first ``j`` intervals' calls of each arm. Every interval, each arm's
    latency, tokens and cost get fresh factors uniform in ``[1 - drift, 1 + drift]``
    (:func:`~.synth.with_drift`). A method's run ends at its first critical FAIL (a rollback);
    its :class:`RolloutFail` says where, or None when the rollout saw no FAIL.

    Every look is judged by the judge's own code (each gate measured once, decided by every
    method, as :func:`judge_methods`), except that the rate gates' verdicts at all looks of
    a step come from :func:`rate_fail_looks` at once; :func:`judge_methods` confirms them at
    the deciding looks (each first FAIL and the look before it, and the last look of every
    step a method passes through), raising ``AssertionError`` on a disagreement.
    """
    first: dict[Method, RolloutFail | None] = dict.fromkeys(methods)
    for s, step in enumerate(traffic):
        live = [m for m in methods if first[m] is None]
        if not live:
            break
        data = _StepData.draw(arm, step, drift, [seed, run, s])
        first.update(_aa_step(spec, data, live))
    return first


def _aa_step(
    spec: RolloutSpec, data: _StepData, methods: list[Method]
) -> dict[Method, RolloutFail | None]:
    rate_gates = {
        name: gate
        for name, gate in spec.gates.enabled().items()
        if name in RATE_COUNTS and isinstance(gate, RateGate) and gate.critical
    }
    b_sizes, c_sizes = data.sizes()
    rate_fails = {
        m: {
            name: rate_fail_looks(
                name, gate, base=data.base, cand=data.cand, sizes=b_sizes, cand_sizes=c_sizes,
                alpha=spec.gate_alpha(name), method=m,
            )
            for name, gate in rate_gates.items()
        }
        for m in methods
    }  # fmt: skip
    out: dict[Method, RolloutFail | None] = {}
    live = list(methods)
    for j in range(1, data.step.checks + 1):
        if not live:
            break
        stats = _measured(spec, data.window(j), frozenset(rate_gates))
        for m in list(live):
            names = _critical_names(_decided(stats, m))
            names += [f"{n}/rate_excess" for n, fails in rate_fails[m].items() if fails[j - 1]]
            if names:
                _confirm(spec, data.window(j), m, names)
                if j > 1:
                    _confirm(spec, data.window(j - 1), m, [])
                out[m] = RolloutFail(data.step.weight, j, tuple(names))
                live.remove(m)
    for m in live:
        _confirm(spec, data.window(data.step.checks), m, [])
        out[m] = None
    return out


def _confirm(spec: RolloutSpec, window: Window, method: Method, names: list[str]) -> None:
    judged = _critical_names(judge_methods(spec, window, [method])[method].verdicts)
    if sorted(judged) != sorted(names):
        raise AssertionError(f"the rollout study disagrees with the judge: {names} vs {judged}")
