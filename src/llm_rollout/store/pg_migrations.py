"""The PostgreSQL schema as named migrations: the same names and tables as :mod:`.migrations`.

The history is shared with SQLite (``0001_registry`` ... ``0005_leases``) so both backends
describe the same logical schema and a future migration is written once per engine under one
name. The differences are types only: ``DOUBLE PRECISION`` for SQLite's ``REAL``, identity
columns for ``AUTOINCREMENT`` (sequences are never reused, so policy versions stay
monotonic), the same small integer codes for arm, role and status.

Every migration runs in one transaction (PostgreSQL's DDL is transactional). Several
processes opening a new database at once migrate it once: :func:`migrate` takes a
transaction-scoped advisory lock, keyed by the schema, before it reads the ledger again.
"""

from __future__ import annotations

import psycopg

from .migrations import RECORD_ROWS_VIEW, pending_of, refuse_unknown

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_registry",
        """
        CREATE TABLE models (
            digest TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            definition TEXT NOT NULL,
            api_key_env TEXT,
            created DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX models_name ON models (name, created);
        """,
    ),
    (
        "0002_policy",
        """
        CREATE TABLE policy (
            version BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            doc TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL,
            time DOUBLE PRECISION NOT NULL
        );
        """,
    ),
    (
        "0003_rollouts",
        """
        CREATE TABLE rollouts (
            id TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            spec TEXT NOT NULL,
            state TEXT NOT NULL,
            revision BIGINT NOT NULL,
            active INTEGER NOT NULL CHECK (active IN (0, 1)),
            created DOUBLE PRECISION NOT NULL,
            updated DOUBLE PRECISION NOT NULL
        );
        CREATE UNIQUE INDEX rollouts_one_active ON rollouts (model) WHERE active = 1;
        CREATE TABLE events (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            rollout_id TEXT NOT NULL REFERENCES rollouts (id),
            time DOUBLE PRECISION NOT NULL,
            kind TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX events_rollout ON events (rollout_id, id);
        """,
    ),
    (
        "0004_records",
        """
        CREATE TABLE names (
            id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE records (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            request_id TEXT NOT NULL,
            time DOUBLE PRECISION NOT NULL,
            rollout INTEGER NOT NULL,
            step INTEGER NOT NULL,
            arm SMALLINT NOT NULL,
            role SMALLINT NOT NULL,
            model INTEGER NOT NULL,
            status SMALLINT NOT NULL,
            http_status INTEGER NOT NULL,
            latency_ms DOUBLE PRECISION NOT NULL,
            ttft_ms DOUBLE PRECISION,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            cached_tokens BIGINT NOT NULL,
            cost_usd DOUBLE PRECISION NOT NULL,
            refused SMALLINT NOT NULL,
            finish_reason TEXT,
            sticky_bucket BIGINT,
            usage_estimated SMALLINT NOT NULL,
            policy_version BIGINT NOT NULL,
            feedback SMALLINT
        );
        CREATE UNIQUE INDEX records_request ON records (request_id, role);
        CREATE INDEX records_window ON records (rollout, step, role, arm, time)
            INCLUDE (latency_ms, ttft_ms, cost_usd, completion_tokens, status, refused, feedback);
        CREATE TABLE feedback (
            request_id TEXT PRIMARY KEY,
            rating DOUBLE PRECISION NOT NULL,
            label TEXT,
            time DOUBLE PRECISION NOT NULL
        );
        """
        + RECORD_ROWS_VIEW,
    ),
    (
        "0005_leases",
        """
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires DOUBLE PRECISION NOT NULL
        );
        """,
    ),
]

_LEDGER = (
    "CREATE TABLE IF NOT EXISTS migrations (seq INTEGER GENERATED ALWAYS AS IDENTITY, "
    "name TEXT PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
)
# One lock per schema: migrations of different schemas in one database do not wait for
# each other. hashtext() is stable for a given server version, which is all a lock needs.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('llm_rollout.migrate.' || current_schema()))"


def applied(conn: psycopg.Connection) -> list[tuple[str, float]]:
    """``(name, applied time)`` of every applied migration, in the order they were applied."""
    row = conn.execute("SELECT to_regclass('migrations')").fetchone()
    if row is None or row[0] is None:
        return []
    rows = conn.execute("SELECT name, applied FROM migrations ORDER BY seq").fetchall()
    return [(str(name), float(when)) for name, when in rows]


def pending(conn: psycopg.Connection, migrations: list[tuple[str, str]] = MIGRATIONS) -> list[str]:
    """Names of the migrations not applied yet, in the order they will be applied."""
    return pending_of(applied(conn), migrations)


def migrate(
    conn: psycopg.Connection, now: float, migrations: list[tuple[str, str]] = MIGRATIONS
) -> list[str]:
    """Apply every pending migration in one transaction; returns the names applied.

    ``conn`` must be in autocommit mode. When nothing is pending no lock is taken, so opening
    a migrated store never waits. psycopg errors propagate unchanged (the store maps them);
    nothing is applied on error.
    """
    if not pending(conn, migrations):
        refuse_unknown(applied(conn), migrations)
        return []
    with conn.transaction():
        conn.execute(_LOCK)
        conn.execute(_LEDGER)
        done = applied(conn)
        refuse_unknown(done, migrations)
        todo = pending_of(done, migrations)
        for name, sql in migrations:
            if name in todo:
                conn.execute(sql.encode())  # bytes: a script of several statements, no params
                conn.execute("INSERT INTO migrations (name, applied) VALUES (%s, %s)", (name, now))
    return todo
