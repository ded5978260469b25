"""The routing policy: which model version serves which share of a logical model's traffic.

A policy document maps each logical model name to a :class:`Route`. Documents are versioned by
a monotonic integer in the store; gateways poll (or are notified of) the version and swap the
document atomically, so a rollback is one write that every replica applies on its next request.

Sticky assignment: ``bucket = hash(salt, key) mod 10000``; the candidate serves iff
``bucket < candidate_bp`` (basis points). Raising the weight only adds buckets, so a user on
the candidate at 10% stays on it at 25%.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .records import Arm

BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class Route:
    baseline: str  # model digest
    candidate: str | None = None
    candidate_bp: int = 0  # served share of the candidate, basis points (0..10000)
    shadow_sample: float = 0.0  # share of baseline-served requests mirrored to the candidate
    shadow_max_concurrency: int = 32
    shadow_timeout: float = 60.0
    rollout_id: str | None = None
    step: int = -1
    phase: str = "stable"
    salt: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.candidate_bp <= BUCKETS:
            raise ValueError("candidate_bp must be within 0..10000")
        if not 0.0 <= self.shadow_sample <= 1.0:
            raise ValueError("shadow_sample must be within 0..1")
        if self.candidate is None and (self.candidate_bp or self.shadow_sample):
            raise ValueError("a candidate weight or shadow needs a candidate model")

    @property
    def candidate_weight(self) -> float:
        return self.candidate_bp / BUCKETS

    def rolled_back(self) -> Route:
        """The rollback route: candidate weight 0, shadow off, baseline pinned."""
        return replace(self, candidate_bp=0, shadow_sample=0.0, phase="rolled_back")


@dataclass(frozen=True)
class Policy:
    version: int
    routes: dict[str, Route] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return {"routes": {name: asdict(r) for name, r in sorted(self.routes.items())}}

    @classmethod
    def from_doc(cls, version: int, doc: dict[str, Any]) -> Policy:
        return cls(version, {k: Route(**v) for k, v in doc.get("routes", {}).items()})

    def with_route(self, model: str, route: Route) -> dict[str, Any]:
        """The document of the next version with one route replaced (version set by the store)."""
        routes = dict(self.routes)
        routes[model] = route
        return Policy(self.version, routes).to_doc()


def bucket(salt: str, key: str) -> int:
    """A stable bucket in 0..9999; blake2b keeps it uniform and the same in every replica."""
    h = hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") % BUCKETS


def choose_arm(route: Route, key: str | None, rng: random.Random) -> tuple[Arm, int | None]:
    """Sticky by key when given; a per-request draw without one. Returns (arm, bucket)."""
    if route.candidate is None or route.candidate_bp == 0:
        return Arm.BASELINE, None if key is None else bucket(route.salt, key)
    b = bucket(route.salt, key) if key is not None else rng.randrange(BUCKETS)
    return (Arm.CANDIDATE if b < route.candidate_bp else Arm.BASELINE), (
        b if key is not None else None
    )
