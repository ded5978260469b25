"""Helpers of the store contract suite: the backends it runs against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llm_rollout.store import Store
from llm_rollout.store.sqlite import MEMORY, SQLiteStore

CLOCK_START = 1_700_000_000.0


@dataclass(frozen=True)
class Backend:
    name: str
    connect: Callable[[Path], Store]  # a new connection to the test's database (in a tmp dir)
    shared: bool  # a second connect() reaches the same data (replicas, other processes)

    def __str__(self) -> str:
        return self.name


BACKENDS = [
    Backend("sqlite-file", lambda d: SQLiteStore(d / "store.db", clock=lambda: CLOCK_START), True),
    Backend("sqlite-memory", lambda d: SQLiteStore(MEMORY, clock=lambda: CLOCK_START), False),
]
