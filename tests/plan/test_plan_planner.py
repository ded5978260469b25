"""Planner math: dwell from sample sizes, bounds above the noise floor, risk mapping, costs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from plan_helpers import small_plan, versions

from llm_rollout.plan import RISK_LEVELS, build_inputs, default_profile
from llm_rollout.plan._arm import Arm, expected_cost
from llm_rollout.plan.bounds import MARGIN
from llm_rollout.plan.cost import cost_plan
from llm_rollout.plan.detect import Rule, Stage, stage_curve
from llm_rollout.plan.noise import MetricNoise, NoiseProfile, floor_of, multiplier
from llm_rollout.plan.steps import min_checks
from llm_rollout.profile import ModelProfile
from llm_rollout.sim.regression import Regression


def checks_to_detect(rate: float, weight: float) -> int:
    """Checks until a cost x1.5 regression is caught with 90% probability (no drift, so only
    the sample counts matter)."""
    w = weight / 100
    per_check = rate * 5  # requests per 5-minute check
    stage = Stage("x", (per_check * (1 - w),) * 80, (per_check * w,) * 80)
    curve = stage_curve(
        stage,
        Arm(ModelProfile()),
        Arm(ModelProfile(), (Regression("cost", 1.5),)),
        [Rule("cost", "above", 1.2, 0.0002)],
        drift=0.0,
        run_variation=0.0,
        reps=400,
        seed=1,
    )
    hit = np.flatnonzero(curve >= 0.9)
    assert hit.size, "not detected within 80 checks"
    return int(hit[0]) + 1


def test_dwell_scales_as_one_over_the_rate() -> None:
    slow, fast = checks_to_detect(50, 10), checks_to_detect(200, 10)
    assert fast == pytest.approx(slow / 4, abs=1)
    assert slow >= 8  # the case is not trivially one check


def test_dwell_scales_as_one_over_the_weight() -> None:
    small, large = checks_to_detect(200, 5), checks_to_detect(200, 20)
    # The candidate arm dominates the interval at small weights: four times the weight, about
    # a quarter of the dwell (a little more, the baseline arm shrinks from 95% to 80%).
    assert small / 4 - 1 <= large <= small / 4 * 1.35 + 1


def test_minimum_sample_dwell_is_exactly_inverse_in_weight_and_rate() -> None:
    risk = RISK_LEVELS["medium"]
    inputs = build_inputs(
        versions(), baseline="chat-v1", candidate="chat-v2", rate=60, risk="medium"
    )
    # 200 candidate requests at 1% of 60/min (0.6/min) take 334 min = 67 checks
    assert min_checks(risk, inputs, 1, 300) == math.ceil(200 / (60 * 0.01 * 5))
    assert min_checks(risk, inputs, 2, 300) == math.ceil(200 / (60 * 0.02 * 5))
    double = build_inputs(
        versions(), baseline="chat-v1", candidate="chat-v2", rate=120, risk="medium"
    )
    assert min_checks(risk, double, 2, 300) == math.ceil(200 / (120 * 0.02 * 5))


def noisy(drift_sd: float) -> NoiseProfile:
    mult = multiplier(0.01)
    metric = MetricNoise(48, drift_sd, 0.01, drift_sd, 0.5, floor_of(drift_sd, mult), mult)
    base = default_profile()
    return NoiseProfile(
        "simulation",
        None,
        300.0,
        0.01,
        drift_sd * math.sqrt(1.5),
        0.0,
        dict.fromkeys(base.metrics, metric),
    )


def test_bounds_below_the_noise_floor_are_raised_and_say_why() -> None:
    plan = small_plan(noise=noisy(0.12), cost_policy="tolerant")
    cost = next(b for b in plan.bounds if b.name == "cost")
    floor = floor_of(0.12, multiplier(0.01))  # ~32%: far above the high level's 1.3
    assert cost.floor == pytest.approx(floor)
    assert cost.raised
    assert cost.requested == 1.3
    assert cost.planned >= 1 + floor + MARGIN
    assert "raised" in cost.reason
    assert f"{floor:.1%}" in cost.reason
    assert plan.spec.gates.cost.bound == pytest.approx(cost.planned * plan.cost.ratio, rel=1e-3)
    assert any(n.startswith("cost: raised") for n in plan.notes)


def test_bounds_above_the_noise_floor_stay() -> None:
    plan = small_plan(noise=noisy(0.01))
    assert not any(b.raised for b in plan.bounds)
    assert plan.spec.gates.cost.bound == RISK_LEVELS["high"].bounds.cost


@pytest.mark.parametrize("level", ["low", "medium", "high"])
def test_risk_levels_state_alpha_power_steps_and_bounds(level: str) -> None:
    r = RISK_LEVELS[level]
    assert r.steps[-1] == 100
    assert 0 < r.alpha < 0.1
    assert 0.5 < r.power < 1
    assert r.bounds.cost > 1
    assert r.bounds.alert_cost > r.bounds.cost


def test_risk_mapping_orders_the_levels() -> None:
    low, medium, high = (RISK_LEVELS[k] for k in ("low", "medium", "high"))
    assert low.alpha < medium.alpha < high.alpha
    assert low.power > medium.power > high.power
    assert len(low.steps) > len(medium.steps) > len(high.steps)
    assert low.bounds.cost < medium.bounds.cost < high.bounds.cost
    assert medium.steps == (1, 10, 25, 50, 75, 100)  # the spec's default steps


def test_the_plan_carries_the_risk_levels_alpha_and_steps() -> None:
    plan = small_plan(risk="high")
    assert plan.spec.alpha == 0.05
    assert [s.weight for s in plan.spec.steps] == [10, 50, 100]
    assert plan.spec.require.value == "no-breach"


def test_cost_delta_per_day_follows_the_price_table() -> None:
    plan = small_plan(rate=600)
    base, cand = plan.inputs.profiles()
    delta = expected_cost(cand) - expected_cost(base)
    assert plan.cost.ratio == pytest.approx(3.0)  # three times the price, same tokens
    for step in plan.steps:
        assert step.cost_delta_per_day == pytest.approx(delta * 600 * 1440 * step.weight / 100)
    assert cost_plan(plan.inputs).per_day_full == pytest.approx(delta * 600 * 1440)


def test_strict_policy_warns_that_a_pricier_candidate_is_a_no_go() -> None:
    plan = small_plan()
    assert plan.spec.gates.cost.bound == pytest.approx(1.3)
    assert any(w.startswith("no-go under the strict cost policy") for w in plan.warnings)
    assert not plan.ab.advised


def test_tolerant_policy_judges_cost_against_the_plan_and_asks_for_an_ab_step() -> None:
    plan = small_plan(cost_policy="tolerant", quality_gain=0.3)
    assert plan.spec.gates.cost.bound == pytest.approx(3.0 * 1.3, rel=1e-3)
    assert plan.spec.shadow.alerts[0].above == pytest.approx(3.0 * 1.6, rel=1e-3)
    assert plan.ab.advised
    assert plan.ab.rule == "superiority"
    assert plan.ab.in_spec
    assert plan.spec.ab is not None
    assert plan.spec.ab.duration == plan.ab.duration


def test_shadow_fraction_gives_the_wanted_samples() -> None:
    plan = small_plan(rate=600)
    r = RISK_LEVELS["high"]
    assert plan.shadow.candidate_samples >= r.shadow_samples
    assert plan.shadow.sample == pytest.approx(
        r.shadow_samples / (600 * r.shadow_duration / 60), rel=0.1
    )
    assert plan.spec.shadow.min_samples <= plan.shadow.candidate_samples


def test_every_step_reaches_its_min_samples_at_the_planned_dwell() -> None:
    plan = small_plan(rate=600)
    for step in plan.steps:
        arms = [step.candidate_samples] + ([step.baseline_samples] if step.weight < 100 else [])
        assert step.min_samples <= min(arms)
        assert step.dwell == step.checks * plan.spec.check_interval


def test_sample_starved_steps_are_dropped_and_flagged() -> None:
    plan = small_plan(rate=20, steps=(1, 10, 50, 100), max_dwell=3600)
    assert 1 in plan.dropped_steps
    assert plan.spec.steps[0].weight != 1
    assert any("dropped step(s) 1%" in w for w in plan.warnings)


def test_detections_are_cumulative_and_stated_where_sized() -> None:
    plan = small_plan(rate=600, cost_policy="tolerant")
    for d in plan.detections:
        values = [p for _, p in d.by_stage]
        assert values == sorted(values)
        assert d.stated == dict(d.by_stage)[d.stated_stage]
    out = next(d for d in plan.detections if d.regression == "output_length=1.5")
    assert out.breach
    assert out.stage is not None
    assert out.stated >= 0.8
    cost = next(d for d in plan.detections if d.regression == "cost=1.25")
    assert not cost.breach  # 1.25x the planned cost is inside the high level's 1.3
    assert "tolerated" in cost.note
