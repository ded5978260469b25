"""Scenario files: parsed with every problem reported, prices from the registry file."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_rollout.errors import SpecError
from llm_rollout.sim.bounds import scale_bounds
from llm_rollout.sim.regression import Regression
from llm_rollout.sim.scenario import Scenario, default_spec, load_scenario, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_every_example_scenario_loads() -> None:
    files = sorted((EXAMPLES / "scenarios").glob("*.yaml"))
    assert len(files) >= 5
    for path in files:
        scenario = load_scenario(path)
        assert scenario.name == path.stem
        assert scenario.time_limit() > 0


def test_prices_come_from_the_models_file() -> None:
    sc = load_scenario(EXAMPLES / "scenarios" / "cost-regression.yaml")
    assert sc.regressions == (Regression("cost", 1.25),)
    assert (sc.baseline.price_input, sc.baseline.price_output) == (0.15, 0.60)
    assert (sc.candidate.price_input, sc.candidate.price_output) == (0.15, 0.60)
    assert sc.spec.baseline.startswith("assistant-v1@sha256:")


def test_candidate_inherits_the_baseline_profile() -> None:
    sc = parse_scenario(
        {"baseline": {"latency_ms": 500, "price_input": 1.0}, "candidate": {"ttft_ms": 90}}
    )
    assert sc.candidate.latency_ms == 500
    assert sc.candidate.ttft_ms == 90
    assert sc.candidate.price_input == 0.15  # prices are the model's own, not inherited
    assert sc.spec == default_spec()


def test_all_problems_at_once() -> None:
    doc = {
        "rate": 0,
        "colour": "blue",
        "baseline": {"latency_ms": -1, "speed": 3},
        "regressions": [{"metric": "cost", "factor": -2}, {"metric": "vibes", "factor": 2}],
        "seed": "x",
    }
    with pytest.raises(SpecError) as info:
        parse_scenario(doc, "bad.yaml")
    paths = {p for p, _ in info.value.problems}
    assert {"colour", "rate", "baseline.speed", "seed"} <= paths
    assert any(p.startswith("regressions.0") for p in paths)
    assert any(p.startswith("regressions.1") for p in paths)
    assert "bad.yaml" in str(info.value)


def test_inline_spec_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("spec: {name: x, baseline: 'a@sha256:000000000000'}\n")
    with pytest.raises(SpecError, match="candidate"):
        load_scenario(path)


@pytest.mark.parametrize("text", ["[1, 2", "- just\n- a list\n", "spec: 12\n"])
def test_malformed_files_are_spec_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SpecError):
        load_scenario(path)


def test_missing_file() -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_scenario("/nonexistent/scenario.yaml")


def test_scale_bounds_moves_every_margin() -> None:
    spec = scale_bounds(default_spec(), 0.5)
    g = spec.gates
    assert g.cost.bound == pytest.approx(1.1)
    assert g.latency.p99 == pytest.approx(1.25)
    assert g.output_length.mean == pytest.approx((0.9, 1.125))
    assert (g.errors.ratio, g.errors.floor) == pytest.approx((1.5, 0.0025))
    assert spec.shadow.alerts[0].above == pytest.approx(1.2)
    assert scale_bounds(default_spec(), 1.0) == default_spec()
    with pytest.raises(SpecError):
        scale_bounds(default_spec(), 0)
    with pytest.raises(SpecError):
        scale_bounds(default_spec(), 6)  # output length band would go below 0


def test_time_limit_covers_every_phase() -> None:
    spec = default_spec()
    limit = Scenario(spec=spec).time_limit()
    assert limit >= sum(s.max_dwell for s in spec.steps) + spec.shadow.min_duration
    assert Scenario(duration=600.0).time_limit() == 600.0
