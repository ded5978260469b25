"""The golden-case runner: a JSON suite of gate judgments, each with its expected outcomes.

A case states how its data was drawn (see :mod:`.synth`), never the arrays, plus the gate, its
config, the method and alpha, and either the expected outcome per statistic or the expected
error. ``scripts/make_golden.py`` writes the suite (``tests/golden/judge_cases.json``); this
module runs it, for our tests and for anyone checking a judge build
(:func:`llm_rollout.testing.run_golden_cases`).

Case shape::

    {"id": "cost-2x-n5000", "why": "...", "gate": "cost", "method": "sequential",
     "alpha": 0.001, "config": {"bound": 1.2},
     "window": {"seed": 7, "candidate_weight": 0.5, "baseline": {...}, "candidate": {...}},
     "expected": {"mean_ratio": "FAIL"}}

``gate`` is a gate name, ``srm`` (config: an SrmCheck) or ``alert`` (config: an AlertRule).
``expected`` lists every statistic the judge must return, no more. ``expected_error`` is
``{"type": "InvalidDataError", "match": "<substring of the message>"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import InvalidDataError
from ...spec import AlertRule, Method, SrmCheck
from ...verdict import Verdict
from ..alerts import judge_alert
from ..gates import GATE_TYPES, judge_gate
from ..srm import judge_srm
from .synth import make_window

Case = Mapping[str, Any]

#: Where the suite lives in a source checkout (the default of :func:`run_cases`).
DEFAULT_PATH = Path(__file__).resolve().parents[4] / "tests" / "golden" / "judge_cases.json"


def judge_case(case: Case) -> list[Verdict]:
    """Regenerate the case's window and judge it."""
    window = make_window(case["window"])
    gate = case["gate"]
    config = case.get("config", {})
    alpha = float(case.get("alpha", 0.001))
    if gate == "srm":
        return [judge_srm(window, SrmCheck.model_validate(config))]
    if gate == "alert":
        return [judge_alert(AlertRule.model_validate(config), window, alpha)]
    gate_config = GATE_TYPES[gate].model_validate(config)
    return judge_gate(gate, gate_config, window, alpha, Method(case["method"]))


def run_case(case: Case) -> tuple[str, bool, str]:
    """``(id, passed, detail)``; ``detail`` says what differed, empty when passed."""
    cid = str(case["id"])
    expected_error = case.get("expected_error")
    try:
        verdicts = judge_case(case)
    except InvalidDataError as exc:
        if expected_error is None:
            return cid, False, f"unexpected InvalidDataError: {exc}"
        if expected_error["match"] not in str(exc):
            return cid, False, f"error message {str(exc)!r} lacks {expected_error['match']!r}"
        return cid, True, ""
    if expected_error is not None:
        return cid, False, f"expected InvalidDataError matching {expected_error['match']!r}"
    got = {v.statistic: v.outcome.value for v in verdicts}
    if got != dict(case["expected"]):
        lines = "; ".join(v.explanation for v in verdicts)
        return cid, False, f"expected {dict(case['expected'])}, got {got} ({lines})"
    return cid, True, ""


def load_cases(path: str | Path | None = None) -> list[dict[str, Any]]:
    p = DEFAULT_PATH if path is None else Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"golden cases not found at {p}; pass the path of a case file")
    cases: list[dict[str, Any]] = json.loads(p.read_text())["cases"]
    return cases


def run_cases(path: str | Path | None = None) -> list[tuple[str, bool, str]]:
    """Run every case of a suite (default: this checkout's ``tests/golden/judge_cases.json``)."""
    return [run_case(case) for case in load_cases(path)]
