"""Helpers of the store contract suite: the backends it runs against."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from llm_rollout.store import Store
from llm_rollout.store.postgres import PostgresStore
from llm_rollout.store.sqlite import MEMORY, SQLiteStore

CLOCK_START = 1_700_000_000.0


@dataclass(frozen=True)
class Backend:
    name: str
    connect: Callable[[Path], Store]  # a new connection to the test's database (in a tmp dir)
    shared: bool  # a second connect() reaches the same data (replicas, other processes)
    drop: Callable[[Path], None] = lambda d: None  # after the test: remove its database

    def __str__(self) -> str:
        return self.name


# The contract suite's server (see .ci/run); every test gets a schema of its own on it.
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pg_schema(test_dir: Path) -> str:
    """A schema name unique to the test (its tmp directory is)."""
    return "t_" + hashlib.sha256(str(test_dir).encode()).hexdigest()[:24]


def pg_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"the store contract suite needs PostgreSQL at {PG_URL} (start it, or see .ci/run): "
            f"{exc}"
        ) from exc


def pg_url(test_dir: Path) -> str:
    """The server's URL with the test's schema first on the search path (created here)."""
    schema = pg_schema(test_dir)
    with pg_admin() as admin:
        admin.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return f"{PG_URL}?options={quote(f'-c search_path={schema}')}"


def pg_drop(test_dir: Path) -> None:
    with pg_admin() as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {pg_schema(test_dir)} CASCADE")


def pg_connect(test_dir: Path) -> PostgresStore:
    return PostgresStore(pg_url(test_dir), clock=lambda: CLOCK_START)


BACKENDS = [
    Backend("sqlite-file", lambda d: SQLiteStore(d / "store.db", clock=lambda: CLOCK_START), True),
    Backend("sqlite-memory", lambda d: SQLiteStore(MEMORY, clock=lambda: CLOCK_START), False),
    Backend("postgres", pg_connect, True, pg_drop),
]
