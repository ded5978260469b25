"""The embedded store: one SQLite file in WAL mode, safe for several processes on one machine.

Every public method is one transaction: writes take the write lock up front (``BEGIN
IMMEDIATE``) and either commit whole or roll back whole; multi-query reads run in one read
transaction, so they see one snapshot while writers go on (WAL). sqlite3 errors leave this
module only as :class:`~llm_rollout.errors.StoreError` (``ConflictError`` for broken
invariants), with the file and the likely cause in the message.

One connection per store object, guarded by a lock, so a store may be shared by threads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import ConflictError, RegistryError, StoreError
from ..records import ArmWindow, Feedback, RequestRecord, Role
from ..registry import ModelVersion, canonical_json, parse_ref, resolve
from . import _records, _rows, migrations
from ._errors import mapped_error
from .base import Event, PolicyVersion, RolloutRow

MEMORY = ":memory:"


class SQLiteStore:
    """The :class:`~llm_rollout.store.base.Store` on SQLite (``path`` or ``":memory:"``).

    ``busy_timeout``: seconds to wait for another writer before failing with StoreError.
    ``clock``: the time stamped on model registrations and migrations.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path: str | Path = path if str(path) == MEMORY else Path(path)
        self._where = "(in memory)" if self.path == MEMORY else str(self.path)
        self._busy_timeout = busy_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._names: dict[str, int] = {}  # interned ids are never reused: safe to cache
        self._db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(
                str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._mapped(exc, "open") from exc
        try:
            self._configure(db)
            migrations.migrate(db, clock())
        except sqlite3.Error as exc:
            db.close()
            raise self._mapped(exc, "open") from exc
        except BaseException:
            db.close()
            raise
        self._db = db

    def _configure(self, db: sqlite3.Connection) -> None:
        # The first statement reads the header: a file that is not SQLite fails right here.
        db.execute("PRAGMA journal_mode = WAL")  # in memory this stays 'memory', which is fine
        db.execute("PRAGMA synchronous = NORMAL")  # durable across crashes of the process
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        db.execute("PRAGMA cache_size = -65536")  # up to 64 MiB: a 1M-record window index
        db.execute("PRAGMA temp_store = MEMORY")

    # --- plumbing -------------------------------------------------------------------------
    def _mapped(self, exc: sqlite3.Error, action: str) -> StoreError:
        return mapped_error(exc, action, self._where, self._busy_timeout)

    def _conn(self, action: str) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"cannot {action}: the store {self._where} is closed")
        return self._db

    @contextmanager
    def _tx(self, action: str, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction: commit when the block ends, roll back on any exception."""
        with self._lock:
            db = self._conn(action)
            try:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield db
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    with suppress(sqlite3.Error):  # the original error says more
                        db.execute("ROLLBACK")
                raise self._mapped(exc, action) from exc

    def _one(self, sql: str, params: Sequence[Any], action: str) -> Any:
        """One single-statement read (its own implicit transaction): the cheap path."""
        with self._lock:
            db = self._conn(action)
            try:
                return db.execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                raise self._mapped(exc, action) from exc

    def _all(self, sql: str, params: Sequence[Any], action: str) -> list[Any]:
        with self._lock:
            db = self._conn(action)
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._mapped(exc, action) from exc

    # --- migrations -----------------------------------------------------------------------
    def applied_migrations(self) -> list[tuple[str, float]]:
        with self._tx("read migrations", write=False) as db:
            return migrations.applied(db)

    def pending_migrations(self) -> list[str]:
        with self._tx("read migrations", write=False) as db:
            return migrations.pending(db)

    # --- registry -------------------------------------------------------------------------
    def put_model(self, version: ModelVersion) -> bool:
        digest = version.digest
        definition = canonical_json(version.definition())
        with self._tx(f"register model {version.short_ref}") as db:
            row = db.execute(
                "SELECT definition, api_key_env FROM models WHERE digest = ?", (digest,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO models (digest, name, definition, api_key_env, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (digest, version.name, definition, version.api_key_env, self._clock()),
                )
                return True
            stored = canonical_json(_rows.loads(row[0], f"definition of model {digest[:12]}"))
            if stored != definition:
                raise _rows.damaged_model(version.short_ref)
            if row[1] != version.api_key_env:  # not part of the identity: the latest name wins
                db.execute(
                    "UPDATE models SET api_key_env = ? WHERE digest = ?",
                    (version.api_key_env, digest),
                )
            return False

    def get_model(self, digest: str) -> ModelVersion:
        row = self._one(
            "SELECT digest, definition, api_key_env FROM models WHERE digest = ?",
            (digest,),
            "read the registry",
        )
        if row is None:
            raise RegistryError(f"unknown model digest {digest!r}")
        return _rows.model_from(row)

    def list_models(self) -> list[ModelVersion]:
        rows = self._all(
            "SELECT digest, definition, api_key_env FROM models ORDER BY name, created, digest",
            (),
            "read the registry",
        )
        return [_rows.model_from(row) for row in rows]

    def resolve_model(self, ref: str) -> ModelVersion:
        name, _ = parse_ref(ref)
        rows = self._all(
            "SELECT digest, definition, api_key_env FROM models WHERE name = ? ORDER BY created",
            (name,),
            "read the registry",
        )
        return resolve(ref, [_rows.model_from(row) for row in rows])

    # --- policy ---------------------------------------------------------------------------
    def publish_policy(self, doc: dict[str, Any], actor: str, reason: str, now: float) -> int:
        text = _rows.dumps(doc, "policy document")
        with self._tx("publish a policy") as db:
            return _rows.publish(db, text, actor, reason, now)

    def policy_version(self) -> int:
        # max() of the INTEGER PRIMARY KEY is one B-tree descent: cheap enough to poll.
        row = self._one("SELECT max(version) FROM policy", (), "read the policy version")
        return int(row[0] or 0)

    def current_policy(self) -> PolicyVersion | None:
        row = self._one(
            f"SELECT {_rows.POLICY_COLUMNS} FROM policy ORDER BY version DESC LIMIT 1",
            (),
            "read the policy",
        )
        return None if row is None else _rows.policy_from(row)

    def policy_history(self, limit: int = 50) -> list[PolicyVersion]:
        """The newest ``limit`` versions, newest first."""
        rows = self._all(
            f"SELECT {_rows.POLICY_COLUMNS} FROM policy ORDER BY version DESC LIMIT ?",
            (limit,),
            "read the policy history",
        )
        return [_rows.policy_from(row) for row in rows]

    # --- rollouts and audit log -----------------------------------------------------------
    def create_rollout(
        self, rollout_id: str, model: str, spec: dict[str, Any], state: dict[str, Any], now: float
    ) -> RolloutRow:
        spec_text = _rows.dumps(spec, "rollout spec")
        state_text = _rows.dumps(state, "rollout state")
        with self._tx(f"create rollout {rollout_id!r}") as db:
            if db.execute("SELECT 1 FROM rollouts WHERE id = ?", (rollout_id,)).fetchone():
                raise ConflictError(f"a rollout named {rollout_id!r} already exists")
            _rows.check_no_other_active(db, model, rollout_id)
            db.execute(
                f"INSERT INTO rollouts ({_rows.ROLLOUT_COLUMNS}) VALUES (?, ?, ?, ?, 1, 1, ?, ?)",
                (rollout_id, model, spec_text, state_text, now, now),
            )
        return RolloutRow(rollout_id, model, spec, state, 1, True, now, now)

    def get_rollout(self, rollout_id: str) -> RolloutRow:
        row = self._one(
            f"SELECT {_rows.ROLLOUT_COLUMNS} FROM rollouts WHERE id = ?",
            (rollout_id,),
            "read a rollout",
        )
        if row is None:
            raise StoreError(f"no rollout named {rollout_id!r}")
        return _rows.rollout_from(row)

    def list_rollouts(self, active_only: bool = False) -> list[RolloutRow]:
        where = "WHERE active = 1 " if active_only else ""
        rows = self._all(
            f"SELECT {_rows.ROLLOUT_COLUMNS} FROM rollouts {where}ORDER BY created, id",
            (),
            "list rollouts",
        )
        return [_rows.rollout_from(row) for row in rows]

    def save_rollout(
        self,
        rollout_id: str,
        state: dict[str, Any],
        expected_revision: int,
        active: bool,
        now: float,
        events: Sequence[tuple[str, dict[str, Any]]] = (),
        policy: tuple[dict[str, Any], str, str] | None = None,
        route: tuple[str, dict[str, Any], str, str] | None = None,
    ) -> RolloutRow:
        state_text, event_rows, policy_text = _rows.save_texts(state, events, policy, route)
        with self._tx(f"save rollout {rollout_id!r}") as db:
            row = db.execute(
                f"SELECT {_rows.ROLLOUT_COLUMNS} FROM rollouts WHERE id = ?", (rollout_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no rollout named {rollout_id!r}")
            old = _rows.rollout_from(row)
            if old.revision != expected_revision:
                raise _rows.stale(rollout_id, old.revision, expected_revision)
            if active and not old.active:
                _rows.check_no_other_active(db, old.model, rollout_id)
            db.execute(
                "UPDATE rollouts SET state = ?, revision = ?, active = ?, updated = ? "
                "WHERE id = ? AND revision = ?",
                (state_text, old.revision + 1, int(active), now, rollout_id, old.revision),
            )
            db.executemany(
                "INSERT INTO events (rollout_id, time, kind, data) VALUES (?, ?, ?, ?)",
                [(rollout_id, now, kind, data) for kind, data in event_rows],
            )
            if policy is not None and policy_text is not None:
                _rows.publish(db, policy_text, policy[1], policy[2], now)
            if route is not None:
                model, fields, actor, reason = route
                doc = _rows.newest_doc(db)
                doc["routes"] = {**doc.get("routes", {}), model: fields}
                _rows.publish(db, _rows.dumps(doc, "policy document"), actor, reason, now)
        return RolloutRow(
            rollout_id, old.model, old.spec, state, old.revision + 1, active, old.created, now
        )

    def events(self, rollout_id: str | None = None, limit: int = 1000) -> list[Event]:
        """The newest ``limit`` events (of one rollout, or all), oldest first."""
        where = "" if rollout_id is None else "WHERE rollout_id = ? "
        params: tuple[Any, ...] = (limit,) if rollout_id is None else (rollout_id, limit)
        rows = self._all(
            "SELECT * FROM (SELECT id, rollout_id, time, kind, data FROM events "
            f"{where}ORDER BY id DESC LIMIT ?) ORDER BY id",
            params,
            "read events",
        )
        return [_rows.event_from(row) for row in rows]

    # --- records and feedback -------------------------------------------------------------
    def append_records(self, records: Sequence[RequestRecord]) -> None:
        """Append in one transaction. A record whose (request_id, role) is already stored is
        skipped, so a writer may retry a batch it is unsure about (at-least-once delivery)."""
        for record in records:
            _records.check_record(record)  # every record, before anything is written
        if not records:
            return
        with self._tx(f"append {len(records)} records") as db:
            ids = self._intern(db, _records.names_of(records))
            db.executemany(_records.INSERT_SQL, _records.record_rows(records, ids))
        self._names.update(ids)  # only after the commit: a rolled-back id must not be cached

    def _intern(self, db: sqlite3.Connection, names: set[str]) -> dict[str, int]:
        ids = {name: self._names[name] for name in names if name in self._names}
        for name in names - ids.keys():
            db.execute("INSERT INTO names (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
            ids[name] = db.execute("SELECT id FROM names WHERE name = ?", (name,)).fetchone()[0]
        return ids

    def append_feedback(self, feedback: Feedback) -> bool:
        """Feedback for a served request; the rating with the latest ``time`` wins (on a tie,
        the later write). False, and nothing stored, when no served request has that id."""
        feedback.validate()
        rid = feedback.request_id
        with self._tx("append feedback") as db:
            known = db.execute(
                "SELECT 1 FROM records WHERE request_id = ? AND role = 0", (rid,)
            ).fetchone()
            if known is None:
                return False
            db.execute(
                "INSERT INTO feedback (request_id, rating, label, time) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (request_id) DO UPDATE SET rating = excluded.rating, "
                "label = excluded.label, time = excluded.time WHERE excluded.time >= feedback.time",
                (rid, feedback.rating, feedback.label, feedback.time),
            )
            db.execute(
                "UPDATE records SET feedback = "
                "(SELECT rating < 0 FROM feedback WHERE request_id = ?1) "
                "WHERE request_id = ?1 AND role = 0",
                (rid,),
            )
            return True

    def get_feedback(self, request_id: str) -> Feedback | None:
        """The winning feedback of a request (not part of the Store protocol)."""
        row = self._one(
            "SELECT request_id, time, rating, label FROM feedback WHERE request_id = ?",
            (request_id,),
            "read feedback",
        )
        return None if row is None else Feedback(*row)

    def read_records(self, rollout_id: str | None = None) -> list[RequestRecord]:
        """Every stored record (of one rollout), in append order (see the protocol)."""
        where, params = ("", ()) if rollout_id is None else ("WHERE rollout_id = ? ", (rollout_id,))
        rows = self._all(f"{_records.RECORD_SQL}{where}ORDER BY seq", params, "read records")
        return [_records.record_from_row(row) for row in rows]

    def read_window(
        self, rollout_id: str, step: int, role: Role, start: float, end: float
    ) -> tuple[ArmWindow, ArmWindow]:
        codes = _rows.window_arms(role)
        with self._tx("read a window", write=False) as db:
            row = db.execute("SELECT id FROM names WHERE name = ?", (rollout_id,)).fetchone()
            if row is None:
                return ArmWindow.empty(), ArmWindow.empty()
            arms = []
            for role_code, arm_code in codes:
                params = (row[0], step, role_code, arm_code, start, end)
                arms.append(_records.arm_window(db.execute(_records.WINDOW_SQL, params)))
        return arms[0], arms[1]

    # --- leader lease ---------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        """Take the lease when free or expired (``expires <= now``), renew it when ``holder``
        has it. Holders compare their own clocks: keep ``ttl`` well above the clock skew."""
        _rows.check_lease(ttl, now)
        with self._tx(f"acquire lease {name!r}") as db:
            row = db.execute(
                "SELECT holder, expires FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and row[0] != holder and row[1] > now:
                return False
            db.execute(
                "INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET holder = excluded.holder, expires = excluded.expires",
                (name, holder, now + ttl),
            )
            return True

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up early; a no-op unless ``holder`` has it."""
        with self._tx(f"release lease {name!r}") as db:
            db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
