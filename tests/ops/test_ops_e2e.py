"""End to end over real processes and loopback HTTP: mock models, two gateways (one of them
deliberately mis-weighted), the controller with its admin API, operator commands as processes,
and traffic from the official openai client.

Six rollouts run at once against one store, each on its own logical model, with compressed
time (checks every 0.5 s, dwells of 1.5 s): an A/A rollout that promotes, one halted on cost
(in shadow, before any user saw the candidate), one on refusals, one on thumbs-down feedback,
one paused by a sample-ratio mismatch, and one rolled back by an operator. The scenario fixture
runs them all; each test then checks one outcome, and that the store's audit log, policy
versions and records agree with it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ops_helpers import (
    Gateway,
    LiveTraffic,
    Mocks,
    Proc,
    check_agreement,
    cli_json,
    free_port,
    http,
    integrity_ok,
    model_def,
    run_cli,
    start_controller,
    start_gateway,
    transitions,
    wait_until,
    write_yaml,
)

from llm_rollout.records import Arm, Role
from llm_rollout.store.sqlite import SQLiteStore

TOKEN = "admin-secret-token"
DEADLINE = 60.0  # seconds for every scenario to reach its end; each needs 3-15
# `require: no-breach` below: with tens of samples per arm the rate gates' intervals are still
# wider than their floors, so an A/A step cannot PASS them yet; it advances when nothing FAILs.
FAST_STEP = {"min_dwell": 1.5, "min_samples": 30, "max_dwell": 60}
HOLD_STEP = {"min_dwell": 120, "min_samples": 30, "max_dwell": 600}  # never completes here
NO_SHADOW = {"enabled": False}


def spec(name: str, baseline: str, candidate: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "logical_model": name,
        "baseline": baseline,
        "candidate": candidate,
        "check_interval": 0.5,
        "alpha": 0.001,  # A/A scenarios must not false-alarm; the regressions are large
        "require": "no-breach",
        "gates": {"srm": {"min_samples": 100}},
        **fields,
    }


SPECS = {
    "aa": spec(
        "aa",
        "base",
        "aa-cand",
        shadow={"sample": 1.0, "min_duration": 1.5, "min_samples": 30},
        steps=[
            {"weight": 20, **FAST_STEP},
            {"weight": 50, **FAST_STEP},
            {"weight": 100, **FAST_STEP},
        ],
    ),
    "cost": spec(
        "cost",
        "base",
        "cost-cand",
        shadow={"sample": 1.0, "min_duration": 120, "min_samples": 30},
        steps=[{"weight": 20, **HOLD_STEP}, 100],
    ),
    "refusals": spec(
        "refusals",
        "base",
        "refusing-cand",
        shadow=NO_SHADOW,
        steps=[{"weight": 30, **HOLD_STEP}, 100],
    ),
    "feedback": spec(
        "feedback",
        "base",
        "aa-cand",
        shadow=NO_SHADOW,
        steps=[{"weight": 30, **HOLD_STEP}, 100],
    ),
    "srm": spec(
        "srm", "base", "aa-cand", shadow=NO_SHADOW, steps=[{"weight": 10, **HOLD_STEP}, 100]
    ),
    "operator": spec(
        "operator",
        "base",
        "aa-cand",
        shadow=NO_SHADOW,
        steps=[{"weight": 20, **HOLD_STEP}, 50, 100],
    ),
}
FINAL = {
    "aa": "promoted",
    "cost": "rolled_back",
    "refusals": "rolled_back",
    "feedback": "rolled_back",
    "srm": "paused",
    "operator": "rolled_back",
}


@dataclass
class Cluster:
    home: Path
    store: SQLiteStore
    gateway: Gateway
    skewed: Gateway
    controller: Proc
    admin: str
    procs: list[Proc] = field(default_factory=list)


@dataclass
class Outcome:
    name: str
    phase: str | None = None
    traffic: LiveTraffic | None = None
    rollback: dict[str, float] = field(default_factory=dict)
    failure: str | None = None


@pytest.fixture(scope="module")
def cluster(
    mocks: Mocks, logs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("e2e")
    home = root / "home"
    fast, refusing = mocks.port("fast"), mocks.port("refusing")
    models = write_yaml(
        root / "models.yaml",
        {
            "models": [
                model_def("base", fast, "base-m"),
                model_def("aa-cand", fast, "cand-m"),
                model_def("cost-cand", fast, "cand-m", {"input": 3.0, "output": 6.0}),
                model_def("refusing-cand", refusing, "cand-m"),
            ]
        },
    )
    added = run_cli(home, "models", "add", str(models))
    assert added.returncode == 0, added.stderr
    gateway = start_gateway(home, logs)
    skewed = start_gateway(home, logs, test_skew_candidate_bp=3000)
    admin_port = free_port()
    controller = start_controller(home, logs, admin_port=admin_port, token=TOKEN)
    procs = [gateway.proc, skewed.proc, controller]
    store = SQLiteStore(home / "store.db")
    try:
        gateway.wait_ready()
        skewed.wait_ready()
        admin = f"http://127.0.0.1:{admin_port}"
        wait_until(lambda: http("GET", admin + "/healthz")[0] == 200, 30, "admin API")
        yield Cluster(home, store, gateway, skewed, controller, admin, procs)
    finally:
        for proc in procs:
            proc.stop()
        store.close()
    assert integrity_ok(home / "store.db")


def _operator_rollback(c: Cluster, out: Outcome) -> None:
    """Wait until the canary serves the candidate, then roll back from the command line, while
    a watcher polls both gateways' /readyz every few ms and notes when each first routes by
    the committed rollback policy."""
    traffic = out.traffic
    assert traffic is not None
    wait_until(lambda: traffic.served["candidate"] >= 40, 30, "candidate traffic")
    seen: dict[str, list[tuple[float, int]]] = {"gateway": [], "skewed": []}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for name, gw in (("gateway", c.gateway), ("skewed", c.skewed)):
                seen[name].append((time.time(), gw.ready_version()))
            stop.wait(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        t0 = time.time()
        done = run_cli(
            c.home, "rollback", "operator", "--reason", "bad vibes", "--actor", "alice", "--json"
        )
        t1 = time.time()
        assert done.returncode == 0, done.stderr
        version = json.loads(done.stdout)["policy_version"]
        for gw in (c.gateway, c.skewed):
            wait_until(lambda gw=gw: gw.ready_version() >= version, 5, "rollback policy")
    finally:
        stop.set()
        watcher.join()
    # The wait above may see the new policy before the watcher's next poll (they are 2 ms
    # apart); one more poll of each gateway, now, bounds the applied time from above.
    for name, gw in (("gateway", c.gateway), ("skewed", c.skewed)):
        seen[name].append((time.time(), gw.ready_version()))
    out.rollback = {"cli_started": t0, "cli_returned": t1}
    for name, polls in seen.items():
        out.rollback[f"{name}_applied"] = min(t for t, v in polls if v >= version)


@pytest.fixture(scope="module")
def scenarios(cluster: Cluster) -> dict[str, Outcome]:
    c = cluster
    outcomes = {name: Outcome(name) for name in SPECS}

    def start(name: str) -> None:
        path = write_yaml(c.home.parent / f"{name}.yaml", SPECS[name])
        info = cli_json(c.home, "start", str(path), "--id", name, "--actor", "tester")
        assert info["rollout"] == name

    with ThreadPoolExecutor(len(SPECS)) as pool:
        list(pool.map(start, SPECS))
    thumbs = {"feedback": {"candidate": 0.5, "baseline": 0.02}}
    for name, out in outcomes.items():
        gw = c.skewed if name == "srm" else c.gateway
        out.traffic = LiveTraffic(
            gw, name, thumbs_down=thumbs.get(name, {}), seed=len(name)
        ).start()
    operator = threading.Thread(target=_operator_rollback, args=(c, outcomes["operator"]))
    operator.start()
    deadline = time.monotonic() + DEADLINE
    try:
        pending = set(SPECS)
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                phase = c.store.get_rollout(name).state["phase"]
                if phase in ("promoted", "rolled_back", "aborted", "paused"):
                    outcomes[name].phase = phase
                    pending.discard(name)
            time.sleep(0.1)
        for name in pending:
            outcomes[name].failure = f"still {c.store.get_rollout(name).state['phase']}"
    finally:
        operator.join(30)
        for out in outcomes.values():
            assert out.traffic is not None
            out.traffic.stop()
    # Every completed request must reach the store (the writer flushes every 100 ms).
    for out in outcomes.values():
        assert out.traffic is not None
        ids = {rid for rid, _, _ in out.traffic.completed}

        def landed(ids: set[str] = ids, name: str = out.name) -> bool:
            stored = {r.request_id for r in c.store.read_records(name) if r.role is Role.SERVE}
            return ids <= stored

        wait_until(landed, 5, f"records of {out.name}")
    return outcomes


def _outcome(scenarios: dict[str, Outcome], name: str) -> Outcome:
    out = scenarios[name]
    assert out.failure is None, f"{name}: {out.failure}"
    assert out.phase == FINAL[name], f"{name} ended {out.phase}, expected {FINAL[name]}"
    return out


def _failing_gates(event_data: dict[str, Any]) -> set[str]:
    evidence = event_data["evidence"]
    gates = {v["gate"] for v in evidence["failing"]}
    gates |= {a["gate"] for a in evidence["alerts"] if a["outcome"] == "FAIL"}
    return gates


def test_aa_rollout_promotes_through_every_step(cluster: Cluster, scenarios: dict) -> None:
    _outcome(scenarios, "aa")
    story = check_agreement(cluster.store, "aa", "aa")
    kinds = [(e.kind, e.data["to"], e.data["step"]) for e in story["events"]]
    assert kinds == [
        ("started", "shadow", -1),
        ("step_advanced", "canary", 0),
        ("step_advanced", "canary", 1),
        ("step_advanced", "canary", 2),
        ("promoted", "promoted", 2),
    ]
    assert [r.candidate_bp for _, r in story["policy"]] == [0, 2000, 5000, 10_000, 10_000]
    assert story["events"][0].data["actor"] == "tester"
    records = story["records"]
    assert any(r.role is Role.SHADOW and r.step == -1 for r in records)
    for step in (0, 1, 2):
        arms = {r.arm for r in records if r.step == step and r.role is Role.SERVE}
        assert Arm.CANDIDATE in arms, f"step {step} served no candidate"
    assert not cluster.store.get_rollout("aa").active


def test_cost_regression_halts_in_shadow(cluster: Cluster, scenarios: dict) -> None:
    _outcome(scenarios, "cost")
    story = check_agreement(cluster.store, "cost", "cost")
    last = story["events"][-1]
    assert (last.kind, last.data["from"], last.data["actor"]) == (
        "rolled_back",
        "shadow",
        "controller",
    )
    assert "cost" in _failing_gates(last.data)
    # no user ever saw the candidate: it only got mirrored copies
    assert all(r.candidate_bp == 0 for _, r in story["policy"])
    served = [r for r in story["records"] if r.arm is Arm.CANDIDATE and r.role is Role.SERVE]
    assert served == []
    assert story["policy"][-1][1].shadow_sample == 0.0


def test_refusal_regression_rolls_back_the_canary(cluster: Cluster, scenarios: dict) -> None:
    _outcome(scenarios, "refusals")
    story = check_agreement(cluster.store, "refusals", "refusals")
    last = story["events"][-1]
    assert (last.kind, last.data["from"], last.data["from_step"]) == ("rolled_back", "canary", 0)
    assert "refusals" in _failing_gates(last.data)
    refused = [r for r in story["records"] if r.arm is Arm.CANDIDATE and r.refused]
    assert refused, "the candidate's refusals were recorded"
    assert story["policy"][-1][1].candidate_bp == 0


def test_thumbs_down_feedback_rolls_back_the_canary(cluster: Cluster, scenarios: dict) -> None:
    _outcome(scenarios, "feedback")
    story = check_agreement(cluster.store, "feedback", "feedback")
    last = story["events"][-1]
    assert (last.kind, last.data["from_step"]) == ("rolled_back", 0)
    assert _failing_gates(last.data) == {"feedback"}
    traffic = scenarios["feedback"].traffic
    assert traffic.thumbs_down_sent > 0
    assert traffic.feedback_errors == 0
    verdict = next(v for v in last.data["evidence"]["failing"] if v["gate"] == "feedback")
    assert verdict["lo"] > verdict["bound"]  # confidently beyond the bound


def test_misweighted_router_pauses_on_sample_ratio_mismatch(
    cluster: Cluster, scenarios: dict
) -> None:
    _outcome(scenarios, "srm")
    story = check_agreement(cluster.store, "srm", "srm")
    last = story["events"][-1]
    assert (last.kind, last.data["from"], last.data["step"]) == ("paused", "canary", 0)
    assert "sample ratio mismatch" in last.data["reason"]
    srm = last.data["evidence"]["decision"]["srm"]
    assert srm["outcome"] == "FAIL"
    assert srm["bound"] == pytest.approx(0.1)
    assert srm["lo"] > 0.1  # the router sent ~40% while the policy said 10%
    # pausing holds the split: the policy still says 10%, now labelled paused
    assert (story["policy"][-1][1].phase, story["policy"][-1][1].candidate_bp) == ("paused", 1000)


def test_operator_rollback_is_committed_and_applied_within_a_second(
    cluster: Cluster, scenarios: dict
) -> None:
    out = _outcome(scenarios, "operator")
    story = check_agreement(cluster.store, "operator", "operator")
    last = story["events"][-1]
    assert (last.kind, last.data["actor"], last.data["command"]) == (
        "rolled_back",
        "alice",
        "rollback",
    )
    assert "bad vibes" in last.data["reason"]
    route = story["policy"][-1][1]
    assert (route.candidate_bp, route.shadow_sample, route.phase) == (0, 0.0, "rolled_back")
    # commit -> applied: the event is stamped just before the transaction commits, so this
    # overstates the time every gateway replica took to route by the rollback policy
    applied = {name: out.rollback[f"{name}_applied"] - last.time for name in ("gateway", "skewed")}
    assert all(0 <= t < 1.0 for t in applied.values()), applied
    late = [
        r
        for r in story["records"]
        if r.arm is Arm.CANDIDATE and r.role is Role.SERVE and r.time > last.time + 1.0
    ]
    assert late == [], "candidate traffic more than a second after the rollback"
    cli = out.rollback["cli_returned"] - out.rollback["cli_started"]
    print(f"rollback: commit -> applied {applied} s; the rollback command took {cli:.3f} s")


def test_history_and_policy_commands_show_the_same_story(cluster: Cluster, scenarios: dict) -> None:
    history = cli_json(cluster.home, "history", "aa")
    assert [e["kind"] for e in history] == [e.kind for e in transitions(cluster.store, "aa")]
    versions = cli_json(cluster.home, "policy", "--history", "--limit", "1000")
    assert [v["version"] for v in versions] == sorted(
        (v["version"] for v in versions), reverse=True
    )
    current = cli_json(cluster.home, "policy")
    assert current["version"] == versions[0]["version"]
    assert current["doc"]["routes"]["aa"]["phase"] == "promoted"
    assert current["doc"]["routes"]["operator"]["candidate_bp"] == 0
    status = cli_json(cluster.home, "status", "srm")
    assert (status["phase"], status["paused_from"], status["weight"]) == ("paused", "canary", 10)
    assert status["samples"]["baseline"] >= 0
    assert status["decision"] is not None


def test_commands_on_a_finished_rollout_fail_and_change_nothing(
    cluster: Cluster, scenarios: dict
) -> None:
    before = (cluster.store.get_rollout("aa"), cluster.store.policy_version())
    for command in ("pause", "resume", "promote", "rollback", "abort"):
        done = run_cli(cluster.home, command, "aa")
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "already promoted" in done.stderr or "not paused" in done.stderr
        assert "Traceback" not in done.stderr
    assert (cluster.store.get_rollout("aa"), cluster.store.policy_version()) == before


def test_admin_api_requires_the_token(cluster: Cluster, scenarios: dict) -> None:
    url = cluster.admin
    assert http("GET", url + "/status")[0] == 401
    assert http("GET", url + "/status", headers={"authorization": "Bearer nope"})[0] == 403
    assert http("GET", url + "/status", headers={"authorization": f"Basic {TOKEN}"})[0] == 403
    assert http("POST", url + "/rollouts/srm/resume")[0] == 401
    wrong = {"authorization": "Bearer " + TOKEN[:-1] + "X"}
    assert http("POST", url + "/rollouts/srm/resume", headers=wrong)[0] == 403
    assert cluster.store.get_rollout("srm").state["phase"] == "paused"
    auth = {"authorization": f"Bearer {TOKEN}"}
    status, body = http("GET", url + "/status", headers=auth)
    assert status == 200
    assert {"srm"} <= {r["rollout"] for r in body["rollouts"]}
    assert http("POST", url + "/rollouts/aa/pause", headers=auth)[0] == 409  # finished
    assert http("POST", url + "/rollouts/nope/pause", headers=auth)[0] == 404
    status, body = http(
        "POST", url + "/rollouts/srm/abort", {"reason": "split broken", "actor": "bob"}, auth
    )
    assert status == 200
    assert body["phase"] == "aborted"
    event = transitions(cluster.store, "srm")[-1]
    assert (event.kind, event.data["actor"]) == ("aborted", "bob")
    check_agreement(cluster.store, "srm", "srm")
