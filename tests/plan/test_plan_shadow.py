"""Shadow sizing: the sample fraction and duration come from what the shadow gates need to
detect the reference regressions, capped by the risk level's longest shadow, with the risk
level's minimum as a floor; the spend follows the fraction."""

from __future__ import annotations

import math

import pytest
from plan_helpers import small_plan

from llm_rollout.plan import RISK_LEVELS, Plan, render_markdown
from llm_rollout.plan._arm import Arm, expected_cost
from llm_rollout.plan.model import ShadowNeed
from llm_rollout.plan.rules import stage_rules
from llm_rollout.plan.shadow import (
    SAMPLE_LADDER,
    ShadowCase,
    ShadowModel,
    floor_design,
    round_up_fraction,
    shadow_concurrency,
)
from llm_rollout.plan.stages import traffic_of
from llm_rollout.plan.text import usd
from llm_rollout.sim.regression import parse_regression

REFUSALS = "refusals x3"


@pytest.fixture(scope="module")
def busy() -> Plan:
    """6000 requests/minute: a 2-hour shadow can show refusals x3, the slowest to show."""
    return small_plan(rate=6000, risk="medium", cost_policy="tolerant")


@pytest.fixture(scope="module")
def quiet() -> Plan:
    """600 requests/minute: refusals x3 needs more than the medium level's 2-hour shadow."""
    return small_plan(rate=600, risk="medium", cost_policy="tolerant")


def need(plan: Plan, label: str) -> ShadowNeed:
    return next(n for n in plan.shadow.needs if n.regression == label)


def test_a_rare_event_gate_drives_the_shadow_duration(busy: Plan) -> None:
    s = busy.shadow
    assert s.driven_by == (REFUSALS,)
    refusals = need(busy, REFUSALS)
    assert refusals.gates == ("refusals",)
    assert refusals.checks == s.checks  # the slowest need is the phase's length
    assert s.checks > math.ceil(RISK_LEVELS["medium"].shadow_duration / 300)  # beyond the floor
    assert s.duration <= RISK_LEVELS["medium"].shadow_max_duration
    assert all(n.checks is not None and n.checks <= s.checks for n in s.needs)
    # Stated where it is caught, before any user sees the candidate
    stated = next(d for d in busy.detections if d.label == REFUSALS)
    assert stated.stated_stage == "shadow"
    assert stated.stated >= 0.8
    md = render_markdown(busy)
    assert f"The duration is driven by {REFUSALS}** (gates refusals)" in md


def test_the_shadow_takes_the_smallest_fraction_that_meets_the_need(busy: Plan) -> None:
    """One ladder step below the planned fraction, refusals x3 is not caught within the cap."""
    s = busy.shadow
    assert s.sample < 1.0
    lower = max(x for x in SAMPLE_LADDER if x < s.sample)
    base, cand = busy.inputs.profiles()
    reg = parse_regression("refusals=3")
    rules = stage_rules(busy.spec, "shadow", frozenset({"refusals"}), reg)
    model = ShadowModel(
        traffic_of(busy.inputs),
        300.0,
        Arm(base),
        0.9,
        busy.inputs.noise.drift,
        busy.inputs.noise.run_variation,
        busy.search_reps,
        busy.inputs.seed + 4243,
    )
    case = ShadowCase(REFUSALS, Arm(cand, (reg,)), tuple(rules), ("refusals",))
    cap_checks = round(s.max_duration / 300)
    index = [n.regression for n in s.needs].index(REFUSALS)
    assert model.checks_to_power(case, index, s.sample, cap_checks) is not None
    assert model.checks_to_power(case, index, lower, cap_checks) is None


def test_when_the_cap_binds_the_runbook_warns_and_says_what_it_would_take(quiet: Plan) -> None:
    s = quiet.shadow
    refusals = need(quiet, REFUSALS)
    assert refusals.checks is None
    assert REFUSALS not in s.sized_for
    assert refusals.full_mirror_checks is not None
    assert refusals.full_mirror_checks * 300 > s.max_duration
    warning = next(w for w in quiet.warnings if w.startswith(f"{REFUSALS}: the shadow phase"))
    assert "within its longest duration (2 h)" in warning
    assert "--max-shadow" in warning
    # The others are still sized for, at less than a full mirror
    assert s.sized_for == ("cost x1.25", "p99_latency x2", "output_length x1.5")
    assert s.driven_by == ("cost x1.25",)
    assert s.sample < 1.0
    md = render_markdown(quiet)
    assert warning in md
    assert "Not detected in shadow within the longest shadow" in md
    assert "Not judged in shadow: thumbs_down x2" in md


