"""Operating characteristics of a gate by simulation: false-FAIL rate and detection speed.

Pure functions over :mod:`.synth` parameters, seeded, so a study is a reproducible number.
A "run" draws both arms once and looks at growing prefixes of them, the way a controller
checks a step every few minutes; the run FAILs when any look FAILs (this is exactly the
repeated-looks setting where a fixed-sample test false-alarms and a confidence sequence
does not). Run ``r`` of a study with seed ``s`` draws from ``default_rng([s, r, arm])``, so a
study split into chunks of runs (``first_run``) gives the same numbers as one call.

Also here: :func:`detect` (several methods on the same draws; the rate gates' looks computed
at once by :func:`rate_fail_looks` and confirmed by the judge), :func:`aa_rollout_run` (a whole
rollout of A/A checks under window-to-window drift, both methods on the same data),
:func:`mean_misses` (uniform coverage of the mean CS on an arm's own distribution).
``scripts/check_statistics.py`` runs them at full N and reports each simulated rate with
:func:`llm_rollout.stats.binomial_interval`; ``docs/statistics.md`` holds its output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..records import FloatArray, Window
from ..spec import GateBase, Method, RateGate, RolloutSpec
from ..stats import mean_cs, rate_cs_batch
from ..verdict import Outcome, StepDecision, Verdict
from ._validate import validate_window
from .combine import combine
from .decide import Context, Stat, decide
from .gates import judge_gate, measure_gate
from .synth import DEFAULT_ARM, Params, SyntheticArm, draw_arm, with_drift


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
    if gate_name in _RATE_COUNTS and isinstance(gate, RateGate):
        return {
            m: _rate_first_fail(
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


# --- The rate gates, every look at once --------------------------------------------------------

IntArray = npt.NDArray[np.int64]
_BLOCK = 256  # looks whose intervals are computed together


def _error_counts(arm: SyntheticArm) -> tuple[IntArray, IntArray]:
    return np.cumsum(arm.error), np.arange(1, arm.n + 1)


def _refusal_counts(arm: SyntheticArm) -> tuple[IntArray, IntArray]:
    ok = ~arm.error  # refusals are counted over ok calls, as the judge does
    return np.cumsum(arm.refused & ok), np.cumsum(ok)


def _negative_counts(arm: SyntheticArm) -> tuple[IntArray, IntArray]:
    return np.cumsum(arm.negative), np.arange(1, arm.n + 1)


_RATE_COUNTS = {
    "errors": _error_counts,
    "refusals": _refusal_counts,
    "feedback": _negative_counts,
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
    counts = _RATE_COUNTS[gate_name]
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


def _rate_first_fail(
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


# --- A whole rollout of A/A checks ---------------------------------------------------------------


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
        if name in _RATE_COUNTS and isinstance(gate, RateGate) and gate.critical
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


# --- Coverage of the mean CS on a synthetic arm's column ---------------------------------------


def _rounded_lognormal_mean(dist: Params) -> float:
    """``E[round(X)]`` for a log-normal ``X`` (token counts are rounded draws), exactly:
    ``round(X) = sum_{k >= 1} 1[X >= k - 1/2]``, so the mean is the sum of the tails."""
    if dist["dist"] != "lognormal" or "tail" in dist:
        raise ValueError("rounded means are implemented for plain log-normal draws only")
    mu, sigma = math.log(float(dist["median"])), float(dist["sigma"])
    total, k = 0.0, 1
    while True:
        z = (math.log(k - 0.5) - mu) / sigma
        tail = 0.5 * math.erfc(z / math.sqrt(2.0))
        total += tail
        if tail < 1e-15 and z > 0:
            return total
        k += 1


def arm_mean(arm: Params, column: str) -> float:
    """The true mean of ``completion_tokens`` or of ``cost_usd`` (priced from tokens) of an arm
    drawn by :func:`~.synth.draw_arm` (plain log-normal token counts)."""
    p = {**DEFAULT_ARM, **arm}
    tokens = _rounded_lognormal_mean(p["completion_tokens"])
    if column == "completion_tokens":
        return tokens
    if column == "cost_usd" and "prices" in p:
        prompt = _rounded_lognormal_mean(p["prompt_tokens"])
        prices = p["prices"]
        usd = prompt * float(prices["input"]) + tokens * float(prices["output"])
        return (1.0 - float(p.get("error_rate", 0.0))) * usd / 1_000_000
    raise ValueError(f"no closed-form mean for {column!r} of this arm")


def mean_misses(
    arm: Params,
    column: str,
    *,
    alpha: float,
    runs: int,
    length: int,
    looks: Sequence[int],
    seed: int,
) -> list[tuple[int, str]]:
    """Uniform coverage of :func:`~llm_rollout.stats.mean_cs` on one column of an arm, as its
    misses: for every run whose CS excludes :func:`arm_mean` at some look, that first look
    and the side of the truth the CS lies on (``"below"``: the whole CS is below the truth).

    Run ``r`` draws from ``default_rng([seed, r])``. Like
    :func:`llm_rollout.stats.coverage.uniform_coverage`, for the distributions the gates see.
    """
    if not looks or min(looks) < 1 or max(looks) > length:
        raise ValueError("looks must lie within 1..length")
    truth = arm_mean(arm, column)
    misses = []
    for run in range(runs):
        drawn = draw_arm({**arm, "n": length}, np.random.default_rng([seed, run]))
        x: FloatArray = getattr(drawn, column)
        for n in looks:
            cs = mean_cs(x[:n], alpha)
            if not cs.contains(truth):
                misses.append((n, "below" if cs.hi < truth else "above"))
                break
    return misses


def mean_coverage(
    arm: Params,
    column: str,
    *,
    alpha: float,
    runs: int,
    length: int,
    looks: Sequence[int],
    seed: int,
) -> float:
    """The share of runs in which the CS of :func:`mean_misses` covers at every look."""
    misses = mean_misses(arm, column, alpha=alpha, runs=runs, length=length, looks=looks, seed=seed)
    return 1.0 - len(misses) / runs
