"""Draws from a ModelProfile (pure, seeded)."""

from __future__ import annotations

import random
import statistics

import pytest

from llm_rollout.mock import REFUSAL_TEXT, draw
from llm_rollout.profile import ModelProfile


def test_draws_follow_the_profile_medians_and_rates() -> None:
    profile = ModelProfile(
        latency_ms=800,
        ttft_ms=200,
        completion_tokens=100,
        error_rate=0.1,
        refusal_rate=0.2,
        cached_fraction=0.5,
    )
    rng = random.Random(4)
    plans = [draw(profile, rng) for _ in range(4000)]
    assert statistics.median(p.latency_s for p in plans) == pytest.approx(0.8, rel=0.05)
    assert statistics.median(p.ttft_s for p in plans) == pytest.approx(0.2, rel=0.05)
    assert all(p.ttft_s <= p.latency_s for p in plans)
    assert sum(p.error for p in plans) / len(plans) == pytest.approx(0.1, abs=0.02)
    ok = [p for p in plans if not p.error]
    assert sum(p.refused for p in ok) / len(ok) == pytest.approx(0.2, abs=0.03)
    served = [p for p in ok if not p.refused]
    assert statistics.median(p.completion_tokens for p in served) == pytest.approx(100, rel=0.08)
    assert all(p.cached_tokens == round(p.prompt_tokens * 0.5) for p in plans)


def test_same_seed_same_plans() -> None:
    a = [draw(ModelProfile(), random.Random(9)) for _ in range(3)]
    b = [draw(ModelProfile(), random.Random(9)) for _ in range(3)]
    assert a == b


def test_max_tokens_caps_the_output_with_finish_reason_length() -> None:
    plan = draw(
        ModelProfile(completion_tokens=50, completion_sigma=0, refusal_rate=0, error_rate=0),
        random.Random(1),
        max_tokens=7,
    )
    assert (plan.completion_tokens, plan.finish_reason) == (7, "length")
    assert len(plan.pieces()) == 7


def test_refusal_text_is_the_output_of_a_refusal() -> None:
    plan = draw(ModelProfile(refusal_rate=1.0, error_rate=0), random.Random(1))
    assert plan.refused
    assert "".join(plan.pieces()) == REFUSAL_TEXT
    assert plan.completion_tokens == len(plan.pieces())
