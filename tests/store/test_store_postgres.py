"""What only the PostgreSQL store has to prove: many connections at once, a server that drops
connections, and a URL whose password must never be printed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psycopg
import pytest
from store_helpers import CLOCK_START, pg_admin, pg_connect, pg_drop, pg_schema, pg_url

from llm_rollout.errors import ConflictError, StoreError
from llm_rollout.records import Arm, RequestRecord, Role
from llm_rollout.store import open_store, pg_migrations
from llm_rollout.store._pg_errors import describe
from llm_rollout.store._pg_sql import window_from_columns
from llm_rollout.store.postgres import PostgresStore

SPEC = {"gates": {}}
MakeRecord = Callable[..., RequestRecord]


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    yield pg_url(tmp_path)
    pg_drop(tmp_path)


@pytest.fixture
def stores(url: str) -> Iterator[list[PostgresStore]]:
    """Four connections to the test's database (four replicas, say)."""
    opened = [PostgresStore(url) for _ in range(4)]
    yield opened
    for s in opened:
        s.close()


def _race(count: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` on ``count`` threads released at the same moment; results or errors."""
    gate = threading.Barrier(count)

    def run(i: int) -> object:
        gate.wait()
        try:
            return work(i)
        except StoreError as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_saves_at_one_revision_exactly_one_wins(stores: list[PostgresStore]) -> None:
    stores[0].create_rollout("r1", "chat", SPEC, {"n": 0}, 1.0)
    results = _race(
        4,
        lambda i: stores[i].save_rollout(
            "r1", {"n": i}, 1, True, 2.0, events=[("step", {"by": i})]
        ),
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if r not in winners)
    row = stores[1].get_rollout("r1")
    assert row.revision == 2
    assert [e.data for e in stores[2].events("r1")] == [{"by": row.state["n"]}]


def test_concurrent_creates_leave_one_active_rollout_per_model(stores: list[PostgresStore]) -> None:
    results = _race(4, lambda i: stores[i].create_rollout(f"r{i}", "chat", SPEC, {}, 1.0))
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, Exception))
    assert len(stores[0].list_rollouts(active_only=True)) == 1


def test_concurrent_route_changes_of_two_models_both_survive(stores: list[PostgresStore]) -> None:
    stores[0].create_rollout("a", "chat", SPEC, {}, 1.0)
    stores[0].create_rollout("b", "embed", SPEC, {}, 1.0)
    for round_ in range(10):
        _race(
            2,
            lambda i, r=round_: stores[i].save_rollout(  # type: ignore[misc]
                "ab"[i],
                {},
                r + 1,
                True,
                2.0,
                route=(("chat", "embed")[i], {"weight": r}, "ci", "step"),
            ),
        )
    policy = stores[0].current_policy()
    assert policy is not None
    assert policy.doc["routes"] == {"chat": {"weight": 9}, "embed": {"weight": 9}}
    assert policy.version == 20


def test_concurrent_leases_have_one_holder(stores: list[PostgresStore]) -> None:
    results = _race(4, lambda i: stores[i].acquire_lease("leader", f"h{i}", 10.0, 1.0))
    assert results.count(True) == 1


def test_a_new_database_opened_at_once_is_migrated_once(url: str) -> None:
    results = _race(4, lambda i: PostgresStore(url, clock=lambda: float(i)))
    stores = [r for r in results if isinstance(r, PostgresStore)]
    try:
        assert len(stores) == 4
        applied = stores[0].applied_migrations()
        assert [name for name, _ in applied] == [name for name, _ in pg_migrations.MIGRATIONS]
        assert len({when for _, when in applied}) == 1  # one opener applied them all
    finally:
        for s in stores:
            s.close()


def test_a_failing_migration_applies_nothing(url: str) -> None:
    broken = [*pg_migrations.MIGRATIONS, ("9999_broken", "CREATE TABLE extra (a int); nope;")]
    with psycopg.connect(url, autocommit=True) as db:
        with pytest.raises(psycopg.errors.SyntaxError):
            pg_migrations.migrate(db, 1.0, broken)
        assert pg_migrations.applied(db) == []
        assert pg_migrations.pending(db) == [name for name, _ in pg_migrations.MIGRATIONS]


def test_a_database_from_a_newer_version_is_refused(url: str) -> None:
    PostgresStore(url).close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("INSERT INTO migrations (name, applied) VALUES ('9999_future', 1.0)")
    with pytest.raises(StoreError, match=r"newer llm-rollout.*9999_future"):
        PostgresStore(url)


def test_the_unique_index_guards_active_rows_even_behind_the_api(url: str) -> None:
    with PostgresStore(url) as store:
        store.create_rollout("r1", "chat", SPEC, {}, 1.0)
        store.create_rollout("r2", "other", SPEC, {}, 1.0)
    with (
        psycopg.connect(url, autocommit=True) as db,
        pytest.raises(psycopg.errors.UniqueViolation),
    ):
        db.execute("UPDATE rollouts SET model = 'chat' WHERE id = 'r2'")


def test_a_dropped_connection_is_replaced_on_the_next_call(url: str) -> None:
    with PostgresStore(url) as store:
        store.publish_policy({"routes": {}}, "ci", "first", 1.0)
        assert store._db is not None
        pid = store._db.info.backend_pid
        with pg_admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StoreError, match="cannot read the policy version"):
            store.policy_version()  # the call that finds the connection gone fails clearly
        assert store.policy_version() == 1  # and the next one reconnects


def test_the_password_never_appears_in_errors_or_repr(tmp_path: Path) -> None:
    schema = pg_schema(tmp_path)
    secret = "pa55-w0rd"
    urls = [
        f"postgresql://nobody:{secret}@127.0.0.1:5432/test?options=-csearch_path%3D{schema}",
        f"postgresql://nobody@127.0.0.1:5432/test?password={secret}",
        f"postgres://nobody:{secret}@127.0.0.1:1/test",  # nothing listens on port 1
    ]
    for url in urls:
        with pytest.raises(StoreError) as err:
            open_store(url, env={})
        assert secret not in str(err.value)
        assert secret not in repr(err.value)
        assert "postgresql://nobody@127.0.0.1:" in str(err.value)
    assert describe(urls[0]) == "postgresql://nobody@127.0.0.1:5432/test"


def test_repr_names_the_server_without_the_password(url: str) -> None:
    with PostgresStore(url) as store:
        assert repr(store) == "PostgresStore('postgresql://postgres@127.0.0.1:5432/test')"


def test_open_store_opens_a_postgres_url(url: str) -> None:
    store = open_store(env={"LLM_ROLLOUT_HOME": url})
    try:
        assert isinstance(store, PostgresStore)
        assert store.policy_version() == 0
    finally:
        store.close()


def test_the_window_reader_refuses_columns_that_do_not_line_up() -> None:
    with pytest.raises(StoreError, match="unequal or odd lengths"):
        window_from_columns([bytes(8), bytes(16), bytes(8), bytes(8)])
    with pytest.raises(StoreError, match="unequal or odd lengths"):
        window_from_columns([bytes(3)] * 4)
    assert window_from_columns([b""] * 4).n == 0


def test_a_large_window_comes_back_exactly(tmp_path: Path, make_record: MakeRecord) -> None:
    rng = np.random.default_rng(7)
    latency = rng.uniform(1, 5000, 3000).round(3)
    records = [
        make_record(
            f"q{i}",
            time=CLOCK_START + i,
            arm=Arm.CANDIDATE if i % 2 else Arm.BASELINE,
            latency_ms=float(latency[i]),
            completion_tokens=i,
            ttft_ms=None if i % 3 else float(i),
        )
        for i in range(3000)
    ]
    store = pg_connect(tmp_path)
    try:
        store.append_records(records)
        base, cand = store.read_window("r1", 0, Role.SERVE, CLOCK_START, CLOCK_START + 3000)
        np.testing.assert_array_equal(base.latency_ms, latency[0::2])
        np.testing.assert_array_equal(cand.completion_tokens, np.arange(1, 3000, 2))
        assert np.isnan(cand.ttft_ms[cand.completion_tokens % 3 != 0]).all()
    finally:
        store.close()
        pg_drop(tmp_path)
