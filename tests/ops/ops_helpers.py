"""Helpers of the operations tests.

In-process builders (models, specs, synthetic traffic written straight into a real SQLite
store), and the end-to-end harness: real ``llm-rollout`` processes (``mock-model``, ``serve``,
``control`` and the operator commands) over loopback, with traffic sent by the official
``openai`` client and the store file read to check what happened.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import yaml

from llm_rollout.policy import BUCKETS, Policy, Route
from llm_rollout.records import Arm, Feedback, RequestRecord, Role, Status
from llm_rollout.registry import ModelVersion
from llm_rollout.spec import RolloutSpec, parse_spec
from llm_rollout.store.base import Event
from llm_rollout.store.sqlite import SQLiteStore

T0 = 1_700_000_000.0


def model(name: str, upstream: str = "m", price: float = 1.0) -> ModelVersion:
    return ModelVersion(
        name=name,
        endpoint="http://127.0.0.1:9/v1",
        upstream_model=upstream,
        prices={"input": price, "output": 2 * price},
    )


BASE = model("base", "base-m")
CAND = model("cand", "cand-m")
PRICEY = model("pricey", "cand-m", price=3.0)

STEP = {"min_dwell": 10, "min_samples": 50, "max_dwell": 600}


def make_spec(name: str = "chat", candidate: str = "cand", **fields: Any) -> RolloutSpec:
    """No shadow, steps 20% -> 50% -> 100% (10 s dwell, 50 samples), checks every 5 s."""
    doc: dict[str, Any] = {
        "name": name,
        "baseline": "base",
        "candidate": candidate,
        "shadow": {"enabled": False},
        "steps": [{"weight": w, **STEP} for w in (20, 50, 100)],
        "check_interval": 5,
        "require": "no-breach",
        "gates": {"srm": {"min_samples": 100}},
    }
    doc.update(fields)
    return parse_spec(doc)


def registered(store: SQLiteStore) -> SQLiteStore:
    for version in (BASE, CAND, PRICEY):
        store.put_model(version)
    return store


def current_route(store: SQLiteStore, model_name: str) -> Route | None:
    current = store.current_policy()
    if current is None:
        return None
    return Policy.from_doc(current.version, current.doc).routes.get(model_name)


class Traffic:
    """Served (and shadow) records for a rollout as the gateway would write them: the arm drawn
    from the published route, tagged with its rollout id, step and policy version."""

    def __init__(self, store: SQLiteStore, model_name: str, seed: int = 1) -> None:
        self.store = store
        self.model = model_name
        self.rng = random.Random(seed)
        self.n = 0

    def send(
        self,
        start: float,
        end: float,
        count: int,
        *,
        cost: dict[Arm, float] | None = None,
        refuse: dict[Arm, float] | None = None,
        thumbs_down: dict[Arm, float] | None = None,
    ) -> list[RequestRecord]:
        current = self.store.current_policy()
        assert current is not None
        route = Policy.from_doc(current.version, current.doc).routes[self.model]
        out: list[RequestRecord] = []
        negative: list[str] = []
        for i in range(count):
            self.n += 1
            t = start + (end - start) * i / count
            cand = route.candidate_bp > 0 and self.rng.randrange(BUCKETS) < route.candidate_bp
            roles = [(Arm.CANDIDATE if cand else Arm.BASELINE, Role.SERVE)]
            if not cand and route.shadow_sample > 0 and self.rng.random() < route.shadow_sample:
                roles.append((Arm.CANDIDATE, Role.SHADOW))
            for arm, role in roles:
                rec = RequestRecord(
                    request_id=f"r{self.n}",
                    time=t,
                    rollout_id=route.rollout_id or "",
                    step=route.step,
                    arm=arm,
                    role=role,
                    model_digest=route.candidate if arm is Arm.CANDIDATE else route.baseline,
                    status=Status.OK,
                    http_status=200,
                    latency_ms=100 + self.rng.random() * 10,
                    prompt_tokens=50,
                    completion_tokens=9,
                    cost_usd=(cost or {}).get(arm, 1e-4),
                    refused=self.rng.random() < (refuse or {}).get(arm, 0.0),
                    policy_version=current.version,
                )
                out.append(rec)
                if role is Role.SERVE and self.rng.random() < (thumbs_down or {}).get(arm, 0.0):
                    negative.append(rec.request_id)
        self.store.append_records(out)
        for rid in negative:
            assert self.store.append_feedback(Feedback(rid, end, -1.0))
        return out


BIN = str(Path(sys.executable).with_name("llm-rollout"))
MESSAGES = [{"role": "user", "content": "Say hello"}]
FAST = {
    "latency_ms": 4,
    "latency_sigma": 0.1,
    "ttft_ms": 2,
    "ttft_sigma": 0,
    "prompt_tokens": 50,
    "completion_tokens": 9,  # the length of the mock's refusal: refusals keep the shape
    "completion_sigma": 0,
    "error_rate": 0,
    "refusal_rate": 0,
}
PROFILES: dict[str, dict[str, float]] = {
    "fast": FAST,
    "refusing": {**FAST, "refusal_rate": 0.5},
    "slow": {**FAST, "latency_ms": 4000, "latency_sigma": 0, "ttft_ms": 10},
}
PRICES = {"input": 1.0, "output": 2.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    hdrs = {"content-type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        with err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except (OSError, sqlite3.Error):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


# --- processes ------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.popen.pid, sig)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait (SIGKILL if it does not exit in time); returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.popen.wait()

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def spawn(name: str, args: list[str], logs: Path, env: dict[str, str] | None = None) -> Proc:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [BIN, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    return Proc(name, popen, log)


def run_cli(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """One operator command as its own process; never raises on a non-zero exit."""
    return subprocess.run(
        [BIN, *args, "--home", str(home)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def cli_json(home: Path, *args: str) -> Any:
    done = run_cli(home, *args, "--json")
    assert done.returncode == 0, f"llm-rollout {' '.join(args)} failed:\n{done.stderr}"
    return json.loads(done.stdout)


def start_mock(name: str, logs: Path) -> tuple[Proc, int]:
    port = free_port()
    proc = spawn(
        f"mock-{name}",
        [
            "mock-model",
            "--port",
            str(port),
            "--seed",
            "7",
            "--model-id",
            name,
            "--profile",
            json.dumps(PROFILES[name]),
        ],
        logs,
    )
    return proc, port


def wait_mock(proc: Proc, port: int) -> None:
    def up() -> bool:
        assert proc.alive(), f"{proc.name} exited:\n{proc.tail()}"
        return http("GET", f"http://127.0.0.1:{port}/v1/models")[0] == 200

    wait_until(up, 30, proc.name)


def start_gateway(home: Path, logs: Path, port: int | None = None, **config: Any) -> Gateway:
    port = port or free_port()
    cfg = home.parent / f"gateway-{port}.yaml"
    cfg.write_text(yaml.safe_dump({"seed": 11, **config}))
    proc = spawn(
        f"gateway-{port}",
        ["serve", "--home", str(home), "--port", str(port), "--config", str(cfg)],
        logs,
    )
    return Gateway(proc, f"http://127.0.0.1:{port}", port, home, config)


def start_controller(
    home: Path,
    logs: Path,
    *,
    holder: str = "c1",
    lease_ttl: float = 1.0,
    poll: float = 0.1,
    admin_port: int | None = None,
    token: str | None = None,
) -> Proc:
    args = ["control", "--home", str(home), "--lease-ttl", str(lease_ttl), "--poll", str(poll)]
    args += ["--holder", holder]
    env = {}
    if admin_port is not None:
        args += ["--admin-port", str(admin_port), "--admin-token-env", "ADMIN_TOKEN"]
        env["ADMIN_TOKEN"] = token or ""
    return spawn(f"controller-{holder}", args, logs, env)


@dataclass
class Gateway:
    proc: Proc
    url: str
    port: int
    home: Path
    config: dict[str, Any]

    def ready_version(self) -> int:
        status, body = http("GET", self.url + "/readyz")
        return int(body["policy_version"]) if status == 200 else -1

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            assert self.proc.alive(), f"{self.proc.name} exited:\n{self.proc.tail()}"
            return self.ready_version() >= 0

        wait_until(ready, timeout, self.proc.name)

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0, timeout=10)


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def model_def(name: str, port: int, upstream: str, prices: dict[str, float] = PRICES) -> dict:
    return {
        "name": name,
        "endpoint": f"http://127.0.0.1:{port}/v1",
        "upstream_model": upstream,
        "prices": prices,
    }


# --- traffic --------------------------------------------------------------------------------


@dataclass
class LiveTraffic:
    """Chat requests in a loop on a thread, with the openai client; per-request arm draw (no
    sticky key). ``thumbs_down`` maps an arm to the probability of posting a rating of -1."""

    gateway: Gateway
    model: str
    thumbs_down: dict[str, float] = field(default_factory=dict)
    seed: int = 1
    served: dict[str, int] = field(default_factory=lambda: {"baseline": 0, "candidate": 0})
    completed: list[tuple[str, str, float]] = field(default_factory=list)  # (id, arm, end)
    errors: int = 0
    thumbs_down_sent: int = 0
    feedback_errors: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"traffic-{self.model}")
        self._rng = random.Random(self.seed)

    def start(self) -> LiveTraffic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        with self.gateway.client() as client:
            while not self._stop.is_set():
                try:
                    raw = client.chat.completions.with_raw_response.create(
                        model=self.model, messages=MESSAGES, max_tokens=16
                    )
                    raw.parse()
                except openai.OpenAIError:
                    self.errors += 1
                    time.sleep(0.01)
                    continue
                arm, rid = raw.headers["x-rollout-arm"], raw.headers["x-request-id"]
                self.served[arm] += 1
                self.completed.append((rid, arm, time.time()))
                if self._rng.random() < self.thumbs_down.get(arm, 0.0):
                    status, _ = http(
                        "POST", self.gateway.url + "/v1/feedback", {"request_id": rid, "rating": -1}
                    )
                    if status == 200:
                        self.thumbs_down_sent += 1
                    else:
                        self.feedback_errors += 1


# --- what the store says --------------------------------------------------------------------


def rollout_state(store: SQLiteStore, rollout_id: str) -> dict[str, Any]:
    return store.get_rollout(rollout_id).state


def transitions(store: SQLiteStore, rollout_id: str) -> list[Event]:
    return [e for e in store.events(rollout_id, limit=100_000) if e.kind != "warning"]


def check_agreement(store: SQLiteStore, rollout_id: str, model: str) -> dict[str, Any]:
    """Audit log, policy versions and records must tell the same story; returns a summary.

    - every transition event has exactly one policy version (same time, actor, phase, step and
      weight) routing this rollout, in the same order, and nothing else published its route;
    - no step is entered twice (no double advance) and steps never go backwards;
    - the stored state is where the last event went;
    - every record was routed by a policy version whose route for ``model`` belongs to this
      rollout, at the step the record carries; candidate-served records only under a weight
      > 0, shadow records only under a shadow sample > 0.
    """
    row = store.get_rollout(rollout_id)
    moves = transitions(store, rollout_id)
    history = list(reversed(store.policy_history(100_000)))
    routes: dict[int, Route | None] = {
        v.version: Policy.from_doc(v.version, v.doc).routes.get(model) for v in history
    }
    own = []
    previous: Route | None = None
    for v in history:
        route = routes[v.version]
        if route is not None and route.rollout_id == rollout_id and route != previous:
            own.append((v, route))
        previous = route
    assert len(own) == len(moves), (
        f"{len(moves)} transitions but {len(own)} policy versions: "
        f"{[e.kind for e in moves]} vs {[r.phase for _, r in own]}"
    )
    for event, (version, route) in zip(moves, own, strict=True):
        data = event.data
        assert version.time == event.time, (event, version)
        assert version.actor == data["actor"], (event, version)
        assert (route.phase, route.step, route.candidate_bp) == (
            data["to"],
            data["step"],
            data["candidate_bp"],
        ), (event, route)
        assert route.salt == rollout_id
    entered = [(e.data["to"], e.data["step"]) for e in moves if e.kind == "step_advanced"]
    assert len(entered) == len(set(entered)), f"a step was entered twice: {entered}"
    steps = [e.data["step"] for e in moves]
    assert steps == sorted(steps), f"steps went backwards: {steps}"
    assert row.state["phase"] == moves[-1].data["to"]
    records = store.read_records(rollout_id)
    for r in records:
        route = routes.get(r.policy_version)
        assert route is not None, r
        assert route.rollout_id == rollout_id, (r, route)
        assert r.step == route.step, (r, route)
        if r.role is Role.SHADOW:
            assert route.shadow_sample > 0, (r, route)
        elif r.arm is Arm.CANDIDATE:
            assert route.candidate_bp > 0, (r, route)
    return {"events": moves, "policy": own, "records": records, "state": row.state}


def integrity_ok(db: Path) -> bool:
    conn = sqlite3.connect(db)
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()


@dataclass
class Mocks:
    ports: dict[str, int]
    procs: list[Proc]

    def port(self, name: str) -> int:
        return self.ports[name]
