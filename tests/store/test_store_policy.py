"""Policy documents: monotonic versions, the cheap poll, history."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from store_helpers import Backend

from llm_rollout.errors import InvalidDataError
from llm_rollout.policy import Policy, Route
from llm_rollout.store import Store
from llm_rollout.store.sqlite import SQLiteStore


def test_an_empty_store_has_no_policy(store: Store) -> None:
    assert store.policy_version() == 0
    assert store.current_policy() is None
    assert store.policy_history() == []


def test_versions_are_monotonic_from_one(store: Store) -> None:
    versions = [store.publish_policy({"n": i}, "ci", f"v{i}", 100.0 + i) for i in range(5)]
    assert versions == [1, 2, 3, 4, 5]
    assert store.policy_version() == 5
    current = store.current_policy()
    assert current is not None
    assert (current.version, current.doc, current.actor, current.reason, current.time) == (
        5,
        {"n": 4},
        "ci",
        "v4",
        104.0,
    )


def test_history_is_newest_first_and_limited(store: Store) -> None:
    for i in range(5):
        store.publish_policy({"n": i}, "ci", f"v{i}", float(i))
    history = store.policy_history(limit=3)
    assert [p.version for p in history] == [5, 4, 3]
    assert [p.doc["n"] for p in history] == [4, 3, 2]


def test_a_policy_document_round_trips(store: Store) -> None:
    route = Route(baseline="b" * 64, candidate="c" * 64, candidate_bp=1000, rollout_id="r1", step=1)
    doc = Policy(0, {"chat": route}).to_doc()
    version = store.publish_policy(doc, "controller", "advance", 1.0)
    current = store.current_policy()
    assert current is not None
    assert Policy.from_doc(current.version, current.doc) == Policy(version, {"chat": route})


def test_a_document_that_is_not_json_is_rejected_before_writing(store: Store) -> None:
    store.publish_policy({"ok": True}, "ci", "first", 1.0)
    with pytest.raises(InvalidDataError, match="policy document"):
        store.publish_policy({"weight": math.nan}, "ci", "bad", 2.0)
    with pytest.raises(InvalidDataError, match="policy document"):
        store.publish_policy({"when": object()}, "ci", "bad", 2.0)
    assert store.policy_version() == 1


def test_two_connections_see_each_others_versions(shared_backend: Backend, tmp_path: Path) -> None:
    controller, gateway = shared_backend.connect(tmp_path), shared_backend.connect(tmp_path)
    try:
        assert gateway.policy_version() == 0
        controller.publish_policy({"n": 1}, "controller", "start", 1.0)
        assert gateway.policy_version() == 1
        gateway.publish_policy({"n": 2}, "cli", "rollback", 2.0)
        assert controller.policy_version() == 2
        current = controller.current_policy()
        assert current is not None
        assert current.reason == "rollback"
    finally:
        controller.close()
        gateway.close()


def test_versions_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with SQLiteStore(path) as s:
        s.publish_policy({}, "ci", "one", 1.0)
        s.publish_policy({}, "ci", "two", 2.0)
    with SQLiteStore(path) as s:
        assert s.publish_policy({}, "ci", "three", 3.0) == 3
