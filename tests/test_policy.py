from __future__ import annotations

import random

import pytest

from llm_rollout.policy import BUCKETS, Policy, Route, bucket, choose_arm
from llm_rollout.records import Arm


def test_bucket_is_stable_and_salted() -> None:
    assert bucket("s", "user-1") == bucket("s", "user-1")
    assert 0 <= bucket("s", "user-1") < BUCKETS
    differs = sum(bucket("a", f"u{i}") != bucket("b", f"u{i}") for i in range(100))
    assert differs > 90


def test_buckets_are_uniform() -> None:
    counts = [0] * 10
    for i in range(20_000):
        counts[bucket("salt", f"user-{i}") * 10 // BUCKETS] += 1
    assert min(counts) > 1800
    assert max(counts) < 2200


def test_sticky_users_stay_on_candidate_as_weight_grows() -> None:
    rng = random.Random(0)
    users = [f"u{i}" for i in range(5000)]
    at = {}
    for bp in (100, 1000, 2500, 5000):
        route = Route(baseline="b", candidate="c", candidate_bp=bp, salt="s")
        at[bp] = {u for u in users if choose_arm(route, u, rng)[0] is Arm.CANDIDATE}
    assert at[100] <= at[1000] <= at[2500] <= at[5000]
    assert abs(len(at[1000]) / len(users) - 0.10) < 0.02


def test_no_key_draws_per_request() -> None:
    rng = random.Random(1)
    route = Route(baseline="b", candidate="c", candidate_bp=2500)
    share = sum(choose_arm(route, None, rng)[0] is Arm.CANDIDATE for _ in range(20_000)) / 20_000
    assert abs(share - 0.25) < 0.015


def test_rollback_route_pins_baseline() -> None:
    route = Route(baseline="b", candidate="c", candidate_bp=5000, shadow_sample=0.5)
    rb = route.rolled_back()
    assert (rb.candidate_bp, rb.shadow_sample, rb.baseline) == (0, 0.0, "b")
    assert choose_arm(rb, "anyone", random.Random(0))[0] is Arm.BASELINE


def test_policy_document_round_trips() -> None:
    p = Policy(3, {"chat": Route(baseline="b", candidate="c", candidate_bp=10, salt="x")})
    assert Policy.from_doc(3, p.to_doc()) == p
    doc = p.with_route("chat", p.routes["chat"].rolled_back())
    assert doc["routes"]["chat"]["candidate_bp"] == 0


@pytest.mark.parametrize(
    "kw", [{"candidate_bp": 10_001}, {"shadow_sample": 1.5}, {"candidate": None, "candidate_bp": 5}]
)
def test_invalid_routes_rejected(kw: dict[str, object]) -> None:
    args: dict[str, object] = {"baseline": "b", "candidate": "c", **kw}
    with pytest.raises(ValueError, match=r"candidate|shadow"):
        Route(**args)  # type: ignore[arg-type]
