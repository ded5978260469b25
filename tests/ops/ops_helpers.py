"""Builders for the in-process operations tests: models, specs and synthetic traffic records
written straight into a real SQLite store (in memory or a temporary file)."""

from __future__ import annotations

import random
from typing import Any

from llm_rollout.policy import BUCKETS, Policy, Route
from llm_rollout.records import Arm, Feedback, RequestRecord, Role, Status
from llm_rollout.registry import ModelVersion
from llm_rollout.spec import RolloutSpec, parse_spec
from llm_rollout.store.sqlite import SQLiteStore

T0 = 1_700_000_000.0


def model(name: str, upstream: str = "m", price: float = 1.0) -> ModelVersion:
    return ModelVersion(
        name=name,
        endpoint="http://127.0.0.1:9/v1",
        upstream_model=upstream,
        prices={"input": price, "output": 2 * price},
    )


BASE = model("base", "base-m")
CAND = model("cand", "cand-m")
PRICEY = model("pricey", "cand-m", price=3.0)

STEP = {"min_dwell": 10, "min_samples": 50, "max_dwell": 600}


def make_spec(name: str = "chat", candidate: str = "cand", **fields: Any) -> RolloutSpec:
    """No shadow, steps 20% -> 50% -> 100% (10 s dwell, 50 samples), checks every 5 s."""
    doc: dict[str, Any] = {
        "name": name,
        "baseline": "base",
        "candidate": candidate,
        "shadow": {"enabled": False},
        "steps": [{"weight": w, **STEP} for w in (20, 50, 100)],
        "check_interval": 5,
        "require": "no-breach",
        "gates": {"srm": {"min_samples": 100}},
    }
    doc.update(fields)
    return parse_spec(doc)


def registered(store: SQLiteStore) -> SQLiteStore:
    for version in (BASE, CAND, PRICEY):
        store.put_model(version)
    return store


def current_route(store: SQLiteStore, model_name: str) -> Route | None:
    current = store.current_policy()
    if current is None:
        return None
    return Policy.from_doc(current.version, current.doc).routes.get(model_name)


class Traffic:
    """Served (and shadow) records for a rollout as the gateway would write them: the arm drawn
    from the published route, tagged with its rollout id, step and policy version."""

    def __init__(self, store: SQLiteStore, model_name: str, seed: int = 1) -> None:
        self.store = store
        self.model = model_name
        self.rng = random.Random(seed)
        self.n = 0

    def send(
        self,
        start: float,
        end: float,
        count: int,
        *,
        cost: dict[Arm, float] | None = None,
        refuse: dict[Arm, float] | None = None,
        thumbs_down: dict[Arm, float] | None = None,
    ) -> list[RequestRecord]:
        current = self.store.current_policy()
        assert current is not None
        route = Policy.from_doc(current.version, current.doc).routes[self.model]
        out: list[RequestRecord] = []
        negative: list[str] = []
        for i in range(count):
            self.n += 1
            t = start + (end - start) * i / count
            cand = route.candidate_bp > 0 and self.rng.randrange(BUCKETS) < route.candidate_bp
            roles = [(Arm.CANDIDATE if cand else Arm.BASELINE, Role.SERVE)]
            if not cand and route.shadow_sample > 0 and self.rng.random() < route.shadow_sample:
                roles.append((Arm.CANDIDATE, Role.SHADOW))
            for arm, role in roles:
                rec = RequestRecord(
                    request_id=f"r{self.n}",
                    time=t,
                    rollout_id=route.rollout_id or "",
                    step=route.step,
                    arm=arm,
                    role=role,
                    model_digest=route.candidate if arm is Arm.CANDIDATE else route.baseline,
                    status=Status.OK,
                    http_status=200,
                    latency_ms=100 + self.rng.random() * 10,
                    prompt_tokens=50,
                    completion_tokens=9,
                    cost_usd=(cost or {}).get(arm, 1e-4),
                    refused=self.rng.random() < (refuse or {}).get(arm, 0.0),
                    policy_version=current.version,
                )
                out.append(rec)
                if role is Role.SERVE and self.rng.random() < (thumbs_down or {}).get(arm, 0.0):
                    negative.append(rec.request_id)
        self.store.append_records(out)
        for rid in negative:
            assert self.store.append_feedback(Feedback(rid, end, -1.0))
        return out
