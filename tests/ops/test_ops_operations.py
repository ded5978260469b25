"""The operations library over a real SQLite store: start, find, commands, rollback, status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ops_helpers import BASE, CAND, T0, Traffic, current_route, make_spec, model, registered

from llm_rollout import operations as ops
from llm_rollout.controller import CommandKind
from llm_rollout.errors import ConflictError, RegistryError, StoreError
from llm_rollout.policy import Route
from llm_rollout.service import ControllerService
from llm_rollout.store.sqlite import SQLiteStore
from llm_rollout.testing import FakeClock


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(":memory:" if request.param == "memory" else tmp_path / "store.db")
    yield registered(s)
    s.close()


def snapshot(store: SQLiteStore) -> tuple[Any, ...]:
    return (
        [(r.id, r.state, r.revision, r.active) for r in store.list_rollouts()],
        store.policy_history(1000),
        store.events(limit=1000),
    )


def test_add_models_says_which_were_new() -> None:
    s = SQLiteStore(":memory:")
    assert [new for _, new in ops.add_models(s, [BASE, CAND])] == [True, True]
    assert [new for _, new in ops.add_models(s, [CAND, model("other")])] == [False, True]
    assert len(s.list_models()) == 3


def test_start_pins_digests_and_publishes_the_first_route(store: SQLiteStore) -> None:
    row = ops.start_rollout(store, make_spec(), actor="alice", now=T0, rollout_id="r1")
    assert (row.id, row.model, row.state["phase"], row.state["step"]) == ("r1", "chat", "canary", 0)
    assert row.spec["baseline"] == BASE.ref
    assert row.spec["candidate"] == CAND.ref
    route = current_route(store, "chat")
    assert route == Route(
        baseline=BASE.digest,
        candidate=CAND.digest,
        candidate_bp=2000,
        shadow_sample=0.0,
        shadow_max_concurrency=32,
        shadow_timeout=60.0,
        rollout_id="r1",
        step=0,
        phase="canary",
        salt="r1",
    )
    [event] = store.events("r1")
    assert (event.kind, event.data["actor"], event.data["candidate"]) == (
        "started",
        "alice",
        CAND.ref,
    )
    [version] = store.policy_history()
    assert (version.actor, version.time) == ("alice", T0)


def test_start_with_shadow_mirrors_and_serves_nothing(store: SQLiteStore) -> None:
    spec = make_spec(shadow={"sample": 0.25, "max_concurrency": 4, "timeout": "5s"})
    ops.start_rollout(store, spec, actor="a", now=T0)
    route = current_route(store, "chat")
    assert route is not None
    assert (route.phase, route.step, route.candidate_bp, route.shadow_sample) == (
        "shadow",
        -1,
        0,
        0.25,
    )
    assert (route.shadow_max_concurrency, route.shadow_timeout) == (4, 5.0)


def test_start_keeps_other_models_routes(store: SQLiteStore) -> None:
    ops.start_rollout(store, make_spec("one"), actor="a", now=T0)
    ops.start_rollout(store, make_spec("two"), actor="a", now=T0 + 1)
    ops.rollback(store, "one", actor="a", reason="x", now=T0 + 2)
    assert current_route(store, "one").phase == "rolled_back"  # type: ignore[union-attr]
    assert current_route(store, "two").phase == "canary"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"candidate": "nope"}, "unknown model 'nope'"),
        ({"baseline": "base@sha256:" + "f" * 12}, "unknown model"),
        ({"candidate": "base@sha256:" + BASE.digest[:12]}, "are the same model version"),
    ],
)
def test_start_refuses_unknown_or_identical_models(
    store: SQLiteStore, fields: dict[str, str], message: str
) -> None:
    before = snapshot(store)
    with pytest.raises(RegistryError, match=message):
        ops.start_rollout(store, make_spec(**fields), actor="a", now=T0)
    assert snapshot(store) == before


def test_start_refuses_an_ambiguous_reference(store: SQLiteStore) -> None:
    store.put_model(model("cand", "another-upstream"))
    with pytest.raises(RegistryError, match="ambiguous"):
        ops.start_rollout(store, make_spec(), actor="a", now=T0)


def test_a_second_rollout_of_a_model_is_refused(store: SQLiteStore) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=T0, rollout_id="first")
    before = snapshot(store)
    with pytest.raises(ConflictError, match="already has an active rollout 'first'"):
        ops.start_rollout(store, make_spec(), actor="a", now=T0 + 1, rollout_id="second")
    with pytest.raises(ConflictError, match="already exists"):
        ops.start_rollout(store, make_spec("other"), actor="a", now=T0 + 1, rollout_id="first")
    with pytest.raises(ConflictError, match="invalid rollout id"):
        ops.start_rollout(store, make_spec("other"), actor="a", now=T0 + 1, rollout_id="a b")
    assert snapshot(store) == before


def test_generated_ids_name_the_spec_and_the_time(store: SQLiteStore) -> None:
    row = ops.start_rollout(store, make_spec(), actor="a", now=T0)
    assert row.id.startswith("chat-20231114-221320-")


def test_find_by_id_model_or_the_only_active_one(store: SQLiteStore) -> None:
    with pytest.raises(ops.RolloutNotFoundError, match="no active rollout"):
        ops.find_rollout(store, None)
    ops.start_rollout(store, make_spec("one"), actor="a", now=T0, rollout_id="r1")
    assert ops.find_rollout(store, None).id == "r1"
    assert ops.find_rollout(store, "one").id == "r1"
    ops.start_rollout(store, make_spec("two"), actor="a", now=T0, rollout_id="r2")
    with pytest.raises(ops.RolloutNotFoundError, match="2 active rollouts"):
        ops.find_rollout(store, None)
    ops.rollback(store, "r1", actor="a", now=T0 + 1)
    ops.start_rollout(store, make_spec("one"), actor="a", now=T0 + 2, rollout_id="r3")
    assert ops.find_rollout(store, "one").id == "r3"  # the active one wins
    ops.command(store, "r3", CommandKind.ABORT, actor="a", now=T0 + 3)
    assert ops.find_rollout(store, "one").id == "r3"  # else the newest
    with pytest.raises(ops.RolloutNotFoundError, match="no rollout with id or model name 'zz'"):
        ops.find_rollout(store, "zz")


@pytest.mark.parametrize(
    ("kind", "phase", "bp", "active"),
    [
        (CommandKind.PAUSE, "paused", 2000, True),
        (CommandKind.PROMOTE, "promoted", 10_000, False),
        (CommandKind.ROLLBACK, "rolled_back", 0, False),
        (CommandKind.ABORT, "aborted", 0, False),
    ],
)
def test_commands_save_state_event_and_route_together(
    store: SQLiteStore, kind: CommandKind, phase: str, bp: int, active: bool
) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=T0, rollout_id="r1")
    row = ops.command(store, "chat", kind, actor="bob", reason="why not", now=T0 + 5)
    assert (row.state["phase"], row.active, row.revision) == (phase, active, 3)
    event = store.events("r1")[-1]
    assert (event.kind, event.data["actor"], event.data["command"]) == (phase, "bob", kind.value)
    assert "why not" in event.data["reason"]
    route = current_route(store, "chat")
    assert route is not None
    assert (route.phase, route.candidate_bp) == (phase, bp)
    version = store.policy_history(1)[0]
    assert (version.actor, version.time, version.version) == ("bob", T0 + 5, 2)


def test_rollback_writes_the_rollback_route_of_the_live_one(store: SQLiteStore) -> None:
    spec = make_spec(shadow={"sample": 0.5})
    ops.start_rollout(store, spec, actor="a", now=T0, rollout_id="r1")
    before = current_route(store, "chat")
    assert before is not None
    assert before.shadow_sample == 0.5
    ops.rollback(store, None, actor="ops", reason="pager", now=T0 + 1)
    assert current_route(store, "chat") == before.rolled_back()


def test_resume_restores_the_paused_route(store: SQLiteStore) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=T0, rollout_id="r1")
    live = current_route(store, "chat")
    ops.command(store, "r1", CommandKind.PAUSE, actor="a", now=T0 + 1)
    row = ops.command(store, "r1", CommandKind.RESUME, actor="a", now=T0 + 2)
    assert row.state["phase_started"] == T0 + 2
    assert current_route(store, "chat") == live


def test_commands_on_a_finished_rollout_change_nothing(store: SQLiteStore) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=T0, rollout_id="r1")
    ops.rollback(store, "r1", actor="a", now=T0 + 1)
    before = snapshot(store)
    for kind in CommandKind:
        with pytest.raises(ConflictError, match=r"rolled_back|not paused"):
            ops.command(store, "r1", kind, actor="a", now=T0 + 2)
    assert snapshot(store) == before


class RacingStore:
    """A store whose first ``saves`` save_rollout calls lose a race: another writer (a
    controller's check) saves the same rollout just before them."""

    def __init__(self, store: SQLiteStore, saves: int) -> None:
        self._store = store
        self.races = saves

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def save_rollout(self, rollout_id: str, *args: Any, **kwargs: Any) -> Any:
        if self.races > 0:
            self.races -= 1
            row = self._store.get_rollout(rollout_id)
            state = {**row.state, "checks": row.state["checks"] + 1}
            self._store.save_rollout(rollout_id, state, row.revision, True, T0 + 1)
        return self._store.save_rollout(rollout_id, *args, **kwargs)


def test_a_command_that_loses_a_race_retries_on_the_new_state(store: SQLiteStore) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=T0, rollout_id="r1")
    racing = RacingStore(store, saves=2)
    row = ops.rollback(racing, "r1", actor="a", now=T0 + 2)  # type: ignore[arg-type]
    assert racing.races == 0
    assert (row.state["phase"], row.state["checks"], row.revision) == ("rolled_back", 2, 5)


