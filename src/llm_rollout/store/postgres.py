"""The shared store: PostgreSQL through psycopg 3, for gateways and controllers on several hosts.

Same contract and semantics as :mod:`.sqlite`, method by method; the differences are how the
database keeps them with many connections at once:

- saves lock the rollout row (``SELECT ... FOR UPDATE``) before comparing the revision, so
  of two concurrent saves at one revision exactly one wins and the other gets ConflictError;
- every policy write locks the ``policy`` table against other writers (readers go on) before
  it reads the newest document: a ``route=`` read-modify-write never loses a concurrent
  change, and versions commit in order, so a replica polling the version never skips one;
- "one active rollout per model" is the partial unique index; a concurrent second insert
  fails there and is reported as ConflictError;
- a lease is taken or renewed by one conditional upsert;
- a window arrives as four binary columns per arm (see :mod:`._pg_sql`).

One connection per store object, guarded by a lock, so a store may be shared by threads (as
the SQLite store); a connection the server dropped is replaced on the next call. psycopg
errors leave this module only as StoreError, naming the server without its password.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import psycopg

from ..errors import ConflictError, RegistryError, StoreError
from ..records import ArmWindow, Feedback, RequestRecord, Role
from ..registry import ModelVersion, canonical_json, parse_ref, resolve
from . import _pg_sql, _records, _rows, pg_listen, pg_migrations
from ._pg_errors import describe, mapped_error, password_of
from .base import Event, PolicyVersion, RolloutRow

URL_PREFIXES = ("postgresql://", "postgres://")
# Locks out other policy writers until commit; plain reads (ACCESS SHARE) are not blocked.
_LOCK_POLICY = "LOCK TABLE policy IN SHARE ROW EXCLUSIVE MODE"


class PostgresStore:
    """The :class:`~llm_rollout.store.base.Store` on PostgreSQL (a libpq URL or conninfo).

    ``connect_timeout``: seconds to wait for the server when connecting.
    ``clock``: the time stamped on model registrations and migrations.
    """

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url  # kept for reconnecting; never printed (see describe)
        self._where = describe(url)
        self._password = password_of(url)
        self._connect_timeout = connect_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._names: dict[str, int] = {}  # interned ids are never reused: safe to cache
        self._closed = False
        self._db: psycopg.Connection | None = None
        db = self._connect("open")
        try:
            pg_migrations.migrate(db, clock())
        except psycopg.Error as exc:
            db.close()
            raise self._mapped(exc, "open") from exc
        except BaseException:
            db.close()
            raise
        self._db = db

    def _connect(self, action: str) -> psycopg.Connection:
        try:
            return psycopg.connect(
                self._url,
                autocommit=True,  # transactions are explicit: conn.transaction() per method
                connect_timeout=max(1, math.ceil(self._connect_timeout)),
                application_name="llm-rollout",
            )
        except psycopg.Error as exc:
            raise self._mapped(exc, action) from exc

    # --- plumbing -------------------------------------------------------------------------
    def _mapped(self, exc: psycopg.Error, action: str) -> StoreError:
        return mapped_error(exc, action, self._where, self._password)

    def _conn(self, action: str) -> psycopg.Connection:
        if self._closed:
            raise StoreError(f"cannot {action}: the store {self._where} is closed")
        if self._db is None or self._db.closed or self._db.broken:
            # The server restarted or dropped us: one new connection, then the call goes on.
            if self._db is not None:
                self._db.close()
            self._db = self._connect(action)
        return self._db

    @contextmanager
    def _tx(self, action: str, write: bool = True) -> Iterator[psycopg.Connection]:
        """One transaction: commit when the block ends, roll back on any exception.
        Reads run at REPEATABLE READ, so a multi-query read sees one snapshot."""
        with self._lock:
            db = self._conn(action)
            try:
                with db.transaction():
                    if not write:
                        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield db
            except psycopg.Error as exc:
                raise self._mapped(exc, action) from exc

    def _one(self, sql: str, params: Sequence[Any], action: str) -> Any:
        """One single-statement read (autocommit: no BEGIN/COMMIT round trips)."""
        rows = self._all(sql, params, action)
        return rows[0] if rows else None

    def _all(self, sql: str, params: Sequence[Any], action: str) -> list[Any]:
        with self._lock:
            db = self._conn(action)
            try:
                return db.execute(sql, params).fetchall()
            except psycopg.Error as exc:
                raise self._mapped(exc, action) from exc

    # --- migrations -----------------------------------------------------------------------
    def applied_migrations(self) -> list[tuple[str, float]]:
        with self._tx("read migrations", write=False) as db:
            return pg_migrations.applied(db)

    def pending_migrations(self) -> list[str]:
        with self._tx("read migrations", write=False) as db:
            return pg_migrations.pending(db)

    # --- registry -------------------------------------------------------------------------
    def put_model(self, version: ModelVersion) -> bool:
        digest = version.digest
        definition = canonical_json(version.definition())
        with self._tx(f"register model {version.short_ref}") as db:
            inserted = db.execute(
                "INSERT INTO models (digest, name, definition, api_key_env, created) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (digest) DO NOTHING RETURNING 1",
                (digest, version.name, definition, version.api_key_env, self._clock()),
            ).fetchone()
            if inserted is not None:
                return True
            row = db.execute(
                "SELECT definition, api_key_env FROM models WHERE digest = %s FOR UPDATE",
                (digest,),
            ).fetchone()
            assert row is not None  # the conflicting row is committed and never deleted
            stored = canonical_json(_rows.loads(row[0], f"definition of model {digest[:12]}"))
            if stored != definition:
                raise _rows.damaged_model(version.short_ref)
            if row[1] != version.api_key_env:  # not part of the identity: the latest name wins
                db.execute(
                    "UPDATE models SET api_key_env = %s WHERE digest = %s",
                    (version.api_key_env, digest),
                )
            return False

    def get_model(self, digest: str) -> ModelVersion:
        row = self._one(
            "SELECT digest, definition, api_key_env FROM models WHERE digest = %s",
            (digest,),
            "read the registry",
        )
        if row is None:
            raise RegistryError(f"unknown model digest {digest!r}")
        return _rows.model_from(row)

    def list_models(self) -> list[ModelVersion]:
        # COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
        rows = self._all(
            "SELECT digest, definition, api_key_env FROM models "
            'ORDER BY name COLLATE "C", created, digest COLLATE "C"',
            (),
            "read the registry",
        )
        return [_rows.model_from(row) for row in rows]

    def resolve_model(self, ref: str) -> ModelVersion:
        name, _ = parse_ref(ref)
        rows = self._all(
            "SELECT digest, definition, api_key_env FROM models WHERE name = %s "
            'ORDER BY created, digest COLLATE "C"',
            (name,),
            "read the registry",
        )
        return resolve(ref, [_rows.model_from(row) for row in rows])

    # --- policy ---------------------------------------------------------------------------
    @staticmethod
    def _publish(db: psycopg.Connection, doc: str, actor: str, reason: str, now: float) -> int:
        """Insert a policy version; the caller holds :data:`_LOCK_POLICY`."""
        row = db.execute(
            "INSERT INTO policy (doc, actor, reason, time) VALUES (%s, %s, %s, %s) "
            "RETURNING version",
            (doc, actor, reason, now),
        ).fetchone()
        assert row is not None  # INSERT ... RETURNING returns the row it inserted
        db.execute(pg_listen.NOTIFY_SQL, (str(row[0]),))  # sent at commit, never on rollback
        return int(row[0])

    def publish_policy(self, doc: dict[str, Any], actor: str, reason: str, now: float) -> int:
        text = _rows.dumps(doc, "policy document")
        with self._tx("publish a policy") as db:
            db.execute(_LOCK_POLICY)
            return self._publish(db, text, actor, reason, now)

    def policy_version(self) -> int:
        # max() of the primary key is one index descent: cheap enough to poll.
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
            f"SELECT {_rows.POLICY_COLUMNS} FROM policy ORDER BY version DESC LIMIT %s",
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
            if db.execute("SELECT 1 FROM rollouts WHERE id = %s", (rollout_id,)).fetchone():
                raise ConflictError(f"a rollout named {rollout_id!r} already exists")
            self._check_no_other_active(db, model, rollout_id)
            # A concurrent creator that passed the same checks fails on the primary key or
            # the rollouts_one_active index: IntegrityError, mapped to ConflictError.
            db.execute(
                f"INSERT INTO rollouts ({_rows.ROLLOUT_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, 1, 1, %s, %s)",
                (rollout_id, model, spec_text, state_text, now, now),
            )
        return RolloutRow(rollout_id, model, spec, state, 1, True, now, now)

    @staticmethod
    def _check_no_other_active(db: psycopg.Connection, model: str, rollout_id: str) -> None:
        row = db.execute(
            "SELECT id FROM rollouts WHERE model = %s AND active = 1 AND id <> %s",
            (model, rollout_id),
        ).fetchone()
        if row is not None:
            raise _rows.other_active(model, row[0])

    def get_rollout(self, rollout_id: str) -> RolloutRow:
        row = self._one(
            f"SELECT {_rows.ROLLOUT_COLUMNS} FROM rollouts WHERE id = %s",
            (rollout_id,),
            "read a rollout",
        )
        if row is None:
            raise StoreError(f"no rollout named {rollout_id!r}")
        return _rows.rollout_from(row)

    def list_rollouts(self, active_only: bool = False) -> list[RolloutRow]:
        where = "WHERE active = 1 " if active_only else ""
        rows = self._all(
            f'SELECT {_rows.ROLLOUT_COLUMNS} FROM rollouts {where}ORDER BY created, id COLLATE "C"',
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
                f"SELECT {_rows.ROLLOUT_COLUMNS} FROM rollouts WHERE id = %s FOR UPDATE",
                (rollout_id,),
            ).fetchone()
            if row is None:
                raise StoreError(f"no rollout named {rollout_id!r}")
            old = _rows.rollout_from(row)
            if old.revision != expected_revision:
                raise _rows.stale(rollout_id, old.revision, expected_revision)
            if active and not old.active:
                self._check_no_other_active(db, old.model, rollout_id)
            db.execute(
                "UPDATE rollouts SET state = %s, revision = %s, active = %s, updated = %s "
                "WHERE id = %s",
                (state_text, old.revision + 1, int(active), now, rollout_id),
            )
            with db.cursor() as cur:
                cur.executemany(
                    "INSERT INTO events (rollout_id, time, kind, data) VALUES (%s, %s, %s, %s)",
                    [(rollout_id, now, kind, data) for kind, data in event_rows],
                )
            if policy is not None and policy_text is not None:
                db.execute(_LOCK_POLICY)
                self._publish(db, policy_text, policy[1], policy[2], now)
            if route is not None:
                model, fields, actor, reason = route
                db.execute(_LOCK_POLICY)  # before the read: no concurrent write in between
                doc = _rows.doc_from(
                    db.execute(
                        "SELECT version, doc FROM policy ORDER BY version DESC LIMIT 1"
                    ).fetchone()
                )
                doc["routes"] = {**doc.get("routes", {}), model: fields}
                self._publish(db, _rows.dumps(doc, "policy document"), actor, reason, now)
        return RolloutRow(
            rollout_id, old.model, old.spec, state, old.revision + 1, active, old.created, now
        )

    def events(self, rollout_id: str | None = None, limit: int = 1000) -> list[Event]:
        """The newest ``limit`` events (of one rollout, or all), oldest first."""
        where = "" if rollout_id is None else "WHERE rollout_id = %s "
        params: tuple[Any, ...] = (limit,) if rollout_id is None else (rollout_id, limit)
        rows = self._all(
            "SELECT * FROM (SELECT id, rollout_id, time, kind, data FROM events "
            f"{where}ORDER BY id DESC LIMIT %s) AS newest ORDER BY id",
            params,
            "read events",
        )
        return [_rows.event_from(row) for row in rows]

    # --- records and feedback -------------------------------------------------------------
    def append_records(self, records: Sequence[RequestRecord]) -> None:
        """Append in one transaction; a stored (request_id, role) is skipped (see protocol)."""
        for record in records:
            _records.check_record(record)  # every record, before anything is written
        if not records:
            return
        action = f"append {len(records)} records"
        for record in records:
            # Not checked up front for SQLite, which refuses to bind a list; PostgreSQL would
            # store one as its array text ('{stop}'), so it is refused here.
            if record.finish_reason is not None and type(record.finish_reason) is not str:
                raise StoreError(
                    f"cannot {action}: record {record.request_id}: finish_reason must be a "
                    "string or empty"
                )
        with self._tx(action) as db:
            ids = self._intern(db, _records.names_of(records))
            with db.cursor() as cur:  # executemany pipelines the rows: one round trip
                cur.executemany(_pg_sql.INSERT_SQL, _records.record_rows(records, ids))
        self._names.update(ids)  # only after the commit: a rolled-back id must not be cached

    def _intern(self, db: psycopg.Connection, names: set[str]) -> dict[str, int]:
        ids = {name: self._names[name] for name in names if name in self._names}
        missing = sorted(names - ids.keys())  # sorted: concurrent writers lock in one order
        if missing:
            db.execute(
                "INSERT INTO names (name) SELECT unnest(%s::text[]) ORDER BY 1 "
                "ON CONFLICT (name) DO NOTHING",
                (missing,),
            )
            rows = db.execute(
                "SELECT name, id FROM names WHERE name = ANY(%s::text[])", (missing,)
            ).fetchall()
            ids.update({str(name): int(name_id) for name, name_id in rows})
        return ids

    def append_feedback(self, feedback: Feedback) -> bool:
        """Feedback for a served request; the rating with the latest ``time`` wins (on a tie,
        the later write). False, and nothing stored, when no served request has that id."""
        feedback.validate()
        rid = feedback.request_id
        with self._tx("append feedback") as db:
            known = db.execute(
                "SELECT 1 FROM records WHERE request_id = %s AND role = 0", (rid,)
            ).fetchone()
            if known is None:
                return False
            db.execute(
                "INSERT INTO feedback (request_id, rating, label, time) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (request_id) DO UPDATE SET rating = excluded.rating, "
                "label = excluded.label, time = excluded.time WHERE excluded.time >= feedback.time",
                (rid, feedback.rating, feedback.label, feedback.time),
            )
            db.execute(
                "UPDATE records SET feedback = "
                "(SELECT (rating < 0)::int FROM feedback WHERE request_id = %(rid)s) "
                "WHERE request_id = %(rid)s AND role = 0",
                {"rid": rid},
            )
            return True

    def get_feedback(self, request_id: str) -> Feedback | None:
        """The winning feedback of a request (not part of the Store protocol)."""
        row = self._one(
            "SELECT request_id, time, rating, label FROM feedback WHERE request_id = %s",
            (request_id,),
            "read feedback",
        )
        return None if row is None else Feedback(*row)

    def read_records(self, rollout_id: str | None = None) -> list[RequestRecord]:
        """Every stored record (of one rollout), in append order (see the protocol)."""
        where, params = (
            ("", ()) if rollout_id is None else ("WHERE rollout_id = %s ", (rollout_id,))
        )
        rows = self._all(f"{_records.RECORD_SQL}{where}ORDER BY seq", params, "read records")
        return [_records.record_from_row(row) for row in rows]

    def read_window(
        self, rollout_id: str, step: int, role: Role, start: float, end: float
    ) -> tuple[ArmWindow, ArmWindow]:
        codes = _rows.window_arms(role)
        with self._tx("read a window", write=False) as db:
            row = db.execute("SELECT id FROM names WHERE name = %s", (rollout_id,)).fetchone()
            if row is None:
                return ArmWindow.empty(), ArmWindow.empty()
            arms = []
            for role_code, arm_code in codes:
                params = (row[0], step, role_code, arm_code, start, end)
                columns = db.execute(_pg_sql.WINDOW_SQL, params, binary=True).fetchone()
                assert columns is not None  # an aggregate without GROUP BY returns one row
                arms.append(_pg_sql.window_from_columns(columns))
        return arms[0], arms[1]

    # --- leader lease ---------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        """Take the lease when free or expired (``expires <= now``), renew it when ``holder``
        has it. Holders compare their own clocks: keep ``ttl`` well above the clock skew."""
        _rows.check_lease(ttl, now)
        with self._tx(f"acquire lease {name!r}") as db:
            # One statement: the check and the write cannot interleave with another holder's.
            taken = db.execute(
                "INSERT INTO leases (name, holder, expires) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires = excluded.expires "
                "WHERE leases.holder = excluded.holder OR leases.expires <= %s RETURNING 1",
                (name, holder, now + ttl, now),
            ).fetchone()
            return taken is not None

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up early; a no-op unless ``holder`` has it."""
        with self._tx(f"release lease {name!r}") as db:
            db.execute("DELETE FROM leases WHERE name = %s AND holder = %s", (name, holder))

    # --- policy push ----------------------------------------------------------------------
    def listen_policy(self, on_version: Callable[[int], None]) -> pg_listen.PolicyListener:
        """Push new policy versions to ``on_version`` (see :class:`.base.PolicyPush`)."""
        return pg_listen.PolicyListener(self._url, on_version).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r})"
