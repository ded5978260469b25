"""sqlite3 failures reach callers only as StoreError, with the file and the cause."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from llm_rollout.errors import ConflictError, StoreError
from llm_rollout.store import open_store
from llm_rollout.store._errors import mapped_error
from llm_rollout.store.sqlite import SQLiteStore


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not sqlite, just garbage bytes\x00\x01\x02" * 200)
    with pytest.raises(StoreError, match="is not an llm-rollout store or is damaged") as err:
        SQLiteStore(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value.__cause__, sqlite3.DatabaseError)


def test_open_store_on_a_damaged_home(tmp_path: Path) -> None:
    (tmp_path / "store.db").write_bytes(b"\xde\xad\xbe\xef" * 1024)
    with pytest.raises(StoreError, match="not an llm-rollout store"):
        open_store(tmp_path, env={})


def test_a_damaged_page_is_reported_as_damage(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with SQLiteStore(path) as store:
        for i in range(200):
            store.publish_policy({"blob": "x" * 500, "i": i}, "ci", "fill", float(i))
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'policy'").fetchone()[0]
    db.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size  # trash the policy table's root page, keep the header
    data[start : start + page_size] = b"\xff" * page_size
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"), SQLiteStore(path) as store:
        store.policy_history(limit=1000)


def test_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot open .* check that its directory exists"):
        SQLiteStore(tmp_path / "no" / "such" / "store.db")


def test_a_write_while_another_connection_holds_the_lock(
    file_store: SQLiteStore, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match=r"is locked by another process.*0.05 s") as err:
            file_store.publish_policy({}, "ci", "blocked", 1.0)
        assert not isinstance(err.value, ConflictError)
        assert file_store.policy_version() == 0  # readers are not blocked (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert file_store.publish_policy({}, "ci", "free again", 2.0) == 1


def test_opening_while_another_connection_holds_an_exclusive_lock(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE squatter (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            SQLiteStore(path, busy_timeout=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_opening_a_migrated_store_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SQLiteStore(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with SQLiteStore(path, busy_timeout=0.05) as reader:  # e.g. a gateway restarting
            assert reader.policy_version() == 0
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_closed_store(store: SQLiteStore) -> None:
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.policy_version()
    with pytest.raises(StoreError, match="closed"):
        store.publish_policy({}, "ci", "after close", 1.0)


def test_a_store_is_a_context_manager(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "store.db") as store:
        store.publish_policy({}, "ci", "x", 1.0)
    with pytest.raises(StoreError, match="closed"):
        store.current_policy()


def _sqlite_error(kind: type[sqlite3.Error], text: str, code: str) -> sqlite3.Error:
    exc = kind(text)
    exc.sqlite_errorname = code  # type: ignore[attr-defined]  # set by sqlite3 when raised
    return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_sqlite_error(sqlite3.OperationalError, "disk I/O error", "SQLITE_IOERR_WRITE"),
         r"cannot save: disk I/O error on /srv/store.db \(disk I/O error\)"),
        (_sqlite_error(sqlite3.OperationalError, "database or disk is full", "SQLITE_FULL"),
         "cannot save: the disk holding /srv/store.db is full"),
        (_sqlite_error(sqlite3.OperationalError, "attempt to write a readonly database",
                       "SQLITE_READONLY"),
         "cannot save: /srv/store.db is read-only"),
        (_sqlite_error(sqlite3.OperationalError, "database is locked", "SQLITE_BUSY"),
         r"the store /srv/store.db is locked .* after 2 s"),
        (_sqlite_error(sqlite3.DatabaseError, "database disk image is malformed",
                       "SQLITE_CORRUPT"),
         "is not an llm-rollout store or is damaged"),
        (_sqlite_error(sqlite3.OperationalError, "unable to open database file",
                       "SQLITE_CANTOPEN"),
         "check that its directory exists"),
        (_sqlite_error(sqlite3.OperationalError, "something new", "SQLITE_WEIRD"),
         r"cannot save \(/srv/store.db\): something new"),
    ],
)  # fmt: skip
def test_every_sqlite_failure_becomes_a_clear_store_error(
    exc: sqlite3.Error, expected: str
) -> None:
    mapped = mapped_error(exc, "save", "/srv/store.db", 2.0)
    assert type(mapped) is StoreError
    assert re.search(expected, str(mapped)), str(mapped)


def test_an_integrity_failure_is_a_conflict() -> None:
    exc = _sqlite_error(sqlite3.IntegrityError, "UNIQUE constraint failed", "SQLITE_CONSTRAINT")
    assert isinstance(mapped_error(exc, "save", "x", 1.0), ConflictError)
