"""The demo's arms, regressions and compressed spec (pure)."""

from __future__ import annotations

import pytest

from llm_rollout.demo import REGRESSIONS, demo_spec, make_scenario
from llm_rollout.demo.scenario import BASELINE, STEPS, model_versions
from llm_rollout.records import Arm

B_URL, C_URL = "http://127.0.0.1:9001/v1", "http://127.0.0.1:9002/v1"


@pytest.mark.parametrize("regression", REGRESSIONS)
def test_every_regression_gives_a_valid_spec_over_two_versions(regression: str) -> None:
    sc = make_scenario(regression)
    assert sc.baseline == BASELINE
    baseline, candidate = model_versions(sc, B_URL, C_URL)
    assert baseline.digest != candidate.digest
    spec = demo_spec(f"demo-{regression}", baseline.ref, candidate.ref, rate=200)
    assert [s.weight for s in spec.steps] == list(STEPS)
    assert spec.model_name == "assistant"
    assert spec.check_interval <= 2
    assert all(s.min_dwell <= 10 for s in spec.steps)
    assert spec.shadow.enabled
    assert spec.shadow.min_duration <= 5


def test_cost_regression_is_the_price_alone() -> None:
    sc = make_scenario("cost")
    baseline, candidate = model_versions(sc, B_URL, C_URL)
    assert candidate.prices.input == pytest.approx(2.0 * baseline.prices.input)
    assert candidate.prices.output == pytest.approx(2.0 * baseline.prices.output)
    assert sc.candidate == sc.baseline  # same behaviour: only the bill differs


@pytest.mark.parametrize(
    ("regression", "field", "factor_at_least"),
    [
        ("latency", "latency_ms", 2.0),
        ("refusal", "refusal_rate", 5.0),
        ("errors", "error_rate", 5.0),
        ("feedback", "thumbs_down_rate", 3.0),
    ],
)
def test_behaviour_regressions_change_their_field(
    regression: str, field: str, factor_at_least: float
) -> None:
    sc = make_scenario(regression)
    assert getattr(sc.candidate, field) >= factor_at_least * getattr(sc.baseline, field)
    baseline, candidate = model_versions(sc, B_URL, C_URL)
    assert candidate.prices == baseline.prices


def test_none_is_the_baseline_again() -> None:
    sc = make_scenario("none")
    assert sc.candidate == sc.baseline
    assert sc.price_factor == 1.0
    assert sc.thumbs_down()[Arm.CANDIDATE] == sc.thumbs_down()[Arm.BASELINE]


def test_feedback_rates_come_from_the_profiles() -> None:
    rates = make_scenario("feedback").thumbs_down()
    assert rates[Arm.CANDIDATE] > rates[Arm.BASELINE] > 0


def test_sample_minimums_scale_with_the_rate() -> None:
    sc = make_scenario("none")
    b, c = model_versions(sc, B_URL, C_URL)
    slow = demo_spec("d", b.ref, c.ref, rate=50)
    fast = demo_spec("d", b.ref, c.ref, rate=400)
    assert all(f.min_samples >= s.min_samples for f, s in zip(fast.steps, slow.steps, strict=True))
    assert fast.steps[-1].min_samples > slow.steps[-1].min_samples
    # never more than the smaller arm expects in the dwell: a step must not wait on chance
    for step in fast.steps:
        share = 1.0 if step.weight == 100 else min(step.weight, 100 - step.weight) / 100
        assert step.min_samples <= max(5, 400 * share * step.min_dwell)


def test_unknown_regression_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown regression"):
        make_scenario("gravity")


def test_cli_offers_exactly_the_known_regressions() -> None:
    from llm_rollout.cli.demo import demo

    [option] = [p for p in demo.params if p.name == "regression"]
    assert tuple(option.type.choices) == REGRESSIONS  # type: ignore[attr-defined]
