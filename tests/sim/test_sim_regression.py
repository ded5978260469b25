"""Parsing and validating injected regressions."""

from __future__ import annotations

import pytest

from llm_rollout.errors import SpecError
from llm_rollout.sim.regression import METRICS, Regression, canonical_metric, parse_regression


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cost=1.25", Regression("cost", 1.25)),
        ("p99_latency=2", Regression("p99_latency", 2.0)),
        ("refusal=3", Regression("refusals", 3.0)),
        ("feedback=2@30m", Regression("thumbs_down", 2.0, start=1800.0)),
        ("tokens=1.5@90:0.2", Regression("output_length", 1.5, start=90.0, share=0.2)),
        ("error = 4 @ 1h : 50%", Regression("errors", 4.0, start=3600.0, share=0.5)),
        ("thumbs_down=0.97", Regression("thumbs_down", 0.97)),
    ],
)
def test_parse(text: str, expected: Regression) -> None:
    assert parse_regression(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("speed=2", "unknown metric 'speed'"),
        ("cost=-1", "factor"),
        ("cost=0", "factor"),
        ("cost=nan", "factor"),
        ("cost=inf", "factor"),
        ("cost=abc", "expected a number"),
        ("cost", "expected NAME=FACTOR"),
        ("cost=1.2@soon", "duration"),
        ("cost=1.2:1.5", "share"),
    ],
)
def test_bad_regressions_name_the_problem(text: str, needle: str) -> None:
    with pytest.raises(SpecError, match=needle):
        parse_regression(text)


def test_every_alias_maps_to_a_known_metric() -> None:
    for name in (
        "error",
        "errors",
        "refusal",
        "refusals",
        "feedback",
        "thumbs_down",
        "tokens",
        "output_length",
        "latency",
        "p99_latency",
        "ttft",
        "cost",
    ):
        assert canonical_metric(name) in METRICS


def test_from_dict_reports_unknown_fields() -> None:
    with pytest.raises(SpecError, match="unknown regression field"):
        Regression.from_dict({"metric": "cost", "factor": 1.2, "when": 3})
    assert Regression.from_dict({"metric": "cost", "factor": 1.2, "start": "5m"}).start == 300.0
