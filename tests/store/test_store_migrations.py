"""Named, transactional migrations and how a store is found and opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llm_rollout.errors import StoreError
from llm_rollout.store import DB_FILE, HOME_ENV, SQLiteStore, open_store, store_home
from llm_rollout.store.migrations import MIGRATIONS, applied, migrate, pending, statements

NAMES = [name for name, _ in MIGRATIONS]


def test_a_new_store_has_every_migration_applied(store: SQLiteStore) -> None:
    assert store.pending_migrations() == []
    assert store.applied_migrations() == [(name, 1_700_000_000.0) for name in NAMES]


def test_migration_names_are_unique_and_ordered() -> None:
    assert len(set(NAMES)) == len(NAMES)
    assert sorted(NAMES) == NAMES


def test_reopening_applies_nothing_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with SQLiteStore(path, clock=lambda: 10.0) as first:
        first.publish_policy({"routes": {}}, "ci", "first", 1.0)
    with SQLiteStore(path, clock=lambda: 20.0) as again:
        assert again.applied_migrations() == [(name, 10.0) for name in NAMES]
        assert again.pending_migrations() == []
        assert again.policy_version() == 1


def test_pending_then_applied_on_a_raw_connection() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    assert applied(db) == []
    assert pending(db) == NAMES
    assert migrate(db, 5.0) == NAMES
    assert pending(db) == []
    assert migrate(db, 6.0) == []  # idempotent
    assert [when for _, when in applied(db)] == [5.0] * len(NAMES)


def test_a_failing_migration_applies_nothing() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    broken = [*MIGRATIONS, ("9999_broken", "CREATE TABLE extra (a); SELECT nope FROM missing;")]
    with pytest.raises(sqlite3.OperationalError, match="missing"):
        migrate(db, 1.0, broken)
    assert applied(db) == []
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == set()  # not even the migrations ledger survived the rollback


def test_a_later_migration_is_applied_on_reopen() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db, 1.0)
    later = [*MIGRATIONS, ("9000_extra", "CREATE TABLE extra (a INTEGER);")]
    assert pending(db, later) == ["9000_extra"]
    assert migrate(db, 2.0, later) == ["9000_extra"]
    assert applied(db)[-1] == ("9000_extra", 2.0)


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO migrations (name, applied) VALUES ('9999_future', 1.0)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=r"newer llm-rollout.*9999_future"):
        SQLiteStore(path)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("CREATE TABLE a (x); CREATE TABLE b (y);", ["CREATE TABLE a (x);", "CREATE TABLE b (y);"]),
        ("INSERT INTO t VALUES ('a;b');", ["INSERT INTO t VALUES ('a;b');"]),
        ("CREATE TABLE a (x -- note; more\n);", ["CREATE TABLE a (x -- note; more\n);"]),
        ("  \n ; ", []),
    ],
)
def test_statements_split_only_at_statement_ends(script: str, expected: list[str]) -> None:
    assert statements(script) == expected


# --- open_store: where the store lives --------------------------------------------------------
def test_open_store_uses_the_argument_first(tmp_path: Path) -> None:
    home = tmp_path / "arg" / "nested"
    store = open_store(home, env={HOME_ENV: str(tmp_path / "env")})
    store.close()
    assert (home / DB_FILE).is_file()
    assert not (tmp_path / "env").exists()


def test_open_store_falls_back_to_the_environment(tmp_path: Path) -> None:
    open_store(env={HOME_ENV: str(tmp_path / "env")}).close()
    assert (tmp_path / "env" / DB_FILE).is_file()


def test_open_store_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    open_store(env={HOME_ENV: ""}).close()
    assert (tmp_path / ".llm-rollout" / DB_FILE).is_file()


def test_open_store_reads_os_environ_when_no_mapping_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "from-os"))
    assert store_home() == str(tmp_path / "from-os")


def test_open_store_in_memory() -> None:
    store = open_store(":memory:", env={})
    assert store.policy_version() == 0
    store.close()


@pytest.mark.parametrize(
    "url", ["postgresql://u:s3cret@127.0.0.1:1/rollouts", "postgres://u:s3cret@127.0.0.1:1/db"]
)
def test_an_unreachable_postgres_url_gives_a_clear_error(url: str) -> None:
    for kwargs in ({"home": url, "env": {}}, {"env": {HOME_ENV: url}}):
        with pytest.raises(StoreError, match="cannot reach PostgreSQL at postgresql://u@") as err:
            open_store(**kwargs)  # type: ignore[arg-type]
        assert "s3cret" not in str(err.value)


def test_a_home_that_is_a_file_gives_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="store directory"):
        open_store(blocker / "home", env={})
    with pytest.raises(StoreError, match="not a directory"):
        open_store(blocker, env={})
