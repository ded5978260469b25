"""Helpers of the planning tests: two priced models and small, fast plans."""

from __future__ import annotations

from typing import Any

from llm_rollout.plan import Plan, build_inputs, build_plan
from llm_rollout.plan.noise import NoiseProfile
from llm_rollout.registry import ModelVersion, parse_models

MODELS: dict[str, Any] = {
    "models": [
        {
            "name": "chat-v1",
            "endpoint": "http://127.0.0.1:9/v1",
            "upstream_model": "small",
            "prices": {"input": 0.15, "output": 0.60},
        },
        {
            "name": "chat-v2",
            "endpoint": "http://127.0.0.1:9/v1",
            "upstream_model": "large",
            "prices": {"input": 0.45, "output": 1.80},
        },
    ]
}


def versions() -> list[ModelVersion]:
    return parse_models(MODELS)


def small_plan(
    rate: float = 600.0,
    risk: str = "high",
    noise: NoiseProfile | None = None,
    **kw: Any,
) -> Plan:
    """A plan cheap enough for a unit test (few Monte Carlo runs)."""
    inputs = build_inputs(
        versions(), baseline="chat-v1", candidate="chat-v2", rate=rate, risk=risk, noise=noise, **kw
    )
    return build_plan(inputs, reps=300, search_reps=300)
