"""Monte Carlo acceptance of the bundled spec at 100 requests/minute, with a smaller N than the
docs (docs/simulations.md runs N = 500 of the same scenarios and seeds).

Targets: a good model (A/A) is rolled back in <= 1% of runs, and each reference regression is
halted before the candidate serves 50% of traffic in >= 99% of runs. With 30 runs a scenario
that truly halts 99% of the time passes with probability 0.96 (29 or 30 of 30); one that
halts only 90% of the time, like the spec before its 90-minute full shadow, fails with
probability 0.82.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_rollout.sim import monte_carlo
from llm_rollout.sim.regression import parse_regression
from llm_rollout.sim.scenario import load_scenario
from llm_rollout.spec import Method

AA = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "aa.yaml"
RUNS = 30

REFERENCE = ["cost=1.25", "p99_latency=2", "refusal=3", "thumbs_down=2", "output_length=1.5"]


def test_a_good_model_is_not_rolled_back() -> None:
    (summary,) = monte_carlo(load_scenario(AA), RUNS, [Method.SEQUENTIAL], first_seed=1)
    assert summary.scenario == "aa"
    assert summary.outcomes["rolled_back"].k == 0
    assert summary.outcomes["promoted"].k == RUNS


@pytest.mark.parametrize("regression", REFERENCE)
def test_each_reference_regression_halts_before_half_the_traffic(regression: str) -> None:
    scenario = load_scenario(AA).with_(regressions=(parse_regression(regression),))
    (summary,) = monte_carlo(scenario, RUNS, [Method.SEQUENTIAL], first_seed=1)
    assert summary.halted_before_50.k >= RUNS - 1, summary.stages