def test_a_command_gives_up_after_losing_too_many_races(store: SQLiteStore) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=T0, rollout_id="r1")
    racing = RacingStore(store, saves=ops.COMMAND_RETRIES)
    with pytest.raises(ConflictError, match="kept changing"):
        ops.rollback(racing, "r1", actor="a", now=T0 + 2)  # type: ignore[arg-type]
    assert store.get_rollout("r1").state["phase"] == "canary"


def test_status_judges_the_current_window(store: SQLiteStore) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=T0, rollout_id="r1")
    sent = Traffic(store, "chat").send(T0, T0 + 9, 400)
    info = ops.status(store, "chat", now=T0 + 9.5)
    json.dumps(info, allow_nan=False)  # JSON-safe
    n_cand = sum(r.arm.value == "candidate" for r in sent)
    assert info["samples"] == {
        "baseline": len(sent) - n_cand,
        "candidate": n_cand,
        "candidate_role": "serve",
    }
    assert (info["phase"], info["step"], info["weight"], info["dwell"]) == ("canary", 0, 20, 9.5)
    assert info["next_check"] == T0 + 5
    gates = {v["gate"] for v in info["decision"]["verdicts"]}
    assert gates == {"latency", "cost", "errors", "refusals", "output_length", "feedback"}
    assert info["decision"]["srm"]["outcome"] in ("PASS", "NODATA")
    assert [e["kind"] for e in info["events"]] == ["started"]
    assert info["policy"]["owned"]
    assert info["policy"]["route"]["candidate_bp"] == 2000


