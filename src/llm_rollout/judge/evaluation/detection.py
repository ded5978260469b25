"""Operating characteristics of one gate by simulation: false-FAIL rate and detection speed.

Pure functions over :mod:`.synth` parameters, seeded, so a study is a reproducible number.
A "run" draws both arms once and looks at growing prefixes of them, the way a controller
checks a step every few minutes; the run FAILs when any look FAILs (this is exactly the
repeated-looks setting where a fixed-sample test false-alarms and a confidence sequence
does not). Run ``r`` of a study with seed ``s`` draws from ``default_rng([s, r, arm])``, so a
study split into chunks of runs (``first_run``) gives the same numbers as one call.
:func:`detect` runs several methods on the same draws; the rate gates' looks are computed at
once by :func:`.rates.rate_fail_looks` and confirmed by the judge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...records import Window
from ...spec import GateBase, Method, RateGate
from ...verdict import Outcome
from .._validate import validate_window
from ..decide import Context, decide
from ..gates import measure_gate
from .rates import RATE_COUNTS, rate_first_fail
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
    chosen = method or gate.method
    found = _first_fails(
        gate_name, gate, base=base, cand=cand, sizes=sizes, alpha=alpha, methods=(chosen,)
    )
    return found[chosen]


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
    first_run: int = 0,
) -> float:
    """Share of runs that FAIL at some look: power when the arms differ."""
    found = samples_to_detect(
        gate_name,
        gate,
        baseline=baseline,
        candidate=candidate,
        alpha=alpha,
        n_max=n_per_arm,
        looks=looks,
        reps=reps,
        seed=seed,
        method=method,
        first_run=first_run,
    )
    return sum(n is not None for n in found) / reps


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
    first_run: int = 0,
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
        first_run=first_run,
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
    first_run: int = 0,
) -> list[int | None]:
    """Per run, the samples per arm at the first FAIL (None: not detected by ``n_max``)."""
    chosen = method or gate.method
    found = detect(
        gate_name,
        gate,
        baseline=baseline,
        candidate=candidate,
        alpha=alpha,
        n_max=n_max,
        looks=looks,
        reps=reps,
        seed=seed,
        methods=(chosen,),
        first_run=first_run,
    )
    return found[chosen]


def detect(
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
    methods: Sequence[Method] = (Method.SEQUENTIAL, Method.THRESHOLD),
    first_run: int = 0,
) -> dict[Method, list[int | None]]:
    """:func:`samples_to_detect` for several methods on the same draws (one draw per run)."""
    sizes = look_sizes(n_max, looks)
    out: dict[Method, list[int | None]] = {m: [] for m in methods}
    for run in range(first_run, first_run + reps):
        base, cand = _runs(baseline, candidate, n_max, seed, run)
        found = _first_fails(
            gate_name, gate, base=base, cand=cand, sizes=sizes, alpha=alpha, methods=methods
        )
        for m in methods:
            out[m].append(found[m])
    return out


def _first_fails(
    gate_name: str,
    gate: GateBase,
    *,
    base: SyntheticArm,
    cand: SyntheticArm,
    sizes: list[int],
    alpha: float,
    methods: Sequence[Method],
) -> dict[Method, int | None]:
    """Per method, the first look size that FAILs. Each look is validated and measured once
    and decided by every method still running, exactly as :func:`judge_gate` would."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    if gate_name in RATE_COUNTS and isinstance(gate, RateGate):
        return {
            m: rate_first_fail(
                gate_name, gate, base=base, cand=cand, sizes=sizes, alpha=alpha, method=m
            )
            for m in methods
        }
    first: dict[Method, int | None] = dict.fromkeys(methods)
    for size in sizes:
        live = [m for m in methods if first[m] is None]
        if not live:
            break
        window = Window(base.window(size), cand.window(size), candidate_weight=0.5)
        validate_window(window)
        stats = measure_gate(gate_name, gate, window, alpha)
        for m in live:
            ctx = Context(gate_name, m, gate.critical, gate.min_samples)
            if any(decide(ctx, stat).outcome is Outcome.FAIL for stat in stats):
                first[m] = size
    return first
