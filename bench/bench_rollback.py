"""Rollback propagation: two gateways on one SQLite store, under load, `llm-rollout rollback`.

One command (about two minutes for 20 trials)::

    python bench/bench_rollback.py [--trials 20] [--rate 200]

Setup, all on 127.0.0.1: a baseline and a candidate mock model (about 40 ms per answer, no
drawn errors, so any failed request is the system's fault), two gateway processes
(`llm-rollout serve`) on the same store, and a traffic generator sending OpenAI-client requests
to both gateways in turn, from 100,000 sticky users, 10% of them streamed.

Each trial starts a rollout that serves the candidate to 50% of users (no controller runs, so
nothing moves on its own), waits until both gateways route by it, sends load for a while, then
runs the real CLI, `llm-rollout rollback`, as a subprocess, and keeps the load on for
``--after`` seconds. From the answers the client saw (each carries ``x-rollout-arm``) it
measures:

- exit -> last answer: from the CLI's exit to the completion of the last answer served by the
  candidate (the target measure; 0 when the last one completed before the exit);
- commit -> last answer, and commit -> last start: from the commit of the rollback policy (seen
  by polling the store's policy version every 2 ms from another connection) to the last
  candidate answer's completion, and to the start of the last request the candidate still
  served. Requests in flight at the flip legitimately complete on
  the candidate (a gateway never moves a started request); a request *started* after the commit
  and served by the candidate shows a gateway that had not yet polled the new policy;
- commit -> /readyz: until both gateways report the new policy version (polled every 5 ms);
- failed requests: no answer, or an error answer, on either arm, at any time in the trial.

It prints a Markdown table (p50, p90, p100 over the trials) for docs/operations.md.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llm_rollout import operations as ops
from llm_rollout.demo import scenario as demo_scenario
from llm_rollout.demo.procs import Children, cli_argv, free_port, wait_http
from llm_rollout.demo.timing import rollback_timing
from llm_rollout.demo.traffic import TrafficGenerator
from llm_rollout.profile import ModelProfile
from llm_rollout.spec import RolloutSpec, parse_spec
from llm_rollout.store import Store, open_store

PROFILE = ModelProfile(
    latency_ms=800.0,
    latency_sigma=0.35,
    ttft_ms=250.0,
    ttft_sigma=0.3,
    completion_tokens=160.0,
    completion_sigma=0.5,
    error_rate=0.0,
    refusal_rate=0.0,
    drift=0.0,
)
SPEED = 0.05  # 800 ms -> 40 ms per answer
MODEL = demo_scenario.MODEL


@dataclass
class Trial:
    rollout: str
    cli_seconds: float  # the rollback process, start to exit
    commit_to_exit: float
    exit_to_last_answer: float
    commit_to_last_answer: float
    commit_to_last_start: float | None
    starts_after_commit: int
    answers_after_commit: int
    commit_to_readyz: float | None
    stamp_to_commit: float  # the time the CLI stamped on the policy -> its commit
    latencies: list[float]  # client-side seconds of each candidate answer in the trial
    requests: int
    candidate_answers: int
    failed: int
    skipped: int


def spec_for(baseline: str, candidate: str, trial: int) -> RolloutSpec:
    """A rollout that sits at 50% until rolled back (no controller runs in this benchmark)."""
    hold = {"min_dwell": "1h", "max_dwell": "2h", "min_samples": 1}
    return parse_spec(
        {
            "name": f"bench-rollback-{trial}",
            "baseline": baseline,
            "candidate": candidate,
            "logical_model": MODEL,
            "shadow": {"enabled": False},
            "steps": [{"weight": 50, **hold}, {"weight": 100, **hold}],
            "check_interval": "1h",
        },
        "benchmark spec",
    )


def readyz_version(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as resp:
            return int(json.loads(resp.read())["policy_version"])
    except (OSError, ValueError, KeyError):
        return -1


def wait_version(urls: list[str], version: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while any(readyz_version(u) < version for u in urls):
        if time.monotonic() > deadline:
            raise RuntimeError(f"gateways did not load policy version {version}")
        time.sleep(0.01)


class Watch:
    """Poll in a thread until every probe reports ``version``; remember when each first did."""

    def __init__(self, probes: dict[str, Callable[[], int]], version: int, every: float) -> None:
        self.probes, self.version, self.every = probes, version, every
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.seen) < len(self.probes):
            for name, probe in self.probes.items():
                if name not in self.seen and probe() >= self.version:
                    self.seen[name] = time.time()
            time.sleep(self.every)

    def stop(self) -> float | None:
        """When the last probe first reported the version (None if one never did)."""
        self._stop.set()
        self._thread.join(5)
        return max(self.seen.values()) if len(self.seen) == len(self.probes) else None


def run_trial(
    store: Store,
    home: Path,
    gateways: list[str],
    refs: tuple[str, str],
    trial: int,
    *,
    rate: float,
    load_seconds: float,
    after: float,
) -> Trial:
    row = ops.start_rollout(store, spec_for(*refs, trial), actor="bench", now=time.time())
    wait_version(gateways, store.policy_version())
    load = TrafficGenerator(gateways, MODEL, rate=rate, seed=trial, stream_fraction=0.1)
    load.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # load for a while, with the candidate serving
        time.sleep(0.05)
        if load.error is not None:
            raise RuntimeError(f"load generator stopped: {load.error!r}")
        if len(load.candidate_answers()) >= rate * load_seconds / 4:
            break
    version = store.policy_version() + 1
    watcher_store = open_store(home)  # its own connection: polls while the CLI writes
    committed = Watch({"store": watcher_store.policy_version}, version, 0.002)
    readyz = Watch({u: functools.partial(readyz_version, u) for u in gateways}, version, 0.005)
    started = time.time()
    proc = subprocess.run(
        cli_argv("rollback", row.id, "--home", str(home), "--actor", "bench", "--json"),
        capture_output=True,
        text=True,
        check=False,
    )
    exited = time.time()
    if proc.returncode != 0:
        load.stop()
        raise RuntimeError(f"llm-rollout rollback failed: {proc.stderr.strip()}")
    time.sleep(after)
    load.stop()
    commit = committed.stop()
    applied = readyz.stop()
    watcher_store.close()
    current = store.current_policy()
    if commit is None or current is None or current.version < version:
        raise RuntimeError("the rollback policy never appeared in the store")
    answers = load.candidate_answers()
    from_exit = rollback_timing(answers, exited)
    from_commit = rollback_timing(answers, commit)
    snap = load.snapshot()
    failed = snap.failed + sum(c.errors for c in snap.arms.values())
    return Trial(
        rollout=row.id,
        cli_seconds=exited - started,
        commit_to_exit=exited - commit,
        exit_to_last_answer=from_exit.last_answer,
        commit_to_last_answer=from_commit.last_answer,
        commit_to_last_start=from_commit.last_start,
        starts_after_commit=from_commit.started_after,
        answers_after_commit=from_commit.answers_after,
        commit_to_readyz=None if applied is None else applied - commit,
        stamp_to_commit=commit - current.time,
        latencies=[end - start for start, end in answers],
        requests=snap.sent,
        candidate_answers=len(answers),
        failed=failed,
        skipped=snap.skipped,
    )


def rank(values: list[float], q: float) -> float:
    """Nearest-rank percentile: p100 is the maximum, p50 of 20 values the 10th smallest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


