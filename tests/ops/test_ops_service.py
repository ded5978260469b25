"""The controller service over a real store with a fake clock and synthetic records."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ops_helpers import T0, Traffic, check_agreement, current_route, make_spec, registered

from llm_rollout import operations as ops
from llm_rollout.controller import CommandKind
from llm_rollout.errors import StoreError
from llm_rollout.records import Arm
from llm_rollout.service import ControllerService
from llm_rollout.service.controller import LEASE_NAME
from llm_rollout.spec import RolloutSpec
from llm_rollout.store.sqlite import SQLiteStore
from llm_rollout.testing import FakeClock


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = registered(SQLiteStore(tmp_path / "store.db"))
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def drive(
    service: ControllerService,
    traffic: Traffic,
    clock: FakeClock,
    rollout: str,
    passes: int,
    per_pass: int = 200,
    **behaviour: Any,
) -> list[str]:
    """Traffic for 5 s, then a pass, ``passes`` times or until the rollout stops moving."""
    lines: list[str] = []
    for _ in range(passes):
        traffic.send(clock(), clock.advance(5), per_pass, **behaviour)
        lines += service.run_pass()
        if not traffic.store.get_rollout(rollout).active:
            break
    return lines


def test_an_aa_rollout_walks_every_step_to_promotion(store: SQLiteStore, clock: FakeClock) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=clock(), rollout_id="r1")
    service = ControllerService(store, clock=clock, holder="c1")
    drive(service, Traffic(store, "chat"), clock, "r1", passes=20)
    story = check_agreement(store, "r1", "chat")
    assert [(e.kind, e.data["step"]) for e in story["events"]] == [
        ("started", 0),
        ("step_advanced", 1),
        ("step_advanced", 2),
        ("promoted", 2),
    ]
    assert {e.data.get("controller") for e in story["events"][1:]} == {"c1"}
    # each step waited its 10 s dwell: checks at 5 s steps, so two or three checks per step
    times = [e.time for e in story["events"]]
    assert all(b - a >= 10 for a, b in itertools.pairwise(times))
    assert current_route(store, "chat").candidate_bp == 10_000  # type: ignore[union-attr]


def test_a_cost_regression_is_rolled_back_with_its_evidence(
    store: SQLiteStore, clock: FakeClock
) -> None:
    ops.start_rollout(store, make_spec(candidate="pricey"), actor="a", now=clock(), rollout_id="r1")
    service = ControllerService(store, clock=clock)
    cost = {Arm.BASELINE: 1e-4, Arm.CANDIDATE: 3e-4}
    lines = drive(service, Traffic(store, "chat"), clock, "r1", passes=10, cost=cost)
    story = check_agreement(store, "r1", "chat")
    last = story["events"][-1]
    assert (last.kind, last.data["from_step"]) == ("rolled_back", 0)
    assert [v["gate"] for v in last.data["evidence"]["failing"]] == ["cost"]
    assert any(line.startswith("ALERT rollout chat rolled_back") for line in lines)
    assert current_route(store, "chat").candidate_bp == 0  # type: ignore[union-attr]


def test_shadow_alerts_stop_the_rollout_before_any_user_sees_it(
    store: SQLiteStore, clock: FakeClock
) -> None:
    spec = make_spec(candidate="pricey", shadow={"sample": 1.0, "min_duration": 60})
    ops.start_rollout(store, spec, actor="a", now=clock(), rollout_id="r1")
    service = ControllerService(store, clock=clock)
    cost = {Arm.BASELINE: 1e-4, Arm.CANDIDATE: 3e-4}
    drive(service, Traffic(store, "chat"), clock, "r1", passes=10, cost=cost)
    last = check_agreement(store, "r1", "chat")["events"][-1]
    assert (last.kind, last.data["from"]) == ("rolled_back", "shadow")
    alerts = [a for a in last.data["evidence"]["alerts"] if a["outcome"] == "FAIL"]
    assert [a["gate"] for a in alerts] == ["cost"]


def test_the_ab_step_decides_with_the_ab_rule(store: SQLiteStore, clock: FakeClock) -> None:
    spec = make_spec(
        steps=[{"weight": 100, "min_dwell": 5, "min_samples": 10}],
        ab={"weight": 50, "duration": 20, "metric": "cost", "rule": "non-inferiority"},
    )
    ops.start_rollout(store, spec, actor="a", now=clock(), rollout_id="r1")
    service = ControllerService(store, clock=clock)
    drive(service, Traffic(store, "chat"), clock, "r1", passes=20)
    story = check_agreement(store, "r1", "chat")
    kinds = [(e.kind, e.data["to"]) for e in story["events"]]
    assert kinds == [("started", "canary"), ("step_advanced", "ab"), ("promoted", "promoted")]
    assert story["events"][-1].data["evidence"]["ab"]["outcome"] == "PASS"
    assert {r.step for r in story["records"]} == {0, 1}  # the A/B split has a step of its own


def test_a_check_runs_once_per_interval_and_never_twice_for_one_time(
    store: SQLiteStore, clock: FakeClock
) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=clock(), rollout_id="r1")
    service = ControllerService(store, clock=clock)
    assert service.run_pass() == []  # not due before check_interval
    clock.advance(5)
    assert len(service.run_pass()) == 1
    assert service.run_pass() == []
    restarted = ControllerService(store, clock=clock, holder=service.holder)
    assert restarted.run_pass() == []  # the stored last_check says it is done
    assert store.get_rollout("r1").state["checks"] == 1
    clock.advance(4.9)
    assert restarted.run_pass() == []
    clock.advance(0.1)
    assert len(restarted.run_pass()) == 1


def test_judge_every_overrides_the_check_interval(store: SQLiteStore, clock: FakeClock) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=clock(), rollout_id="r1")
    service = ControllerService(store, clock=clock, judge_every=1.0)
    clock.advance(1)
    assert len(service.run_pass()) == 1


def test_only_the_lease_holder_acts_and_a_standby_takes_over(
    store: SQLiteStore, clock: FakeClock
) -> None:
    ops.start_rollout(store, make_spec(), actor="a", now=clock(), rollout_id="r1")
    first = ControllerService(store, clock=clock, holder="first", lease_ttl=10)
    second = ControllerService(store, clock=clock, holder="second", lease_ttl=10)
    traffic = Traffic(store, "chat")
    traffic.send(clock(), clock.advance(5), 100)
    assert first.run_pass()
    assert first.leader
    traffic.send(clock(), clock.advance(5), 100)
    assert second.run_pass() == []
    assert not second.leader
    revision = store.get_rollout("r1").revision
    # the first dies without releasing; the second takes over once the lease has expired
    clock.advance(4.9)
    assert second.run_pass() == []
    assert store.get_rollout("r1").revision == revision
    clock.advance(0.1)
    assert second.run_pass()
    assert second.leader
    assert store.get_rollout("r1").revision == revision + 1
    assert first.run_pass() == []
    assert not first.leader
    # a stopped controller gives its lease up at once
    second.release()
    first.run_pass()
    assert first.leader


def test_a_crash_before_commit_loses_only_that_check(store: SQLiteStore, clock: FakeClock) -> None:
    class Crash(BaseException):
        pass

    class CrashingStore:
        def __init__(self, inner: SQLiteStore) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def save_rollout(self, *args: Any, **kwargs: Any) -> Any:
            raise Crash  # the process dies between judging and committing

    ops.start_rollout(store, make_spec(), actor="a", now=clock(), rollout_id="r1")
    Traffic(store, "chat").send(clock(), clock.advance(11), 400)
    before = (store.get_rollout("r1"), store.policy_history(), store.events("r1"))
    crashing = ControllerService(CrashingStore(store), clock=clock, holder="x")  # type: ignore[arg-type]
    with pytest.raises(Crash):
        crashing.run_pass()
    assert (store.get_rollout("r1"), store.policy_history(), store.events("r1")) == before
    # a restarted controller recomputes the same check from the same stored state and records
    clock.advance(1)  # the crashed lease is still held: wait it out
    clock.advance(5)
    lines = ControllerService(store, clock=clock, holder="y").run_pass()
    assert any("step_advanced" in line for line in lines)
    story = check_agreement(store, "r1", "chat")
    assert [e.kind for e in story["events"]] == ["started", "step_advanced"]


def test_a_check_that_races_an_operator_command_is_dropped(
    store: SQLiteStore, clock: FakeClock
) -> None:
    class PausingStore:
        """Pauses the rollout (as an operator would) between the window read and the save."""

        def __init__(self, inner: SQLiteStore) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def read_window(self, *args: Any) -> Any:
            window = self.inner.read_window(*args)
            ops.command(self.inner, "r1", CommandKind.PAUSE, actor="op", now=clock())
            return window

    ops.start_rollout(store, make_spec(), actor="a", now=clock(), rollout_id="r1")
    Traffic(store, "chat").send(clock(), clock.advance(11), 400)
    lines = ControllerService(PausingStore(store), clock=clock).run_pass()  # type: ignore[arg-type]
    assert any("changed while checking" in line for line in lines)
    story = check_agreement(store, "r1", "chat")
    assert [e.kind for e in story["events"]] == ["started", "paused"]


def test_a_paused_rollout_is_still_guarded(store: SQLiteStore, clock: FakeClock) -> None:
    ops.start_rollout(store, make_spec(candidate="pricey"), actor="a", now=clock(), rollout_id="r1")
    ops.command(store, "r1", CommandKind.PAUSE, actor="op", now=clock())
    cost = {Arm.BASELINE: 1e-4, Arm.CANDIDATE: 3e-4}
    drive(ControllerService(store, clock=clock), Traffic(store, "chat"), clock, "r1", 10, cost=cost)
    last = check_agreement(store, "r1", "chat")["events"][-1]
    assert (last.kind, last.data["from"]) == ("rolled_back", "paused")


def test_a_start_left_pending_is_completed_after_the_grace(
    store: SQLiteStore, clock: FakeClock
) -> None:
    spec: RolloutSpec = make_spec()
    pinned = spec.model_copy(
        update={
            "baseline": store.resolve_model("base").ref,
            "candidate": store.resolve_model("cand").ref,
        }
    )
    from llm_rollout.controller import initial_state

    store.create_rollout(
        "r1", "chat", pinned.model_dump(mode="json"), initial_state(clock()).to_dict(), clock()
    )
    service = ControllerService(store, clock=clock, lease_ttl=2)
    assert service.run_pass() == []
    clock.advance(2)
    assert service.run_pass() == ["r1: completed an interrupted start -> canary"]
    assert current_route(store, "chat").phase == "canary"  # type: ignore[union-attr]
    assert [e.kind for e in store.events("r1")] == ["started"]


def test_one_broken_rollout_does_not_stop_the_others(store: SQLiteStore, clock: FakeClock) -> None:
    ops.start_rollout(store, make_spec("one"), actor="a", now=clock(), rollout_id="r1")
    ops.start_rollout(store, make_spec("two"), actor="a", now=clock(), rollout_id="r2")
    row = store.get_rollout("r1")
    store.save_rollout("r1", {"phase": "nonsense"}, row.revision, True, clock())
    clock.advance(5)
    lines = ControllerService(store, clock=clock).run_pass()
    assert lines[0].startswith("r1: check failed: malformed rollout state")
    assert lines[1].startswith("r2: check 1 canary step 0")


def test_run_loops_until_stopped_and_releases_the_lease(store: SQLiteStore) -> None:
    ops.start_rollout(store, make_spec(check_interval=0.01), actor="a", now=T0, rollout_id="r1")
    service = ControllerService(store, holder="loop")
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop, 0.01))
    thread.start()
    deadline = time.monotonic() + 10
    while store.get_rollout("r1").state["checks"] < 3:
        assert time.monotonic() < deadline, "no checks ran"
        stop.wait(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert store.acquire_lease(LEASE_NAME, "other", 60, T0 + 1e9)  # released, not expired
    assert not service.leader


def test_store_errors_in_a_pass_are_survived(store: SQLiteStore) -> None:
    class Flaky:
        def __init__(self, inner: SQLiteStore) -> None:
            self.inner = inner
            self.fail = 2

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def acquire_lease(self, *args: Any) -> bool:
            if self.fail:
                self.fail -= 1
                raise StoreError("the store is locked")
            return self.inner.acquire_lease(*args)

    flaky = Flaky(store)
    service = ControllerService(flaky, holder="f")  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop, 0.01))
    thread.start()
    deadline = time.monotonic() + 10
    while not service.leader:
        assert time.monotonic() < deadline
        stop.wait(0.01)
    stop.set()
    thread.join(5)
    assert flaky.fail == 0


def test_bad_settings_are_refused(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="lease_ttl"):
        ControllerService(store, lease_ttl=0)
    with pytest.raises(ValueError, match="judge_every"):
        ControllerService(store, judge_every=-1)
