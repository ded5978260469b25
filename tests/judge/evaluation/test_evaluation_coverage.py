"""The exact means of a synthetic arm's columns, against which the mean CS's coverage is checked."""

from __future__ import annotations

import numpy as np
import pytest

from llm_rollout.judge.evaluation.coverage import arm_mean
from llm_rollout.judge.evaluation.synth import LLM_ARM, draw_arm


def test_arm_mean_is_the_mean_of_the_drawn_columns() -> None:
    arm = draw_arm({**LLM_ARM, "n": 1_000_000}, np.random.default_rng(4))
    for column in ("cost_usd", "completion_tokens"):
        values = getattr(arm, column)
        se = values.std() / 1000
        assert abs(values.mean() - arm_mean(LLM_ARM, column)) < 4 * se
    with pytest.raises(ValueError, match="closed-form"):
        arm_mean(LLM_ARM, "latency_ms")
