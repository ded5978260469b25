"""The rollout spec: defaults reproduce the design's breach rules; every malformed spec is
reported by field path with a reason, all problems at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llm_rollout.errors import SpecError
from llm_rollout.spec import (
    Method,
    OnInconclusive,
    Require,
    json_schema,
    load_spec,
    parse_duration,
    parse_spec,
)

BASE = "base@sha256:0123456789abcdef"
CAND = "cand@sha256:fedcba9876543210"


def minimal(**extra: Any) -> dict[str, Any]:
    return {"name": "r1", "baseline": BASE, "candidate": CAND, **extra}


def test_defaults_reproduce_design_breach_rules() -> None:
    spec = parse_spec(minimal())
    assert [s.weight for s in spec.steps] == [1, 10, 25, 50, 75, 100]
    g = spec.gates
    assert g.latency.p99 == 1.5
    assert g.cost.bound == 1.2
    assert (g.errors.ratio, g.refusals.ratio) == (2.0, 2.0)
    assert g.errors.floor > 0
    assert g.output_length.mean == (0.8, 1.25)
    assert g.output_length.p99 == 1.5
    assert g.output_length.ks is not None
    assert g.feedback.ratio == 1.5
    assert all(gate.method is Method.SEQUENTIAL for gate in g.enabled().values())
    assert spec.check_interval == 300
    assert spec.on_inconclusive is OnInconclusive.HOLD
    assert spec.require is Require.PASS
    assert spec.alpha == 0.01


def test_alpha_is_split_so_the_rollout_total_is_alpha() -> None:
    spec = parse_spec(minimal(gates={"cost": {"alpha_share": 3}}))
    total = sum(spec.gate_alpha(name) for name in spec.gates.enabled()) * spec.looks()
    assert total == pytest.approx(spec.alpha)
    assert spec.gate_alpha("cost") == pytest.approx(3 * spec.gate_alpha("latency"))


def test_full_spec_parses_with_durations_and_step_objects() -> None:
    spec = parse_spec(
        minimal(
            check_interval="2m",
            steps=[{"weight": 5, "min_dwell": "30m", "max_dwell": "2h"}, 50, 100],
            shadow={"sample": 0.25, "alerts": [{"gate": "cost", "above": 1.3}]},
            ab={"weight": 50, "duration": "1h", "metric": "feedback", "rule": "superiority"},
            require="no-breach",
            on_inconclusive="rollback",
        )
    )
    assert spec.check_interval == 120
    assert spec.steps[0].min_dwell == 1800
    assert spec.steps[0].max_dwell == 7200
    assert spec.ab is not None
    assert spec.ab.duration == 3600
    assert spec.looks() == 3 + 1 + 1


@pytest.mark.parametrize(
    ("doc", "path", "reason"),
    [
        ({"baseline": BASE, "candidate": CAND}, "name", "Field required"),
        (minimal(name="bad name!"), "name", "should match pattern"),
        (minimal(baseline="not a ref!"), "baseline", "expected a model reference"),
        (minimal(candidate="m@sha256:abc"), "candidate", "expected a model reference"),
        (minimal(candidate=BASE), "(root)", "baseline and candidate must be different"),
        (minimal(alpha=0), "alpha", "greater than 0"),
        (minimal(alpha=0.7), "alpha", "less than 0.5"),
        (minimal(steps=[]), "steps", "at least one step"),
        (minimal(steps=[10, 5, 100]), "steps", "strictly increase"),
        (minimal(steps=[1, 10, 50]), "steps", "last step must be 100"),
        (minimal(steps=[0, 100]), "steps.0.weight", "greater than 0"),
        (minimal(steps=[150]), "steps.0.weight", "less than or equal to 100"),
        (
            minimal(steps=[{"weight": 100, "min_dwell": "1h", "max_dwell": "5m"}]),
            "steps.0",
            "max_dwell must be >= min_dwell",
        ),
        (
            minimal(steps=[{"weight": 100, "min_dwell": "soon"}]),
            "steps.0.min_dwell",
            "expected a duration",
        ),
        (minimal(check_interval="-5m"), "check_interval", "expected a duration"),
        (minimal(gates={"cost": {"bound": 0.9}}), "gates.cost.bound", "greater than 1"),
        (minimal(gates={"cost": {"method": "magic"}}), "gates.cost.method", "'sequential'"),
        (
            minimal(gates={"latency": {"p50": None, "p99": None, "ttft_p99": None}}),
            "gates.latency",
            "at least one of p50",
        ),
        (
            minimal(gates={"output_length": {"mean": [1.1, 1.3]}}),
            "gates.output_length.mean",
            "0 < low < 1 < high",
        ),
        (
            minimal(gates={"errors": {"floor": -0.1}}),
            "gates.errors.floor",
            "greater than or equal to 0",
        ),
        (
            minimal(gates={"refusals": {"alpha_share": 0}}),
            "gates.refusals.alpha_share",
            "greater than 0",
        ),
        (minimal(gates={"speed": {}}), "gates.speed", "Extra inputs are not permitted"),
        (minimal(shadow={"sample": 1.5}), "shadow.sample", "less than or equal to 1"),
        (
            minimal(shadow={"alerts": [{"gate": "feedback", "above": 1.2}]}),
            "shadow.alerts.0.gate",
            "Input should be",
        ),
        (minimal(on_inconclusive="panic"), "on_inconclusive", "'hold'"),
        (minimal(require="maybe"), "require", "'pass'"),
        (minimal(ab={"weight": 100}), "ab.weight", "less than 100"),
        (minimal(ab={"rule": "vibes"}), "ab.rule", "'superiority'"),
        (minimal(colour="blue"), "colour", "Extra inputs are not permitted"),
        (
            minimal(
                gates={
                    name: {"enabled": False}
                    for name in (
                        "latency",
                        "cost",
                        "errors",
                        "refusals",
                        "output_length",
                        "feedback",
                    )
                }
            ),
            "(root)",
            "at least one gate must be enabled",
        ),
    ],
)
def test_malformed_spec_names_field_and_reason(doc: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(doc)
    problems = info.value.problems
    assert any(p == path and reason in r for p, r in problems), problems
    assert path in str(info.value)
    assert "Traceback" not in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec({"name": "", "baseline": "x y", "alpha": 3, "steps": [50, 10]})
    paths = {p for p, _ in info.value.problems}
    assert {"name", "baseline", "candidate", "alpha", "steps"} <= paths


@pytest.mark.parametrize("doc", [None, [], "text", 42])
def test_non_mapping_document_is_rejected(doc: Any) -> None:
    with pytest.raises(SpecError, match="expected a mapping"):
        parse_spec(doc)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("name: r1\nbaseline: [unclosed\n")
    with pytest.raises(SpecError, match="line") as info:
        load_spec(p)
    assert "not valid YAML" in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")


def test_load_spec_from_yaml_file(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(f"name: r1\nbaseline: {BASE}\ncandidate: {CAND}\nsteps: [5, 100]\n")
    assert [s.weight for s in load_spec(p).steps] == [5, 100]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("1d", 86400.0),
    ],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5 minutes", "-1s", True, None, float("nan"), float("inf")])
def test_bad_durations(bad: Any) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_json_schema_exports_every_top_level_field() -> None:
    schema = json_schema()
    json.dumps(schema)  # serialisable
    assert {"name", "baseline", "candidate", "steps", "gates", "shadow", "ab"} <= set(
        schema["properties"]
    )
