"""The golden suite: regenerate each case's data from its parameters and check the judge."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from llm_rollout.judge.evaluation.golden import DEFAULT_PATH, load_cases, run_case
from llm_rollout.testing import run_golden_cases

ROOT = Path(__file__).resolve().parents[3]
CASES = load_cases()


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_golden", ROOT / "scripts/make_golden.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_case(case: dict[str, Any]) -> None:
    cid, passed, detail = run_case(case)
    assert passed, f"{cid}: {detail}"


def test_the_file_is_what_the_generator_writes() -> None:
    assert DEFAULT_PATH == ROOT / "tests/golden/judge_cases.json"
    assert DEFAULT_PATH.read_text() == _generator().render()


def test_the_suite_covers_every_gate_both_methods_and_errors() -> None:
    assert len(CASES) >= 40
    gates = Counter(c["gate"] for c in CASES)
    expected_gates = {"latency", "cost", "errors", "refusals", "output_length", "feedback"}
    assert expected_gates | {"srm", "alert"} == set(gates)
    for gate in expected_gates:
        methods = {c["method"] for c in CASES if c["gate"] == gate}
        assert methods == {"sequential", "threshold"} or (gate == "refusals" and methods)
    outcomes = Counter(o for c in CASES for o in c.get("expected", {}).values())
    assert set(outcomes) == {"PASS", "FAIL", "INCONCLUSIVE", "NODATA"}
    assert sum("expected_error" in c for c in CASES) >= 5
    assert all(c["why"] for c in CASES)


def test_a_wrong_expectation_is_reported() -> None:
    case = dict(CASES[0], expected={"p50_ratio": "FAIL"})
    _, passed, detail = run_case(case)
    assert not passed
    assert "expected {'p50_ratio': 'FAIL'}" in detail


def test_a_missing_error_is_reported() -> None:
    case = next(c for c in CASES if "expected_error" in c)
    wrong = dict(case, expected_error={"type": "InvalidDataError", "match": "zzz"})
    assert not run_case(wrong)[1]


def test_public_runner_runs_the_suite() -> None:
    results = run_golden_cases()
    assert len(results) == len(CASES)
    assert all(passed for _, passed, _ in results)
