"""PostgreSQL pushes new policy versions to gateways (LISTEN/NOTIFY), and a gateway whose
listening connection was killed catches up on reconnect, before any poll would."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_helpers import pg_admin, pg_drop, pg_url

from llm_rollout.errors import ConflictError
from llm_rollout.gateway.metrics import GatewayMetrics
from llm_rollout.gateway.policy_watch import PolicyWatcher
from llm_rollout.gateway.writer import StoreThread
from llm_rollout.store.base import PolicyPush
from llm_rollout.store.pg_listen import PolicyListener
from llm_rollout.store.postgres import PostgresStore
from llm_rollout.store.sqlite import MEMORY, SQLiteStore

NO_POLL = 3600.0  # the watcher's backstop poll never runs within a test: only the push can


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    yield pg_url(tmp_path)
    pg_drop(tmp_path)


async def _until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def test_only_the_postgres_store_pushes(url: str) -> None:
    with PostgresStore(url) as pg, SQLiteStore(MEMORY) as lite:
        assert isinstance(pg, PolicyPush)
        assert not isinstance(lite, PolicyPush)


def test_the_listener_reports_the_current_version_then_each_publish(url: str) -> None:
    seen: list[int] = []
    got = threading.Condition()

    def on_version(version: int) -> None:
        with got:
            seen.append(version)
            got.notify_all()

    with PostgresStore(url) as store:
        store.publish_policy({"routes": {}}, "ci", "v1", 1.0)
        listener = store.listen_policy(on_version)
        try:
            with got:
                assert got.wait_for(lambda: seen == [1], timeout=10)
            store.publish_policy({"routes": {}}, "ci", "v2", 2.0)
            store.create_rollout("r1", "chat", {}, {}, 3.0)
            store.save_rollout("r1", {}, 1, True, 4.0, route=("chat", {"w": 1}, "ci", "step"))
            with got:
                assert got.wait_for(lambda: seen == [1, 2, 3], timeout=10)
        finally:
            listener.close()


def test_a_rolled_back_transaction_notifies_nothing(url: str) -> None:
    seen: list[int] = []
    with PostgresStore(url) as store:
        store.create_rollout("r1", "chat", {}, {}, 1.0)
        listener = PolicyListener(url, seen.append).start()
        try:
            deadline = time.monotonic() + 10
            while listener.connects == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            with pytest.raises(ConflictError, match="changed since it was read"):
                store.save_rollout("r1", {}, 7, True, 2.0, policy=({"routes": {}}, "ci", "x"))
            time.sleep(0.3)
            assert seen == [0]
        finally:
            listener.close()


def test_a_rollback_published_while_the_listener_is_down_is_applied_on_reconnect(
    url: str,
) -> None:
    store = PostgresStore(url)
    publisher = PostgresStore(url)  # the controller, elsewhere
    store.publish_policy({"routes": {}}, "ci", "v1", 1.0)

    async def scenario() -> None:
        thread = StoreThread(store)
        watcher = PolicyWatcher(thread, GatewayMetrics(), interval=NO_POLL)
        await watcher.load()
        watcher.start()
        try:
            listener = watcher.listener
            assert isinstance(listener, PolicyListener)
            await _until(lambda: listener.connects == 1, "the listener to connect")
            publisher.publish_policy({"routes": {}}, "ci", "step", 2.0)
            await _until(lambda: watcher.table.policy.version == 2, "the pushed step")

            with pg_admin() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (listener.backend_pid,))
            # Published while the listener is down: its NOTIFY reaches no one.
            publisher.publish_policy({"routes": {}}, "ci", "rollback", 3.0)
            await _until(lambda: watcher.table.policy.version == 3, "the rollback")
            assert listener.connects == 2  # seen on reconnect, not by a notification
        finally:
            await watcher.stop()
            thread.shutdown()

    try:
        asyncio.run(scenario())
    finally:
        store.close()
        publisher.close()
