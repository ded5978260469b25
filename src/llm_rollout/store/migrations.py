"""The SQLite schema as named migrations, applied in order, all in one transaction.

Like sqlite-utils' migrations: each migration is ``(name, sql)``; the ``migrations`` table
records which names were applied and when. A store opened by an older llm-rollout that finds
names it does not know refuses to run (it cannot know what they changed). Never edit an
applied migration: append a new one.

Compact forms, chosen for the record path (the only table with millions of rows):

- ``records.arm`` / ``role`` / ``status`` are small integers (:data:`ARM_CODES` ...), which
  SQLite stores in 0-1 bytes; rollout ids and model digests are interned in ``names``.
- ``records.feedback`` mirrors the winning rating of the ``feedback`` table (NULL: none,
  0: non-negative, 1: negative), so the window index answers feedback counts without a join.
- ``records_window`` covers every column :meth:`read_window` reads, in the order it filters
  (rollout, step, role, arm, time): a window is one contiguous index range per arm.
- the ``record_rows`` view decodes all of that for people running ad-hoc SQL.
"""

from __future__ import annotations

import sqlite3

from ..errors import StoreError
from ..records import Arm, Role, Status

ARM_CODES: dict[str, int] = {Arm.BASELINE: 0, Arm.CANDIDATE: 1}
ROLE_CODES: dict[str, int] = {Role.SERVE: 0, Role.SHADOW: 1}
STATUS_CODES: dict[str, int] = {Status.OK: 0, Status.ERROR: 1, Status.CLIENT_ERROR: 2}

# Records as the API names them (codes decoded, names joined, feedback attached): the same
# text on every backend, so both read records through one view definition.
RECORD_ROWS_VIEW = """CREATE VIEW record_rows AS
        SELECT r.request_id, r.time, ro.name AS rollout_id, r.step,
               CASE r.arm WHEN 0 THEN 'baseline' ELSE 'candidate' END AS arm,
               CASE r.role WHEN 0 THEN 'serve' ELSE 'shadow' END AS role,
               mo.name AS model_digest,
               CASE r.status WHEN 0 THEN 'ok' WHEN 1 THEN 'error' ELSE 'client_error' END
                   AS status,
               r.http_status, r.latency_ms, r.ttft_ms, r.prompt_tokens, r.completion_tokens,
               r.cached_tokens, r.cost_usd, r.refused, r.finish_reason, r.sticky_bucket,
               r.usage_estimated, r.policy_version, f.rating AS feedback_rating, r.seq
        FROM records r
        JOIN names ro ON ro.id = r.rollout
        JOIN names mo ON mo.id = r.model
        LEFT JOIN feedback f ON f.request_id = r.request_id AND r.role = 0;
        """

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_registry",
        """
        CREATE TABLE models (
            digest TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            definition TEXT NOT NULL,  -- canonical JSON: exactly what the digest hashes
            api_key_env TEXT,          -- only the variable's name; not part of the identity
            created REAL NOT NULL
        );
        CREATE INDEX models_name ON models (name, created);
        """,
    ),
    (
        "0002_policy",
        """
        CREATE TABLE policy (
            version INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so always monotonic
            doc TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL,
            time REAL NOT NULL
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
            revision INTEGER NOT NULL,
            active INTEGER NOT NULL CHECK (active IN (0, 1)),
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE UNIQUE INDEX rollouts_one_active ON rollouts (model) WHERE active = 1;
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rollout_id TEXT NOT NULL REFERENCES rollouts (id),
            time REAL NOT NULL,
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
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE records (
            seq INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL,
            time REAL NOT NULL,
            rollout INTEGER NOT NULL,  -- names.id of the rollout id
            step INTEGER NOT NULL,
            arm INTEGER NOT NULL,      -- 0 baseline, 1 candidate
            role INTEGER NOT NULL,     -- 0 serve, 1 shadow
            model INTEGER NOT NULL,    -- names.id of the model digest
            status INTEGER NOT NULL,   -- 0 ok, 1 error, 2 client_error
            http_status INTEGER NOT NULL,
            latency_ms REAL NOT NULL,
            ttft_ms REAL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            cached_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL,
            refused INTEGER NOT NULL,
            finish_reason TEXT,
            sticky_bucket INTEGER,
            usage_estimated INTEGER NOT NULL,
            policy_version INTEGER NOT NULL,
            feedback INTEGER           -- NULL none, 0 non-negative, 1 negative (mirrors feedback)
        );
        CREATE UNIQUE INDEX records_request ON records (request_id, role);
        CREATE INDEX records_window ON records (
            rollout, step, role, arm, time,
            latency_ms, ttft_ms, cost_usd, completion_tokens, status, refused, feedback
        );
        CREATE TABLE feedback (
            request_id TEXT PRIMARY KEY,
            rating REAL NOT NULL,
            label TEXT,
            time REAL NOT NULL
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
            expires REAL NOT NULL
        );
        """,
    ),
]

_LEDGER = "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)"


def statements(sql: str) -> list[str]:
    """Split a script into complete statements (``executescript`` would commit midway)."""
    out: list[str] = []
    current = ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n\t;"):
                out.append(current.strip())
            current = ""
    if current.strip(" \n\t;"):
        out.append(current.strip())  # an incomplete tail: let SQLite report the syntax error
    return out


def applied(conn: sqlite3.Connection) -> list[tuple[str, float]]:
    """``(name, applied time)`` of every applied migration, in the order they were applied."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    if exists is None:
        return []
    rows = conn.execute("SELECT name, applied FROM migrations ORDER BY rowid").fetchall()
    return [(str(name), float(when)) for name, when in rows]


def pending(conn: sqlite3.Connection, migrations: list[tuple[str, str]] = MIGRATIONS) -> list[str]:
    """Names of the migrations not applied yet, in the order they will be applied."""
    return pending_of(applied(conn), migrations)


def pending_of(done: list[tuple[str, float]], migrations: list[tuple[str, str]]) -> list[str]:
    """The names in ``migrations`` missing from the ledger ``done`` (any engine's)."""
    names = {name for name, _ in done}
    return [name for name, _ in migrations if name not in names]


def refuse_unknown(done: list[tuple[str, float]], migrations: list[tuple[str, str]]) -> None:
    """StoreError when the ledger ``done`` names a migration this llm-rollout does not know."""
    known = {name for name, _ in migrations}
    unknown = [name for name, _ in done if name not in known]
    if unknown:
        raise StoreError(
            "the store was migrated by a newer llm-rollout (unknown migrations: "
            f"{', '.join(unknown)}); upgrade llm-rollout to use it"
        )


def _refuse_unknown(conn: sqlite3.Connection, migrations: list[tuple[str, str]]) -> None:
    refuse_unknown(applied(conn), migrations)


def migrate(
    conn: sqlite3.Connection, now: float, migrations: list[tuple[str, str]] = MIGRATIONS
) -> list[str]:
    """Apply every pending migration in one transaction; returns the names applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``). When nothing is pending,
    no write lock is taken, so opening a store never waits for a busy writer. Otherwise the
    write lock is taken before the ledger is read again, so two processes opening a new store
    at once migrate it once. sqlite3 errors propagate unchanged (the store maps them);
    nothing is applied on error.
    """
    if not pending(conn, migrations):
        _refuse_unknown(conn, migrations)
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_LEDGER)
        _refuse_unknown(conn, migrations)
        todo = pending(conn, migrations)
        for name, sql in migrations:
            if name in todo:
                for statement in statements(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO migrations (name, applied) VALUES (?, ?)", (name, now))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return todo