def test_a_longer_cap_catches_the_rare_event_in_shadow() -> None:
    plan = small_plan(rate=600, risk="medium", cost_policy="tolerant", max_shadow=7 * 3600)
    assert plan.shadow.max_duration == 7 * 3600
    assert REFUSALS in plan.shadow.sized_for
    assert plan.shadow.driven_by == (REFUSALS,)
    assert not any(w.startswith(f"{REFUSALS}: the shadow phase") for w in plan.warnings)


def test_spend_follows_the_sample_fraction(busy: Plan, quiet: Plan) -> None:
    for plan in (busy, quiet):
        s = plan.shadow
        _, cand = plan.inputs.profiles()
        per_call = expected_cost(cand)
        assert s.spend_per_day == pytest.approx(s.sample * plan.inputs.rate * 1440 * per_call)
        assert s.candidate_samples == pytest.approx(s.sample * plan.inputs.rate * s.duration / 60)
        assert s.spend_phase == pytest.approx(s.candidate_samples * per_call)
        md = render_markdown(plan)
        assert f"**{usd(s.spend_per_day)} per day** while it runs" in md
        assert f"**{usd(s.spend_phase)} for the phase**" in md
    # Ten times the traffic at a smaller fraction: per day, spend scales with rate x fraction
    ratio = busy.shadow.spend_per_day / quiet.shadow.spend_per_day
    assert ratio == pytest.approx(10 * busy.shadow.sample / quiet.shadow.sample)


def test_the_risk_levels_minimum_is_a_floor(busy: Plan) -> None:
    # Strict policy at 3x the price: the cost gate fails on the candidate as planned, and what
    # else the shadow gates see they catch within the minimum: the floor sets the phase.
    plan = small_plan(rate=600, risk="high")
    r = RISK_LEVELS["high"]
    floor_sample, floor_checks = floor_design(600, r.shadow_duration, r.shadow_samples, 300)
    s = plan.shadow
    assert s.driven_by == ()
    assert (s.sample, s.checks) == (floor_sample, floor_checks)
    assert s.candidate_samples >= r.shadow_samples
    assert "The duration is the risk level's minimum" in render_markdown(plan)
    # Sized by a need, the phase still gives at least the minimum
    m = RISK_LEVELS["medium"]
    assert busy.shadow.duration >= m.shadow_duration
    assert busy.shadow.candidate_samples >= m.shadow_samples


def test_the_spec_carries_the_planned_shadow(busy: Plan) -> None:
    s = busy.shadow
    shadow = busy.spec.shadow
    assert shadow.sample == s.sample
    assert shadow.min_duration == s.duration
    assert shadow.min_samples == s.min_samples <= s.candidate_samples
    assert shadow.max_concurrency == s.max_concurrency


def test_concurrency_leaves_room_for_the_mirrored_calls() -> None:
    _, cand = small_plan(rate=600).inputs.profiles()
    assert shadow_concurrency(0.05, 600, cand) == 32  # the spec's default is plenty
    heavy = shadow_concurrency(1.0, 12_000, cand)  # 200 calls/s of about 1 s each
    assert heavy > 200 * 1.0


@pytest.mark.parametrize(
    ("raw", "rounded"), [(0.0001, 0.01), (0.0561, 0.057), (0.37, 0.37), (0.371, 0.38), (3, 1.0)]
)
def test_fractions_round_up_to_two_digits(raw: float, rounded: float) -> None:
    assert round_up_fraction(raw) == pytest.approx(rounded)


def test_risk_levels_state_a_longest_shadow() -> None:
    low, medium, high = (RISK_LEVELS[k] for k in ("low", "medium", "high"))
    assert (low.shadow_max_duration, medium.shadow_max_duration, high.shadow_max_duration) == (
        4 * 3600,
        2 * 3600,
        3600,
    )
    for r in (low, medium, high):
        # twice the dwell target, never more than the longest step dwell
        assert r.shadow_max_duration == min(2 * r.target_dwell, r.max_dwell)
        assert r.shadow_max_duration >= r.shadow_duration
