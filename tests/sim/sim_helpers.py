"""A small, fast rollout for simulator tests: three short steps at 300 requests/minute."""

from __future__ import annotations

from typing import Any

from llm_rollout.sim.scenario import Scenario, parse_scenario

SMALL_SPEC: dict[str, Any] = {
    "name": "small",
    "baseline": "base@sha256:0123456789ab",
    "candidate": "cand@sha256:ba9876543210",
    "require": "no-breach",
    "check_interval": "5m",
    "shadow": {"sample": 0.2, "min_duration": "10m", "min_samples": 100},
    "steps": [
        {"weight": 10, "min_dwell": "10m", "min_samples": 100, "max_dwell": "1h"},
        {"weight": 50, "min_dwell": "10m", "min_samples": 100, "max_dwell": "1h"},
        {"weight": 100, "min_dwell": "5m", "min_samples": 100, "max_dwell": "1h"},
    ],
}


def small(**fields: Any) -> Scenario:
    doc: dict[str, Any] = {"spec": SMALL_SPEC, "rate": 300, "seed": 1, "users": 20_000}
    doc.update(fields)
    return parse_scenario(doc, "small")
