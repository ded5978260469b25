"""Children are always stopped: SIGTERM to the group, SIGKILL after the timeout."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from llm_rollout.demo.procs import ChildError, Children, wait_http
from llm_rollout.demo.procs import free_port as demo_free_port

PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(60)
"""
STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").write("ready")
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, just not reaped


def wait_for(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never written")


def wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_stop_all_ends_children_and_their_children(tmp_path: Path) -> None:
    children = Children(tmp_path)
    marker = tmp_path / "grandchild.pid"
    child = children.spawn("parent", [sys.executable, "-c", PARENT, str(marker)])
    grandchild = int(wait_for(marker))
    assert alive(child.pid)
    assert alive(grandchild)
    children.stop_all(timeout=5)
    assert not child.alive()
    assert wait_dead(grandchild), "the grandchild outlived stop_all"
    children.stop_all()  # twice is fine


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    children = Children(tmp_path)
    marker = tmp_path / "ready"
    child = children.spawn("stubborn", [sys.executable, "-c", STUBBORN, str(marker)])
    wait_for(marker)
    began = time.monotonic()
    children.stop_all(timeout=0.5)
    assert not child.alive()
    assert time.monotonic() - began < 5


def test_check_reports_a_dead_child_with_its_log(tmp_path: Path) -> None:
    children = Children(tmp_path)
    code = "import sys; print('port already in use'); sys.exit(3)"
    child = children.spawn("gateway", [sys.executable, "-c", code])
    child.proc.wait(20)
    with pytest.raises(ChildError, match=r"gateway .* exited with code 3:\nport already in use"):
        children.check()
    children.stop_all()


def test_wait_http_gives_up_when_the_child_exits(tmp_path: Path) -> None:
    children = Children(tmp_path)
    child = children.spawn("mock", [sys.executable, "-c", "print('bad profile')"])
    port = demo_free_port()
    with pytest.raises(ChildError, match="bad profile"):
        wait_http(f"http://127.0.0.1:{port}/v1/models", child, timeout=20)
    children.stop_all()
