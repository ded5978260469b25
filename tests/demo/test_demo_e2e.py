"""`llm-rollout demo` end to end, as a user runs it: real processes on loopback.

A cost regression halts before 100% with the cost gate as the reason and a sub-second rollback;
no regression is promoted; SIGINT (Ctrl-C) stops every process the demo started.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from llm_rollout.demo.procs import cli_argv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (by parent pid, from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def run_demo(*args: str, timeout: float = 115) -> dict[str, Any]:
    proc = subprocess.run(
        cli_argv("demo", "--json", *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    for name, pid in result["processes"].items():
        assert not alive(pid), f"{name} (pid {pid}) still running after the demo"
    return result


def test_a_cost_regression_halts_with_a_fast_rollback() -> None:
    result = run_demo("--regression", "cost", "--seed", "1")
    assert result["outcome"] == "rolled_back", result["headline"]
    assert result["stage"] in ("5%", "10%", "25%", "50%")
    gates = {v["gate"] for v in result["fired"]}
    assert gates == {"cost"}, result["headline"]
    [cost] = result["fired"]
    assert cost["lo"] > cost["bound"]  # a confident breach: the whole interval above 1.2
    assert result["headline"].startswith(f"halted at {result['stage']} after")
    rollback = result["rollback"]
    assert rollback["last_candidate_answer_s"] < 1.0
    traffic = result["traffic"]
    assert traffic["failed"] == 0
    assert traffic["arms"]["candidate"]["answered"] > 0
    assert result["wall_seconds"] < 120
    assert {"mock-baseline", "mock-candidate", "gateway"} <= set(result["processes"])


def test_no_regression_is_promoted() -> None:
    result = run_demo("--regression", "none", "--seed", "2")
    assert result["outcome"] == "promoted", result["headline"]
    assert result["headline"].startswith("promoted after")
    assert result["rollback"] is None
    kinds = [e["kind"] for e in result["events"]]
    assert kinds[0] == "started"
    assert kinds[-1] == "promoted"
    assert kinds.count("step_advanced") == 5  # shadow -> 5% -> 10% -> 25% -> 50% -> 100%
    traffic = result["traffic"]
    assert traffic["failed"] == 0
    assert traffic["arms"]["candidate"]["answered"] > 100
    assert result["wall_seconds"] < 120


def test_ctrl_c_stops_every_process_it_started() -> None:
    proc = subprocess.Popen(
        cli_argv("demo", "--json", "--regression", "none"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        # wait until the rollout has moved once: traffic, gateway and controller all running
        while not any("step_advanced" in line for line in seen):
            assert time.monotonic() < deadline, "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                assert proc.poll() is None, "".join(seen)
        reported = next(line for line in seen if line.startswith("processes:"))
        pids = {int(item.split("=")[1]) for item in reported.split()[1:]}
        store = Path(next(line for line in seen if line.startswith("store:")).split()[1])
        below = descendants(proc.pid)
        assert pids <= below
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
        assert proc.stdout is not None
        stdout = proc.stdout.read()  # one small JSON document: it fit in the pipe's buffer
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(10)  # stderr reaches EOF once the demo has exited
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == 130
    assert json.loads(stdout)["outcome"] == "interrupted"
    left = {pid for pid in below if alive(pid)}
    assert not left, f"still running after Ctrl-C: {left}"
    assert not store.parent.exists(), "the demo's temporary directory was left behind"
