"""Arrivals, the daily cycle and sticky users."""

from __future__ import annotations

import numpy as np
import pytest

from llm_rollout.errors import SpecError
from llm_rollout.policy import bucket
from llm_rollout.sim.traffic import Traffic, UserBuckets, user_key


def test_poisson_arrivals_at_the_configured_rate() -> None:
    traffic = Traffic(rate=120)
    rng = np.random.default_rng(0)
    counts = [traffic.arrivals(rng, 0, 300).size for _ in range(400)]
    assert np.mean(counts) == pytest.approx(600, rel=0.01)
    assert np.var(counts) == pytest.approx(600, rel=0.2)  # Poisson: variance = mean
    times = traffic.arrivals(rng, 300, 600)
    assert np.all(np.diff(times) >= 0)
    assert times.min() >= 300
    assert times.max() < 600


def test_daily_cycle_follows_the_sine() -> None:
    traffic = Traffic(rate=60, daily_cycle=0.5, peak_hour=14, start_hour=2)
    rng = np.random.default_rng(1)
    trough = traffic.arrivals(rng, 0, 3600).size  # 02:00, the trough
    peak = traffic.arrivals(rng, 12 * 3600, 13 * 3600).size  # 14:00, the peak
    assert trough == pytest.approx(3600 * 0.5, rel=0.1)
    assert peak == pytest.approx(3600 * 1.5, rel=0.1)
    assert traffic.expected(0, 86_400) == pytest.approx(60 * 1440)
    day = traffic.arrivals(rng, 0, 86_400).size
    assert day == pytest.approx(60 * 1440, rel=0.02)


def test_buckets_are_the_gateways_and_hashed_once() -> None:
    users = UserBuckets("salt", 1000)
    ids = np.array([5, 7, 5, 999])
    got = users.of(ids)
    assert got.tolist() == [bucket("salt", user_key(int(u))) for u in ids]
    np.testing.assert_array_equal(users.of(ids), got)


def test_a_user_on_the_candidate_at_10_percent_stays_on_it_at_25() -> None:
    users = UserBuckets("assistant", 50_000)
    ids = np.arange(50_000)
    b = users.of(ids)
    at10, at25 = b < 1000, b < 2500
    assert np.all(at25[at10])  # raising the weight only adds users
    assert at10.mean() == pytest.approx(0.10, abs=0.005)
    assert at25.mean() == pytest.approx(0.25, abs=0.005)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -5}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"daily_cycle": 1.0}, "daily_cycle"),
        ({"users": 0}, "users"),
        ({"peak_hour": 24}, "peak_hour"),
    ],
)
def test_bad_traffic_is_a_spec_error_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(SpecError) as info:
        Traffic(**kwargs)
    assert [p for p, _ in info.value.problems] == [field]
