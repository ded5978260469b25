"""A store object may be shared by threads; several store objects may share one file."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from store_helpers import Backend

from llm_rollout.records import Arm, RequestRecord, Role
from llm_rollout.store import Store

MakeRecord = Callable[..., RequestRecord]
T0 = 1_700_000_000.0


def _batches(make_record: MakeRecord, writer: int) -> list[list[RequestRecord]]:
    return [
        [
            make_record(
                f"w{writer}-{b}-{i}", time=T0 + i, arm=Arm(("baseline", "candidate")[i % 2])
            )
            for i in range(20)
        ]
        for b in range(10)
    ]


def test_threads_sharing_one_store(store: Store, make_record: MakeRecord) -> None:
    def write(writer: int) -> None:
        for batch in _batches(make_record, writer):
            store.append_records(batch)
            store.publish_policy({"writer": writer}, "t", "x", 1.0)
            store.policy_version()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    base, cand = store.read_window("r1", 0, Role.SERVE, T0, T0 + 100)
    assert (base.n, cand.n) == (400, 400)
    assert store.policy_version() == 40


def test_two_connections_writing_one_database(
    shared_backend: Backend, tmp_path: Path, make_record: MakeRecord
) -> None:
    one, two = shared_backend.connect(tmp_path), shared_backend.connect(tmp_path)
    try:

        def write(writer: int) -> None:
            target = one if writer % 2 else two
            for batch in _batches(make_record, writer):
                target.append_records(batch)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(write, range(4)))
        for reader in (one, two):
            base, cand = reader.read_window("r1", 0, Role.SERVE, T0, T0 + 100)
            assert (base.n, cand.n) == (400, 400)
    finally:
        one.close()
        two.close()