def table(trials: list[Trial], rate: float) -> str:
    rows: list[tuple[str, list[float]]] = [
        (
            "`llm-rollout rollback` run time (process start to exit)",
            [t.cli_seconds for t in trials],
        ),
        ("rollback commit -> CLI exit", [t.commit_to_exit for t in trials]),
        (
            "**CLI exit -> last answer served by the candidate**",
            [t.exit_to_last_answer for t in trials],
        ),
        (
            "commit -> last answer served by the candidate",
            [t.commit_to_last_answer for t in trials],
        ),
        (
            "commit -> start of the last request the candidate served",
            [t.commit_to_last_start or 0.0 for t in trials],
        ),
        (
            "commit -> both gateways report the new policy on /readyz",
            [t.commit_to_readyz for t in trials if t.commit_to_readyz is not None],
        ),
        ("(the CLI's time stamp on the policy -> commit)", [t.stamp_to_commit for t in trials]),
    ]
    n = len(trials)
    lines = [
        f"Rollback under load: {n} trials, 2 gateway processes on one SQLite store, "
        f"{rate:g} requests/s to them in turn, rollout at 50%.",
        "",
        "| measure | p50 | p90 | p100 |",
        "| --- | --- | --- | --- |",
    ]
    for label, values in rows:
        if values:
            cells = " | ".join(ms(rank(values, q)) for q in (0.5, 0.9, 1.0))
            lines.append(f"| {label} | {cells} |")
    latencies = [x for t in trials for x in t.latencies]
    if latencies:
        lines += [
            "",
            "Client-side latency of the candidate's answers in these trials: "
            f"p50 {ms(rank(latencies, 0.5))}, p99 {ms(rank(latencies, 0.99))}, "
            f"max {ms(max(latencies))} (requests in flight at the flip finish on the candidate).",
        ]
    requests = sum(t.requests for t in trials)
    failed = sum(t.failed for t in trials)
    late = sum(t.starts_after_commit for t in trials)
    in_flight = sum(t.answers_after_commit for t in trials)
    lines += [
        "",
        f"Requests: {requests} sent, **{failed} failed**; {sum(t.skipped for t in trials)} "
        "arrivals shed by the generator's in-flight cap (never sent). Candidate answers that "
        f"completed after the commit: {in_flight}, of which {late} had started after it.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--load-seconds", type=float, default=1.5, help="load before the flip")
    parser.add_argument("--after", type=float, default=1.5, help="load after the flip, seconds")
    parser.add_argument("--json", dest="json_out", type=Path, help="also write trials as JSON")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="llm-rollout-bench-rollback-"))
    (tmp / "logs").mkdir()
    home = tmp / "home"
    children = Children(tmp / "logs")
    trials: list[Trial] = []
    try:
        ports = {name: free_port() for name in ("baseline", "candidate", "gw1", "gw2")}
        profile = json.dumps(asdict(PROFILE))
        for i, name in enumerate(("baseline", "candidate")):
            children.spawn(
                name,
                cli_argv(
                    "mock-model", "--profile", profile, "--port", str(ports[name]),
                    "--speed", str(SPEED), "--seed", str(i),
                ),
            )  # fmt: skip
        store = open_store(home)  # migrate once, before two gateways race to
        for name in ("gw1", "gw2"):
            children.spawn(name, cli_argv("serve", "--home", str(home), "--port", str(ports[name])))
        endpoints = {n: f"http://127.0.0.1:{ports[n]}/v1" for n in ("baseline", "candidate")}
        for name in ("baseline", "candidate"):
            wait_http(endpoints[name] + "/models", children[name])
        gateways = [f"http://127.0.0.1:{ports[n]}" for n in ("gw1", "gw2")]
        for name, url in zip(("gw1", "gw2"), gateways, strict=True):
            wait_http(url + "/readyz", children[name])
        sc = demo_scenario.make_scenario("none")
        baseline, candidate = demo_scenario.model_versions(
            sc, endpoints["baseline"], endpoints["candidate"]
        )
        ops.add_models(store, [baseline, candidate])
        refs = (baseline.ref, candidate.ref)
        for i in range(args.trials):
            trial = run_trial(
                store,
                home,
                gateways,
                refs,
                i,
                rate=args.rate,
                load_seconds=args.load_seconds,
                after=args.after,
            )
            children.check()
            trials.append(trial)
            late = "none" if trial.commit_to_last_start is None else ms(trial.commit_to_last_start)
            print(
                f"trial {i + 1:2d}: exit->last answer {ms(trial.exit_to_last_answer)}, "
                f"commit->last answer {ms(trial.commit_to_last_answer)}, "
                f"commit->last start {late}, failed {trial.failed}",
                flush=True,
            )
        store.close()
    finally:
        children.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)  # kept (logs, store) only when a trial raised
    print()
    print(table(trials, args.rate))
    if args.json_out is not None:
        rows = [{k: v for k, v in asdict(t).items() if k != "latencies"} for t in trials]
        doc: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": machine(),
            "rate": args.rate,
            "trials": rows,
        }
        args.json_out.write_text(json.dumps(doc, indent=2))
    failed = sum(t.failed for t in trials)
    worst = max((t.exit_to_last_answer for t in trials), default=0.0)
    return 0 if failed == 0 and worst < 1.0 else 1


def machine() -> str:
    """Cores, CPU model and the load average: what `llm-rollout plan --rollback-bench` quotes."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {model}, load average {load}"


if __name__ == "__main__":
    raise SystemExit(main())
