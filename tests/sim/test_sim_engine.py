"""The engine drives the real controller and judge: halts, promotes, exposure, determinism."""

from __future__ import annotations

from typing import Any

import pytest
from sim_helpers import small

from llm_rollout.sim import Regression, Scenario, simulate
from llm_rollout.sim.scenario import default_spec


def test_a_large_regression_is_rolled_back_before_full_traffic() -> None:
    result = simulate(small(regressions=[{"metric": "cost", "factor": 2.0}]), seed=3)
    assert result.outcome == "rolled_back"
    assert result.weight < 100
    assert any(v.gate == "cost" for v in result.fired)
    assert result.headline.startswith(("halted at", "halted in shadow"))
    assert "cost ratio" in result.headline
    assert result.detect_time == result.time
    assert 0 <= result.exposure == result.candidate_served


def test_an_aa_candidate_is_promoted() -> None:
    result = simulate(small(), seed=3)
    assert result.outcome == "promoted", result.headline
    assert result.headline.startswith("promoted after")
    assert result.exposure == 0  # no regression, nothing to be exposed to
    assert result.candidate_served > 0
    assert result.shadow_calls > 0
    kinds = [e["kind"] for e in result.events]
    assert kinds[0] == "started"
    assert kinds[-1] == "promoted"
    # the weights the controller set are the spec's steps, in order
    weights = [c.weight for c in result.checks if c.event == "step_advanced"]
    assert weights == [0, 10, 50]


def test_a_shadow_alert_stops_before_any_user_sees_the_candidate() -> None:
    spec = {
        **small().spec.model_dump(mode="json"),
        "shadow": {
            "sample": 0.5,
            "min_duration": "30m",
            "alerts": [{"gate": "cost", "above": 1.2}],
        },
    }
    result = simulate(small(spec=spec, regressions=[{"metric": "cost", "factor": 1.6}]), seed=2)
    assert result.outcome == "rolled_back"
    assert result.stage == "shadow"
    assert result.candidate_served == 0
    assert result.exposure == 0
    assert result.shadow_calls > 0
    assert "before any user saw the candidate" in result.headline


def test_exposure_counts_only_requests_after_the_regression_started() -> None:
    late = Regression("output_length", 3.0, start=17 * 60)
    result = simulate(small(regressions=[late.to_dict()]), seed=5)
    assert result.outcome == "rolled_back"
    assert result.time > late.start
    assert 0 < result.exposure < result.candidate_served
    assert 0 < result.exposed_users <= result.exposure
    assert result.detect_time == pytest.approx(result.time - late.start)


def test_same_seed_same_run_and_other_seeds_differ() -> None:
    sc = small(regressions=[{"metric": "p99_latency", "factor": 3.0}])

    def fingerprint(seed: int) -> dict[str, Any]:
        return simulate(sc, seed=seed).to_dict()

    assert fingerprint(11) == fingerprint(11)
    assert fingerprint(11) != fingerprint(12)


def test_timeline_checks_every_interval_and_resets_the_window_per_step() -> None:
    result = simulate(small(), seed=4)
    times = [c.time for c in result.checks]
    assert times == [300.0 * (i + 1) for i in range(len(times))]
    for before, after in zip(result.checks, result.checks[1:], strict=False):
        if before.event is None and (before.phase, before.step) == (after.phase, after.step):
            assert after.n_baseline >= before.n_baseline  # cumulative within a step
        if before.event == "step_advanced":
            assert after.n_baseline < before.n_baseline  # a new window after a transition


def test_time_limit_ends_a_run_as_timeout() -> None:
    result = simulate(small(duration="15m"), seed=1)
    assert result.outcome == "timeout"
    assert result.time == 900.0
    assert "time limit" in result.headline


def test_the_builtin_default_spec_pauses_at_1_percent_at_100_rpm() -> None:
    # 1% of 100 requests/minute is ~1 candidate request a minute: 200 samples per arm cannot
    # arrive within max_dwell 2 h, so the controller holds (on_inconclusive: hold).
    result = simulate(Scenario(spec=default_spec()), seed=1, timeline=False)
    assert result.outcome == "paused"
    assert result.stage == "1%"
    assert "max_dwell" in result.reason
    assert all(c.event is not None for c in result.checks)  # without a timeline: transitions
