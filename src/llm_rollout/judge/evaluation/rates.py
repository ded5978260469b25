"""The rate gates (errors, refusals, thumbs-down) at every look of a run at once.

Running counts of each arm give every look's ``k / n``; :func:`rate_fail_looks` applies the
judge's rule to all of them in vectorised passes, and :func:`rate_first_fail` confirms the
deciding looks with :func:`~llm_rollout.judge.judge_gate`, so a study cannot drift from the
judge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ...records import Window
from ...spec import GateName, Method, RateGate
from ...stats import rate_cs_batch
from ...verdict import Outcome
from ..gates import judge_gate
from .synth import SyntheticArm

IntArray = npt.NDArray[np.int64]
_BLOCK = 256  # looks whose intervals are computed together


def _error_counts(arm: SyntheticArm) -> tuple[IntArray, IntArray]:
    return np.cumsum(arm.error), np.arange(1, arm.n + 1)


def _refusal_counts(arm: SyntheticArm) -> tuple[IntArray, IntArray]:
    ok = ~arm.error  # refusals are counted over ok calls, as the judge does
    return np.cumsum(arm.refused & ok), np.cumsum(ok)


def _negative_counts(arm: SyntheticArm) -> tuple[IntArray, IntArray]:
    return np.cumsum(arm.negative), np.arange(1, arm.n + 1)


RATE_COUNTS = {
    GateName.ERRORS: _error_counts,
    GateName.REFUSALS: _refusal_counts,
    GateName.FEEDBACK: _negative_counts,
}


def rate_fail_looks(
    gate_name: str,
    gate: RateGate,
    *,
    base: SyntheticArm,
    cand: SyntheticArm,
    sizes: Sequence[int],
    alpha: float,
    method: Method | None = None,
    stop_at_first: bool = False,
    cand_sizes: Sequence[int] | None = None,
) -> npt.NDArray[np.bool_]:
    """Which looks of a rate gate FAIL, computed from running counts in vectorised passes.

    The same rule as :func:`judge_gate` (``measure.rate_excess`` and ``decide``): the excess
    ``p_c - ratio p_b`` against the floor, with each arm's :func:`~llm_rollout.stats.rate_cs`
    at ``alpha / 2`` (sequential) or the point estimate once both arms reach ``min_samples``
    (threshold). Intervals are computed only where the point estimate is above the floor
    (each arm's CS contains its ``k / n``, so the interval's low end is at most the estimate:
    no other look can FAIL), in blocks; ``stop_at_first`` skips the blocks after the first
    FAIL (their entries stay False). ``sizes`` are the baseline's prefix sizes and, unless
    ``cand_sizes`` is given, the candidate's.
    """
    counts = RATE_COUNTS[GateName(gate_name)]
    idx_b = np.asarray(sizes, dtype=np.int64) - 1
    idx_c = idx_b if cand_sizes is None else np.asarray(cand_sizes, dtype=np.int64) - 1
    kb, nb = (c[idx_b] if c.size else np.zeros(idx_b.size, np.int64) for c in counts(base))
    kc, nc = (c[idx_c] if c.size else np.zeros(idx_c.size, np.int64) for c in counts(cand))
    has_data = (nb > 0) & (nc > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = kc / nc - gate.ratio * (kb / nb)
    above = has_data & (estimate > gate.floor)
    if (method or gate.method) is Method.THRESHOLD:
        return np.asarray(above & (np.minimum(nb, nc) >= gate.min_samples), np.bool_)
    fails = np.zeros(len(sizes), dtype=np.bool_)
    todo = np.flatnonzero(above)
    for start in range(0, todo.size, _BLOCK):
        i = todo[start : start + _BLOCK]
        lo_c, _ = rate_cs_batch(kc[i], nc[i], alpha / 2)
        _, hi_b = rate_cs_batch(kb[i], nb[i], alpha / 2)
        fails[i] = lo_c - gate.ratio * hi_b > gate.floor
        if stop_at_first and fails[i].any():
            break
    return fails


def rate_first_fail(
    gate_name: str,
    gate: RateGate,
    *,
    base: SyntheticArm,
    cand: SyntheticArm,
    sizes: list[int],
    alpha: float,
    method: Method,
) -> int | None:
    """The first FAILing look by :func:`rate_fail_looks`, confirmed by :func:`judge_gate` at
    the deciding looks (the first FAIL and the look before it, or the last look when nothing
    FAILs); a disagreement raises ``AssertionError``, so a study cannot drift from the judge.
    """
    fails = rate_fail_looks(
        gate_name,
        gate,
        base=base,
        cand=cand,
        sizes=sizes,
        alpha=alpha,
        method=method,
        stop_at_first=True,
    )
    hit = int(np.argmax(fails)) if fails.any() else None
    checks = [len(sizes) - 1] if hit is None else [hit, hit - 1]
    for i in (i for i in checks if i >= 0):
        window = Window(base.window(sizes[i]), cand.window(sizes[i]), candidate_weight=0.5)
        verdicts = judge_gate(gate_name, gate, window, alpha, method)
        if any(v.outcome is Outcome.FAIL for v in verdicts) != bool(fails[i]):
            raise AssertionError(f"{gate_name}: the vectorised rule disagrees with judge_gate")
    return None if hit is None else sizes[hit]