def test_status_of_a_finished_rollout_shows_the_evidence_it_ended_on() -> None:
    store = registered(SQLiteStore(":memory:"))
    clock = FakeClock(T0)
    ops.start_rollout(store, make_spec(candidate="pricey"), actor="a", now=clock(), rollout_id="r1")
    traffic = Traffic(store, "chat")
    service = ControllerService(store, clock=clock)
    from llm_rollout.records import Arm

    for _ in range(4):
        traffic.send(clock(), clock.advance(5), 300, cost={Arm.BASELINE: 1e-4, Arm.CANDIDATE: 3e-4})
        service.run_pass()
    info = ops.status(store, "r1", now=clock())
    assert info["phase"] == "rolled_back"
    assert info["decision_source"].startswith("rolled_back event")
    failing = [v for v in info["decision"]["verdicts"] if v["outcome"] == "FAIL"]
    assert {v["gate"] for v in failing} == {"cost"}
    assert info["samples"]["candidate"] > 0
    assert info["next_check"] is None


def test_a_failed_start_does_not_block_the_model(store: SQLiteStore) -> None:
    class Broken:
        def __init__(self, inner: SQLiteStore) -> None:
            self.inner = inner
            self.calls = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def save_rollout(self, *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == 1:
                raise StoreError("disk on fire")
            return self.inner.save_rollout(*args, **kwargs)

    with pytest.raises(StoreError, match="disk on fire"):
        ops.start_rollout(Broken(store), make_spec(), actor="a", now=T0, rollout_id="r1")  # type: ignore[arg-type]
    row = store.get_rollout("r1")
    assert (row.active, row.state["phase"]) == (False, "aborted")
    assert store.policy_version() == 0
    ops.start_rollout(store, make_spec(), actor="a", now=T0 + 1, rollout_id="r2")


def test_route_of_follows_the_set_route_action() -> None:
    from llm_rollout.controller import SetRoute

    spec = make_spec()
    pinned = spec.model_copy(update={"baseline": BASE.ref, "candidate": CAND.ref})
    route = ops.route_of("r9", pinned, SetRoute(500, 0.25, "shadow", 3))
    assert route == Route(
        BASE.digest, CAND.digest, 500, 0.25, rollout_id="r9", step=3, phase="shadow", salt="r9"
    )
    with pytest.raises(RegistryError, match="not pinned"):
        ops.route_of("r9", spec, SetRoute(500, 0.0, "canary", 3))


def test_a_route_save_merges_into_the_newest_policy_in_its_transaction(store: SQLiteStore) -> None:
    from llm_rollout.errors import InvalidDataError

    store.create_rollout("r1", "a", {}, {"phase": "x"}, T0)
    other = {"baseline": BASE.digest, "candidate_bp": 0}
    store.publish_policy({"routes": {"b": other}, "note": "kept"}, "someone", "b first", T0)
    mine = {"baseline": BASE.digest, "candidate": CAND.digest, "candidate_bp": 100}
    store.save_rollout("r1", {"phase": "y"}, 1, True, T0 + 1, route=("a", mine, "me", "step"))
    newest = store.current_policy()
    assert newest is not None
    assert newest.doc == {"routes": {"a": mine, "b": other}, "note": "kept"}
    assert (newest.version, newest.actor, newest.reason, newest.time) == (2, "me", "step", T0 + 1)
    # a lost compare-and-swap publishes nothing
    with pytest.raises(ConflictError):
        store.save_rollout("r1", {"phase": "z"}, 1, True, T0 + 2, route=("a", {}, "me", "late"))
    assert store.policy_version() == 2
    with pytest.raises(InvalidDataError, match="not both"):
        store.save_rollout(
            "r1", {}, 2, True, T0, policy=({}, "me", "x"), route=("a", mine, "me", "x")
        )
    assert store.get_rollout("r1").revision == 2
