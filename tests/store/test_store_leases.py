"""The leader lease: one holder at a time, renewal, expiry and takeover."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from store_helpers import Backend

from llm_rollout.errors import InvalidDataError
from llm_rollout.store import Store


def test_one_holder_at_a_time(store: Store) -> None:
    assert store.acquire_lease("controller", "a", ttl=10, now=100.0) is True
    assert store.acquire_lease("controller", "b", ttl=10, now=105.0) is False
    assert store.acquire_lease("other-lease", "b", ttl=10, now=105.0) is True


def test_renewal_extends_the_lease(store: Store) -> None:
    store.acquire_lease("controller", "a", ttl=10, now=100.0)
    assert store.acquire_lease("controller", "a", ttl=10, now=108.0) is True  # until 118
    assert store.acquire_lease("controller", "b", ttl=10, now=115.0) is False


def test_an_expired_lease_is_taken_over(store: Store) -> None:
    store.acquire_lease("controller", "a", ttl=10, now=100.0)
    assert store.acquire_lease("controller", "b", ttl=10, now=109.999) is False
    assert store.acquire_lease("controller", "b", ttl=10, now=110.0) is True  # expires <= now
    assert store.acquire_lease("controller", "a", ttl=10, now=111.0) is False  # a lost it


def test_release_frees_the_lease_only_for_its_holder(store: Store) -> None:
    store.acquire_lease("controller", "a", ttl=60, now=100.0)
    store.release_lease("controller", "b")  # not b's to release
    assert store.acquire_lease("controller", "b", ttl=60, now=101.0) is False
    store.release_lease("controller", "a")
    assert store.acquire_lease("controller", "b", ttl=60, now=101.0) is True
    store.release_lease("never-held", "a")  # a no-op


@pytest.mark.parametrize(("ttl", "now"), [(0, 1.0), (-5, 1.0), (math.nan, 1.0), (5, math.inf)])
def test_invalid_lease_arguments(store: Store, ttl: float, now: float) -> None:
    with pytest.raises(InvalidDataError, match="ttl"):
        store.acquire_lease("controller", "a", ttl=ttl, now=now)


def test_two_connections_contend_for_the_lease(shared_backend: Backend, tmp_path: Path) -> None:
    one, two = shared_backend.connect(tmp_path), shared_backend.connect(tmp_path)
    try:
        assert one.acquire_lease("controller", "host-1", ttl=15, now=0.0) is True
        assert two.acquire_lease("controller", "host-2", ttl=15, now=1.0) is False
        assert two.acquire_lease("controller", "host-2", ttl=15, now=15.0) is True
        assert one.acquire_lease("controller", "host-1", ttl=15, now=16.0) is False
    finally:
        one.close()
        two.close()
