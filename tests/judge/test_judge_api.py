"""The public surface of llm_rollout.judge: names other modules build against."""

from __future__ import annotations

import inspect

from llm_rollout import judge


def test_exported_names() -> None:
    assert sorted(judge.__all__) == [
        "GATE_TYPES",
        "PHASES",
        "VERDICT_TABLE_HEADER",
        "ab_verdict",
        "combine",
        "effective_outcome",
        "judge_alert",
        "judge_gate",
        "judge_srm",
        "judge_step",
        "verdict_row",
        "verdict_table_rows",
    ]
    for name in judge.__all__:
        assert hasattr(judge, name), name


def test_signatures() -> None:
    assert list(inspect.signature(judge.judge_gate).parameters) == [
        "name",
        "gate",
        "window",
        "alpha",
        "method",
    ]
    assert list(inspect.signature(judge.judge_step).parameters) == [
        "spec",
        "window",
        "method",
        "phase",
    ]
    assert inspect.signature(judge.judge_step).parameters["phase"].default == "canary"
    assert list(inspect.signature(judge.judge_alert).parameters) == ["rule", "window", "alpha"]
    assert judge.PHASES == ("shadow", "canary", "ab")
