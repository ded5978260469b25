"""Operating characteristics of a gate by simulation: false-FAIL rate and detection speed.

Pure functions over :mod:`.synth` parameters, seeded, so a study is a reproducible number.
A "run" draws both arms once and looks at growing prefixes of them, the way a controller
checks a step every few minutes; the run FAILs when any look FAILs (this is exactly the
repeated-looks setting where a fixed-sample test false-alarms and a confidence sequence
does not).
"""

from __future__ import annotations

import math

import numpy as np

from ..records import Window
from ..spec import GateBase, Method
from ..verdict import Outcome
from .gates import judge_gate
from .synth import Params, SyntheticArm, draw_arm


def _runs(
    baseline: Params, candidate: Params, n: int, seed: int, run: int
) -> tuple[SyntheticArm, SyntheticArm]:
    base = draw_arm({**baseline, "n": n}, np.random.default_rng([seed, run, 0]))
    cand = draw_arm({**candidate, "n": n}, np.random.default_rng([seed, run, 1]))
    return base, cand


def look_sizes(n_per_arm: int, looks: int) -> list[int]:
    """Evenly spaced prefix sizes ending at ``n_per_arm``."""
    if looks < 1 or n_per_arm < 1:
        raise ValueError("looks and n_per_arm must be >= 1")
    return sorted({max(1, math.ceil(n_per_arm * k / looks)) for k in range(1, looks + 1)})


def first_fail(
    gate_name: str,
    gate: GateBase,
    *,
    base: SyntheticArm,
    cand: SyntheticArm,
    sizes: list[int],
    alpha: float,
    method: Method | None = None,
) -> int | None:
    """The first prefix size (per arm) at which any statistic of the gate FAILs, else None."""
    for m in sizes:
        window = Window(base.window(m), cand.window(m), candidate_weight=0.5)
        verdicts = judge_gate(gate_name, gate, window, alpha, method)
        if any(v.outcome is Outcome.FAIL for v in verdicts):
            return m
    return None


def fail_rate(
    gate_name: str,
    gate: GateBase,
    *,
    baseline: Params,
    candidate: Params,
    n_per_arm: int,
    looks: int,
    reps: int,
    alpha: float,
    seed: int = 0,
    method: Method | None = None,
) -> float:
    """Share of runs that FAIL at some look: power when the arms differ."""
    sizes = look_sizes(n_per_arm, looks)
    fails = 0
    for run in range(reps):
        base, cand = _runs(baseline, candidate, n_per_arm, seed, run)
        fails += (
            first_fail(
                gate_name, gate, base=base, cand=cand, sizes=sizes, alpha=alpha, method=method
            )
            is not None
        )
    return fails / reps


def aa_false_fail_rate(
    gate_name: str,
    gate: GateBase,
    *,
    arm: Params,
    n_per_arm: int,
    looks: int,
    reps: int,
    alpha: float,
    seed: int = 0,
    method: Method | None = None,
) -> float:
    """Share of A/A runs (both arms drawn from ``arm``) that FAIL at some look."""
    return fail_rate(
        gate_name,
        gate,
        baseline=arm,
        candidate=arm,
        n_per_arm=n_per_arm,
        looks=looks,
        reps=reps,
        alpha=alpha,
        seed=seed,
        method=method,
    )


def samples_to_detect(
    gate_name: str,
    gate: GateBase,
    *,
    baseline: Params,
    candidate: Params,
    alpha: float,
    n_max: int,
    looks: int,
    reps: int,
    seed: int = 0,
    method: Method | None = None,
) -> list[int | None]:
    """Per run, the samples per arm at the first FAIL (None: not detected by ``n_max``)."""
    sizes = look_sizes(n_max, looks)
    out: list[int | None] = []
    for run in range(reps):
        base, cand = _runs(baseline, candidate, n_max, seed, run)
        out.append(
            first_fail(
                gate_name, gate, base=base, cand=cand, sizes=sizes, alpha=alpha, method=method
            )
        )
    return out
