"""Rollout rows: one active per model, compare-and-swap saves with events and policy."""

from __future__ import annotations

import math
import sqlite3

import pytest

from llm_rollout.errors import ConflictError, InvalidDataError, StoreError
from llm_rollout.store import Store
from llm_rollout.store.sqlite import SQLiteStore

SPEC = {"name": "chat", "baseline": "a@sha256:" + "a" * 12, "candidate": "b@sha256:" + "b" * 12}


def test_create_get_and_list(store: Store) -> None:
    row = store.create_rollout("r1", "chat", SPEC, {"phase": "pending"}, 10.0)
    assert (row.id, row.model, row.revision, row.active, row.created, row.updated) == (
        "r1",
        "chat",
        1,
        True,
        10.0,
        10.0,
    )
    assert store.get_rollout("r1") == row
    store.create_rollout("r2", "other", SPEC, {}, 11.0)
    assert [r.id for r in store.list_rollouts()] == ["r1", "r2"]


def test_a_duplicate_id_conflicts(store: Store) -> None:
    store.create_rollout("r1", "chat", SPEC, {}, 1.0)
    with pytest.raises(ConflictError, match="already exists"):
        store.create_rollout("r1", "other", SPEC, {}, 2.0)


def test_only_one_active_rollout_per_model(store: Store) -> None:
    store.create_rollout("r1", "chat", SPEC, {}, 1.0)
    with pytest.raises(ConflictError, match="already has an active rollout 'r1'"):
        store.create_rollout("r2", "chat", SPEC, {}, 2.0)
    assert [r.id for r in store.list_rollouts()] == ["r1"]  # nothing written
    store.create_rollout("r3", "other-model", SPEC, {}, 3.0)
    assert [r.id for r in store.list_rollouts(active_only=True)] == ["r1", "r3"]


def test_a_finished_rollout_frees_its_model(store: Store) -> None:
    store.create_rollout("r1", "chat", SPEC, {}, 1.0)
    store.save_rollout("r1", {"phase": "promoted"}, 1, active=False, now=2.0)
    store.create_rollout("r2", "chat", SPEC, {}, 3.0)
    assert [r.id for r in store.list_rollouts(active_only=True)] == ["r2"]
    with pytest.raises(ConflictError, match="already has an active rollout 'r2'"):
        store.save_rollout("r1", {"phase": "resumed"}, 2, active=True, now=4.0)
    assert store.get_rollout("r1").revision == 2


def test_the_unique_index_guards_active_rows_even_behind_the_api(file_store: SQLiteStore) -> None:
    store = file_store
    store.create_rollout("r1", "chat", SPEC, {}, 1.0)
    store.create_rollout("r2", "other", SPEC, {}, 1.0)
    db = store._db  # the invariant must hold for any writer, not only this class
    assert db is not None
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE rollouts SET model = 'chat' WHERE id = 'r2'")


def test_save_bumps_the_revision_and_writes_events_and_policy_together(
    store: Store,
) -> None:
    store.create_rollout("r1", "chat", SPEC, {"phase": "pending"}, 1.0)
    events = [("advance", {"from": 0, "to": 1}), ("verdicts", {"latency": "PASS"})]
    row = store.save_rollout(
        "r1",
        {"phase": "canary", "step": 1},
        1,
        active=True,
        now=5.0,
        events=events,
        policy=({"routes": {"chat": {"candidate_bp": 100}}}, "controller", "step 1"),
    )
    assert (row.revision, row.state, row.updated, row.created) == (
        2,
        {"phase": "canary", "step": 1},
        5.0,
        1.0,
    )
    assert store.get_rollout("r1") == row
    assert [(e.kind, e.data, e.time, e.rollout_id) for e in store.events("r1")] == [
        ("advance", {"from": 0, "to": 1}, 5.0, "r1"),
        ("verdicts", {"latency": "PASS"}, 5.0, "r1"),
    ]
    current = store.current_policy()
    assert current is not None
    assert (current.version, current.actor, current.reason, current.time) == (
        1,
        "controller",
        "step 1",
        5.0,
    )


def test_a_stale_revision_conflicts_and_writes_nothing(store: Store) -> None:
    store.create_rollout("r1", "chat", SPEC, {"phase": "pending"}, 1.0)
    store.save_rollout("r1", {"phase": "shadow"}, 1, active=True, now=2.0, events=[("a", {})])
    with pytest.raises(ConflictError, match=r"revision 2, expected 1"):
        store.save_rollout(
            "r1",
            {"phase": "lost race"},
            1,
            active=True,
            now=3.0,
            events=[("b", {})],
            policy=({"x": 1}, "controller", "late"),
        )
    row = store.get_rollout("r1")
    assert (row.revision, row.state, row.updated) == (2, {"phase": "shadow"}, 2.0)
    assert [e.kind for e in store.events("r1")] == ["a"]
    assert store.policy_version() == 0


def test_an_unstorable_event_writes_nothing(store: Store) -> None:
    store.create_rollout("r1", "chat", SPEC, {}, 1.0)
    with pytest.raises(InvalidDataError, match="event 'bad'"):
        store.save_rollout("r1", {"ok": 1}, 1, True, 2.0, events=[("bad", {"x": math.inf})])
    assert store.get_rollout("r1").revision == 1
    assert store.events() == []


def test_unknown_rollouts_are_store_errors_not_conflicts(store: Store) -> None:
    with pytest.raises(StoreError, match="no rollout named 'ghost'") as err:
        store.get_rollout("ghost")
    assert not isinstance(err.value, ConflictError)
    with pytest.raises(StoreError, match="no rollout named 'ghost'") as err:
        store.save_rollout("ghost", {}, 1, True, 1.0)
    assert not isinstance(err.value, ConflictError)


def test_events_newest_limit_in_time_order_per_rollout_or_all(store: Store) -> None:
    store.create_rollout("r1", "chat", SPEC, {}, 0.0)
    store.create_rollout("r2", "other", SPEC, {}, 0.0)
    rev = {"r1": 1, "r2": 1}
    for i in range(6):
        rid = "r1" if i % 2 == 0 else "r2"
        store.save_rollout(rid, {}, rev[rid], True, float(i), events=[(f"e{i}", {"i": i})])
        rev[rid] += 1
    assert [e.kind for e in store.events("r1")] == ["e0", "e2", "e4"]
    assert [e.kind for e in store.events("r1", limit=2)] == ["e2", "e4"]
    assert [e.kind for e in store.events(limit=4)] == ["e2", "e3", "e4", "e5"]
    ids = [e.id for e in store.events()]
    assert ids == sorted(ids)
