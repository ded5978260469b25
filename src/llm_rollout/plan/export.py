"""The plan as JSON and as a rollout spec YAML that ``llm-rollout start`` accepts as is."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import yaml

from .model import to_jsonable

if TYPE_CHECKING:
    from .model import Plan
    from .verify import Verification

_DURATIONS = {
    "check_interval",
    "min_dwell",
    "max_dwell",
    "min_duration",
    "max_duration",
    "duration",
    "timeout",
}


def _duration_text(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def _readable(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _readable(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable(v, key) for v in value]
    if key in _DURATIONS and isinstance(value, int | float) and not isinstance(value, bool):
        return _duration_text(float(value))
    return value


def spec_document(plan: Plan) -> dict[str, Any]:
    """The planned spec as a plain mapping, durations written as ``35m`` / ``2h``."""
    doc: dict[str, Any] = _readable(plan.spec.model_dump(mode="json"))
    return doc


def spec_yaml(plan: Plan) -> str:
    i = plan.inputs
    head = (
        f"# Planned by `llm-rollout plan` for {i.rate:g} requests/minute, risk {i.risk.name}, "
        f"cost policy {i.cost_policy}.\n"
        f"# Baseline {i.baseline.name}, candidate {i.candidate.name} (registry refs: register "
        "the models, then `llm-rollout start` this file).\n"
    )
    body = yaml.safe_dump(spec_document(plan), sort_keys=False, default_flow_style=None, width=100)
    return head + body


def plan_dict(plan: Plan, verification: Verification | None = None) -> dict[str, Any]:
    i = plan.inputs
    out: dict[str, Any] = {
        "kind": "llm-rollout plan",
        "version": 1,
        "inputs": {
            "name": i.name,
            "baseline": i.baseline.to_dict(),
            "candidate": i.candidate.to_dict(),
            "rate": i.rate,
            "daily_cycle": i.daily_cycle,
            "start_hour": i.start_hour,
            "peak_hour": i.peak_hour,
            "risk": i.risk.to_dict(),
            "cost_policy": i.cost_policy,
            "quality_gain": i.quality_gain,
            "max_dwell": i.max_dwell,
            "max_shadow": i.max_shadow,
            "noise": to_jsonable(i.noise.to_dict()),
            "noise_assumed": i.noise_assumed,
            "behaviour": to_jsonable(i.behaviour),
            "behaviour_assumed": i.behaviour_assumed,
            "seed": i.seed,
        },
        "cost": to_jsonable(plan.cost),
        "bounds": to_jsonable(list(plan.bounds)),
        "shadow": to_jsonable(plan.shadow),
        "steps": to_jsonable(list(plan.steps)),
        "dropped_steps": list(plan.dropped_steps),
        "detections": to_jsonable(list(plan.detections)),
        "ab": to_jsonable(plan.ab),
        "rollback": to_jsonable(plan.rollback.to_dict()),
        "expected_output_ratio": plan.expected_output_ratio,
        "total_duration": plan.total_duration(),
        "time_to_promotion": plan.time_to_promotion(),
        "warnings": list(plan.warnings),
        "notes": list(plan.notes),
        "reps": plan.reps,
        "search_reps": plan.search_reps,
        "spec": plan.spec.model_dump(mode="json"),
        "verification": None if verification is None else to_jsonable(verification.to_dict()),
    }
    return out


def plan_json(plan: Plan, verification: Verification | None = None) -> str:
    return json.dumps(plan_dict(plan, verification), indent=2, allow_nan=False)
