"""Shared fixtures of the operations tests: mock-model processes started once for the whole
test run, and one directory for every child process's log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_helpers import PROFILES, Mocks, start_mock, wait_mock


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ops-logs")


@pytest.fixture(scope="session")
def mocks(logs: Path) -> Iterator[Mocks]:
    started = {name: start_mock(name, logs) for name in PROFILES}
    procs = [proc for proc, _ in started.values()]
    try:
        for proc, port in started.values():
            wait_mock(proc, port)
        yield Mocks({name: port for name, (_, port) in started.items()}, procs)
    finally:
        for proc in procs:
            proc.stop()
