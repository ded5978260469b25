"""Crash tests over real processes: SIGKILL of the leading controller again and again while a
rollout runs (a standby takes over, nothing is done twice or lost), SIGKILL of a gateway in the
middle of a stream, and a clean gateway shutdown that must not lose a single record."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from ops_helpers import (
    MESSAGES,
    LiveTraffic,
    Mocks,
    Proc,
    check_agreement,
    integrity_ok,
    model_def,
    run_cli,
    start_controller,
    start_gateway,
    wait_until,
    write_yaml,
)

from llm_rollout.records import Role
from llm_rollout.store.sqlite import SQLiteStore

LEASE_TTL = 1.0
# uvicorn finishes its graceful shutdown, then re-raises the SIGTERM it caught
CLEAN_EXIT = (0, -signal.SIGTERM)
STEP = {"min_dwell": 1.5, "min_samples": 30, "max_dwell": 60}


@dataclass
class Site:
    root: Path
    home: Path
    store: SQLiteStore
    logs: Path


@pytest.fixture
def site(mocks: Mocks, logs: Path, tmp_path: Path) -> Iterator[Site]:
    home = tmp_path / "home"
    models = write_yaml(
        tmp_path / "models.yaml",
        {
            "models": [
                model_def("base", mocks.port("fast"), "base-m"),
                model_def("cand", mocks.port("fast"), "cand-m"),
                model_def("slow", mocks.port("slow"), "slow-m"),
            ]
        },
    )
    assert run_cli(home, "models", "add", str(models)).returncode == 0
    store = SQLiteStore(home / "store.db")
    yield Site(tmp_path, home, store, logs)
    store.close()
    assert integrity_ok(home / "store.db")


def start_rollout(site: Site, name: str, **fields: object) -> None:
    spec = {
        "name": name,
        "baseline": "base",
        "candidate": "cand",
        "check_interval": 0.2,
        "alpha": 0.001,
        "require": "no-breach",
        "gates": {"srm": {"min_samples": 100}},
        **fields,
    }
    done = run_cli(
        site.home, "start", str(write_yaml(site.root / f"{name}.yaml", spec)), "--id", name
    )
    assert done.returncode == 0, done.stderr


def lease_holder(db: Path) -> str | None:
    conn = sqlite3.connect(db, timeout=5)
    try:
        row = conn.execute(
            "SELECT holder, expires FROM leases WHERE name = 'controller'"
        ).fetchone()
    finally:
        conn.close()
    return None if row is None or row[1] <= time.time() else str(row[0])


def test_killing_the_leading_controller_never_loses_or_repeats_a_step(site: Site) -> None:
    gateway = start_gateway(site.home, site.logs)
    controllers = {
        name: start_controller(site.home, site.logs, holder=name, lease_ttl=LEASE_TTL, poll=0.05)
        for name in ("c0", "c1")
    }
    traffic = None
    kills: list[dict[str, object]] = []
    try:
        gateway.wait_ready()
        start_rollout(
            site,
            "crash",
            shadow={"sample": 1.0, "min_duration": 1.0, "min_samples": 20},
            steps=[{"weight": w, **STEP} for w in (20, 50, 100)],
        )
        traffic = LiveTraffic(gateway, "crash").start()
        rng = random.Random(5)
        deadline = time.monotonic() + 60
        serial = len(controllers)
        while site.store.get_rollout("crash").active:
            assert time.monotonic() < deadline, f"rollout stuck: {site.store.get_rollout('crash')}"
            time.sleep(rng.uniform(0.3, 0.9))
            leader = lease_holder(site.home / "store.db")
            if leader is None or leader not in controllers:
                continue
            before = site.store.get_rollout("crash")
            killed_at = time.monotonic()
            controllers.pop(leader).kill()
            dead_since = time.time()
            # the standby takes over within a lease period (plus a pass)
            new = wait_until(
                lambda killed=leader: (h := lease_holder(site.home / "store.db")) != killed and h,
                LEASE_TTL + 2,
                "a standby to take the lease",
                every=0.01,
            )
            kills.append(
                {
                    "killed": leader,
                    "dead_since": dead_since,
                    "takeover_s": time.monotonic() - killed_at,
                    "new": new,
                    "phase": before.state["phase"],
                    "step": before.state["step"],
                }
            )
            name = f"c{serial}"
            serial += 1
            controllers[name] = start_controller(
                site.home, site.logs, holder=name, lease_ttl=LEASE_TTL, poll=0.05
            )
    finally:
        if traffic is not None:
            traffic.stop()
        for proc in (gateway.proc, *controllers.values()):
            proc.stop()
    story = check_agreement(site.store, "crash", "crash")
    assert [(e.kind, e.data["step"]) for e in story["events"]] == [
        ("started", -1),
        ("step_advanced", 0),
        ("step_advanced", 1),
        ("step_advanced", 2),
        ("promoted", 2),
    ]
    assert len(kills) >= 3, kills
    assert all(k["takeover_s"] < LEASE_TTL + 1.5 for k in kills), kills
    deciders = {e.data["controller"] for e in story["events"][1:]}
    assert len(deciders) >= 2, f"one controller did everything: {deciders}, kills {kills}"
    for kill in kills:  # a killed controller never acted after its death
        acted = [e.time for e in story["events"][1:] if e.data["controller"] == kill["killed"]]
        assert all(t < float(kill["dead_since"]) for t in acted), (kill, acted)  # type: ignore[arg-type]
    print(f"controller kills: {json.dumps(kills)}")


def _wait_promoted(store: SQLiteStore, name: str, timeout: float) -> None:
    wait_until(lambda: store.get_rollout(name).state["phase"] == "promoted", timeout, "promotion")


def test_a_gateway_killed_mid_stream_restarts_and_a_clean_shutdown_loses_nothing(
    site: Site,
) -> None:
    controller = start_controller(site.home, site.logs, lease_ttl=LEASE_TTL, poll=0.05)
    gateway = start_gateway(site.home, site.logs)
    procs: list[Proc] = [controller, gateway.proc]
    traffic = None
    try:
        gateway.wait_ready()
        start_rollout(
            site,
            "gw",
            shadow={"enabled": False},
            steps=[{"weight": 50, **{**STEP, "min_dwell": 3}}, {"weight": 100, **STEP}],
        )
        traffic = LiveTraffic(gateway, "gw").start()
        wait_until(lambda: traffic.served["candidate"] >= 20, 20, "candidate traffic")
        # a long stream is in flight when the gateway dies
        with gateway.client() as client:
            stream = client.chat.completions.create(model="slow", messages=MESSAGES, stream=True)
            first = next(iter(stream))
            assert first.choices[0].delta.role == "assistant"
            gateway.proc.signal(signal.SIGKILL)
            gateway.proc.popen.wait()
            with pytest.raises((openai.APIError, httpx.HTTPError)):
                for _ in stream:
                    pass
        assert integrity_ok(site.home / "store.db")
        state = site.store.get_rollout("gw").state
        assert state["phase"] in ("canary", "promoted")
        restarted_at = time.time()
        gateway = start_gateway(site.home, site.logs, port=gateway.port)
        procs.append(gateway.proc)
        gateway.wait_ready()
        assert gateway.ready_version() == site.store.policy_version()  # the same policy
        traffic.gateway = gateway  # same URL; the loop keeps going (errors while it was down)
        _wait_promoted(site.store, "gw", 30)
        traffic.stop()
        completed = [rid for rid, _, end in traffic.completed if end > restarted_at + 0.5]
        assert gateway.proc.stop() in CLEAN_EXIT  # clean shutdown: flushes every record
        stored = {r.request_id for r in site.store.read_records("gw") if r.role is Role.SERVE}
        assert completed
        assert set(completed) <= stored
        # a gateway that buffers for 10 s: every record is written at shutdown, none lost
        lazy = start_gateway(
            site.home, site.logs, record_flush_interval=10, record_batch_size=100_000
        )
        procs.append(lazy.proc)
        lazy.wait_ready()
        ids = []
        with lazy.client() as client:
            for _ in range(40):
                raw = client.chat.completions.with_raw_response.create(
                    model="gw", messages=MESSAGES
                )
                ids.append(raw.headers["x-request-id"])
        stored = {r.request_id for r in site.store.read_records("gw")}
        assert not set(ids) & stored, "the records were expected to be still buffered"
        assert lazy.proc.stop() in CLEAN_EXIT
        stored = {r.request_id for r in site.store.read_records("gw")}
        assert set(ids) <= stored
        check_agreement(site.store, "gw", "gw")
        # a stopped controller exits cleanly and gives its lease up for the next one
        assert controller.stop() == 0
        assert lease_holder(site.home / "store.db") is None
    finally:
        if traffic is not None:
            traffic.stop()
        for proc in procs:
            proc.stop()
