"""The statistical claims of docs/statistics.md, at a reduced N with fixed seeds.

``scripts/check_statistics.py`` produces the full-N evidence; these tests re-check each claim
at a size that runs in seconds, with pass rules stated as binomial bounds:

- Coverage at alpha = 0.05 (spot checks of every CS): the pass rule of
  ``tests/stats/test_stats_coverage.py`` (a CS with exactly nominal coverage fails it with
  probability <= 0.1%).
- A/A rollouts under 15% drift (every step of the default spec, 3 checks per step instead of
  the 24 of the full study), both methods on the same data: the sequential method
  false-FAILs in at most 1 of 100 rollouts, the threshold method measurably more often.
- The mean CS at the judge's alpha covers uniformly with looks from n = 5, because it stays
  unbounded below its minimum sample count (docs/statistics.md section 4).
- Power: each reference regression is FAILed in >= 57 of 60 runs at its stated sample size.
- The shortcuts the studies take (the vectorised rate gates, one measurement decided by both
  methods) agree with the judge itself at every look.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from llm_rollout.judge import judge_gate, judge_step
from llm_rollout.judge.evaluation.coverage import mean_misses
from llm_rollout.judge.evaluation.detection import detect
from llm_rollout.judge.evaluation.rates import rate_fail_looks
from llm_rollout.judge.evaluation.rollout import (
    StepTraffic,
    aa_rollout_run,
    judge_methods,
    rollout_traffic,
)
from llm_rollout.judge.evaluation.synth import (
    LLM_ARM,
    RATE_ARM,
    REFERENCE_REGRESSIONS,
    Regression,
    draw_arm,
    with_drift,
)
from llm_rollout.records import Window
from llm_rollout.spec import FeedbackGate, Method, RateGate, RolloutSpec
from llm_rollout.stats import binomial_interval
from llm_rollout.stats.coverage import every, geometric, uniform_coverage
from llm_rollout.verdict import Outcome

SPEC = RolloutSpec(
    name="claims", baseline="baseline@sha256:0123456789ab", candidate="cand@sha256:ba9876543210"
)
SEQ, THR = Method.SEQUENTIAL, Method.THRESHOLD
SEED = 20240611


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def min_covered(runs: int, alpha: float, delta: float = 0.001) -> int:
    """Fewest covering runs a CS may show: the largest c with P(Binomial(runs, 1 - alpha) < c)
    <= delta, so a CS with exactly nominal coverage fails with probability <= delta."""
    # P(covered <= c) = P(missed >= runs - c) = 1 - P(missed <= runs - c - 1)
    return next(c for c in range(runs + 1) if 1 - binomial_cdf(runs - c - 1, runs, alpha) > delta)


def test_pass_rules() -> None:
    # A CS covering exactly 95% of 400 runs shows >= 365 covering runs in 99.9% of seeds;
    # at the judge's alpha, 500 runs may show at most 2 misses.
    assert min_covered(400, 0.05) == 365
    assert min_covered(500, SPEC.gate_alpha("cost") / 2) == 498
    # Sequential A/A: <= 1 false FAIL in 100 rollouts. A method at the simulated steps'
    # alpha share (5/7 of 1%) passes with probability 84%; one at 5% with probability 4%.
    assert binomial_cdf(1, 100, 0.01 * 5 / 7) > 0.83
    assert binomial_cdf(1, 100, 0.05) < 0.05
    # Power: >= 57 of 60. At 99% power that fails in 0.3% of seeds; at 90% it passes in 14%.
    assert 1 - binomial_cdf(56, 60, 0.99) > 0.99
    assert 1 - binomial_cdf(56, 60, 0.90) < 0.15
    lo, hi = binomial_interval(0, 500)
    assert lo == 0.0
    assert hi == pytest.approx(1 - 0.025 ** (1 / 500), rel=1e-9)


# --- Coverage spot checks at alpha = 0.05 -----------------------------------------------------

COVERAGE = [
    ("rate", 0.01, 5000, geometric(5, 5000, 1.05)),
    ("quantile_lognormal", 0.99, 5000, geometric(5, 5000, 1.05)),
    ("ks_shift", 0.5, 1000, geometric(5, 1000, 1.1)),
    ("mean_exponential", None, 2000, geometric(5, 2000, 1.05)),
]


@pytest.mark.parametrize(("scenario", "param", "length", "looks"), COVERAGE)
def test_coverage_at_alpha_005(
    scenario: str, param: float | None, length: int, looks: list[int]
) -> None:
    runs = 400
    got = uniform_coverage(
        scenario, alpha=0.05, runs=runs, length=length, looks=looks, seed=SEED, param=param
    )
    assert round(got * runs) >= min_covered(runs, 0.05), f"{scenario}: coverage {got:.3f}"


def test_coverage_of_the_mean_on_the_llm_arm_at_alpha_005() -> None:
    # The cost per call the cost gate judges, from the candidate's first look at the 1% step.
    runs = 400
    looks = geometric(5, 2000, 1.05)
    misses = mean_misses(
        LLM_ARM, "cost_usd", alpha=0.05, runs=runs, length=2000, looks=looks, seed=SEED
    )
    assert runs - len(misses) >= min_covered(runs, 0.05)


def test_coverage_of_the_mean_at_the_judges_alpha_from_n_5() -> None:
    # Looks start at n = 5 as the judge's do; mean_cs stays unbounded below its MIN_N, which
    # is what keeps this uniform over the early looks (docs/statistics.md, section 4).
    runs, alpha = 500, SPEC.gate_alpha("cost") / 2
    got = uniform_coverage(
        "mean_lognormal", alpha=alpha, runs=runs, length=1000,
        looks=geometric(5, 1000, 1.05), seed=SEED, param=1.0,
    )  # fmt: skip
    assert round(got * runs) >= min_covered(runs, alpha)


def test_coverage_of_the_mean_at_the_judges_alpha_from_n_30() -> None:
    runs, alpha = 500, SPEC.gate_alpha("cost") / 2
    got = uniform_coverage(
        "mean_lognormal", alpha=alpha, runs=runs, length=1000,
        looks=geometric(30, 1000, 1.05), seed=SEED, param=1.0,
    )  # fmt: skip
    assert round(got * runs) >= min_covered(runs, alpha)


# --- A/A: a whole rollout under drift -----------------------------------------------------------


def test_aa_rollout_sequential_holds_alpha_and_threshold_does_not() -> None:
    # Every step of the default spec (1..75%), 100 requests/min, 3 checks of 5 minutes per
    # step (the full study checks 24 per step), 15% window-to-window drift.
    traffic = rollout_traffic(SPEC, 100, dwell=3 * SPEC.check_interval)
    assert [t.checks for t in traffic] == [3] * 5
    runs = [
        aa_rollout_run(SPEC, LLM_ARM, traffic, drift=0.07, seed=SEED, run=r) for r in range(100)
    ]
    seq = sum(r[SEQ] is not None for r in runs)
    thr = sum(r[THR] is not None for r in runs)
    assert seq <= 1, f"sequential false-FAILed {seq} of 100 A/A rollouts"
    # Measurably higher: the two 95% intervals do not overlap.
    assert binomial_interval(thr, 100)[0] > binomial_interval(seq, 100)[1], (seq, thr)


def test_the_rollout_study_agrees_with_judge_step_at_every_look() -> None:
    step = StepTraffic(weight=10.0, per_check_baseline=450, per_check_candidate=50, checks=6)
    for run in range(3):
        found = aa_rollout_run(SPEC, LLM_ARM, [step], drift=0.07, seed=SEED, run=run)
        rng = [np.random.default_rng([SEED, run, 0, a, k]) for a in (0, 1) for k in (0, 1)]
        base = with_drift(draw_arm({**LLM_ARM, "n": 450 * 6}, rng[0]), 450, 0.07, rng[1])
        cand = with_drift(draw_arm({**LLM_ARM, "n": 50 * 6}, rng[2]), 50, 0.07, rng[3])
        for method in (SEQ, THR):
            first = None
            for j in range(1, 7):
                window = Window(base.window(450 * j), cand.window(50 * j), candidate_weight=0.1)
                decision = judge_step(SPEC, window, method=method)
                both = judge_methods(SPEC, window, [SEQ, THR])[method]
                assert decision.critical_failed == both.critical_failed
                if decision.critical_failed and first is None:
                    first = j
            got = found[method]
            assert (got.check if got is not None else None) == first


@pytest.mark.parametrize("gate_name", ["errors", "refusals", "feedback"])
@pytest.mark.parametrize("method", [SEQ, THR])
def test_vectorised_rate_gates_match_judge_gate_at_every_look(
    gate_name: str, method: Method
) -> None:
    # A strict rule (any excess over the baseline) and a candidate at three times the baseline's
    # rates, so that both FAIL and no-FAIL looks occur.
    gate_type = FeedbackGate if gate_name == "feedback" else RateGate
    gate = gate_type(ratio=1.0, floor=0.0, min_samples=50)
    rates = ("error_rate", "refusal_rate", "negative_rate")
    base_arm = {**RATE_ARM, **dict.fromkeys(rates, 0.04)}
    cand_arm = {**RATE_ARM, **dict.fromkeys(rates, 0.12)}
    base = draw_arm({**base_arm, "n": 3000}, np.random.default_rng([SEED, 0]))
    cand = draw_arm({**cand_arm, "n": 1000}, np.random.default_rng([SEED, 1]))
    b_sizes, c_sizes = list(range(30, 3001, 30)), list(range(10, 1001, 10))
    fails = rate_fail_looks(
        gate_name, gate, base=base, cand=cand, sizes=b_sizes, cand_sizes=c_sizes, alpha=0.05,
        method=method,
    )  # fmt: skip
    judged = [
        any(
            v.outcome is Outcome.FAIL
            for v in judge_gate(
                gate_name, gate, Window(base.window(b), cand.window(c), 0.25), 0.05, method
            )
        )
        for b, c in zip(b_sizes, c_sizes, strict=True)
    ]
    assert fails.tolist() == judged
    assert 0 < sum(judged) < len(judged)  # both outcomes occurred: the comparison has teeth


def test_detect_matches_a_loop_over_judge_gate() -> None:
    reg = next(r for r in REFERENCE_REGRESSIONS if r.gate == "output_length")
    gate = SPEC.gates.output_length
    alpha = SPEC.gate_alpha("output_length")
    found = detect(
        "output_length", gate, baseline=reg.baseline, candidate=reg.candidate, alpha=alpha,
        n_max=2000, looks=20, reps=3, seed=SEED,
    )  # fmt: skip
    for run in range(3):
        base = draw_arm({**reg.baseline, "n": 2000}, np.random.default_rng([SEED, run, 0]))
        cand = draw_arm({**reg.candidate, "n": 2000}, np.random.default_rng([SEED, run, 1]))
        for method in (SEQ, THR):
            first = next(
                (
                    m
                    for m in every(100, 2000)
                    if any(
                        v.outcome is Outcome.FAIL
                        for v in judge_gate(
                            "output_length", gate, Window(base.window(m), cand.window(m), 0.5),
                            alpha, method,
                        )
                    )
                ),
                None,
            )  # fmt: skip
            assert found[method][run] == first


# --- Power at the stated sample sizes ---------------------------------------------------------


@pytest.mark.parametrize("reg", REFERENCE_REGRESSIONS, ids=lambda r: r.gate)
def test_reference_regressions_fail_at_the_stated_sample_size(reg: Regression) -> None:
    # One look, at n itself: stricter than the study's look every 100 calls (more looks only
    # add chances to FAIL), and cheap.
    found = detect(
        reg.gate, SPEC.gates.enabled()[reg.gate], baseline=reg.baseline,
        candidate=reg.candidate, alpha=SPEC.gate_alpha(reg.gate), n_max=reg.n, looks=1,
        reps=60, seed=SEED, methods=[SEQ],
    )  # fmt: skip
    detected = sum(n is not None for n in found[SEQ])
    assert detected >= 57, f"{reg.label}: FAILed in only {detected} of 60 runs at n = {reg.n}"
