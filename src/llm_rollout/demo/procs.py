"""Child processes the demo (and the rollback benchmark) start, and the guarantee they stop.

Every child runs in its own process group (``start_new_session``), so a terminal's Ctrl-C
reaches the demo alone and the demo decides the order of shutdown. :meth:`Children.stop_all`
sends SIGTERM to each group, waits, then SIGKILLs what is left; the owner calls it from a
``finally`` block and registers it with :mod:`atexit`. On Linux each child also asks the kernel
for SIGTERM should the demo itself die without cleaning up (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import LlmRolloutError

_PR_SET_PDEATHSIG = 1
CLI = "from llm_rollout.cli import main; main()"


class ChildError(LlmRolloutError):
    """A child process failed to start or died; the message carries the tail of its log."""


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the child binds it right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_argv(*args: str) -> list[str]:
    """``llm-rollout ARGS`` run by this interpreter (works without the console script)."""
    return [sys.executable, "-c", CLI, *args]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    _log_file: IO[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Children:
    """The demo's child processes, by name; stop them all with :meth:`stop_all`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._children: dict[str, Child] = {}

    def spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Child:
        log = self.log_dir / f"{name}.log"
        out = log.open("wb")
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 -- spawned before any thread starts
                env=env,
            )
        except OSError as exc:
            out.close()
            raise ChildError(f"cannot start {name}: {exc}") from exc
        child = self._children[name] = Child(name, proc, log, out)
        return child

    def pids(self) -> dict[str, int]:
        return {name: c.pid for name, c in self._children.items()}

    def __getitem__(self, name: str) -> Child:
        return self._children[name]

    def check(self) -> None:
        """ChildError when a child has exited (they are all meant to run until stopped)."""
        for child in self._children.values():
            code = child.proc.poll()
            if code is not None:
                raise ChildError(
                    f"{child.name} (pid {child.pid}) exited with code {code}:\n{child.log_tail()}"
                )

    def stop_all(self, timeout: float = 5.0) -> None:
        """SIGTERM every child's process group, wait up to ``timeout``, SIGKILL the rest.
        Safe to call twice (the second call finds nothing to do)."""
        running = [c for c in self._children.values() if c.alive()]
        for child in running:
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(max(0.0, deadline - time.monotonic()))
        for child in self._children.values():
            if child.alive():
                _signal_group(child.proc, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(5.0)
            child._log_file.close()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def wait_http(url: str, child: Child, timeout: float = 30.0) -> bytes:
    """Poll ``url`` until it answers 200 (returns the body); ChildError when the child exits
    first or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    body: bytes = resp.read()
                    return body
        except (OSError, urllib.error.URLError):
            pass
        if not child.alive():
            raise ChildError(
                f"{child.name} exited with code {child.proc.returncode} before it was ready:\n"
                f"{child.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise ChildError(f"{child.name} not ready at {url} after {timeout:g} s")
        time.sleep(0.05)
