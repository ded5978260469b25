"""Store access off the event loop, and the batched record writer.

:class:`StoreThread` runs every store call on one dedicated thread, in submission order. One
thread means SQLite (even ``:memory:``) sees one connection user, and FIFO order is what makes
feedback safe: a record's batch is always submitted before feedback that refers to it.

:class:`RecordWriter` buffers records on the event loop and flushes them as one
``append_records`` call every ``interval`` seconds or every ``batch_size`` records. When the
buffer holds ``max_queue`` records (the store cannot keep up) new records are dropped and
counted in ``records_dropped_total`` and the log; a clean shutdown flushes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..errors import InvalidDataError
from ..records import RequestRecord
from ..store.base import Store
from .metrics import GatewayMetrics

log = logging.getLogger("llm_rollout.gateway")
T = TypeVar("T")
RETRIES = 3


class StoreThread:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-rollout-store")

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue ``fn(*args)`` on the store thread now; await the returned future for its result."""
        return asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        # shield: a cancelled caller must not cancel a store write queued behind others
        return await asyncio.shield(self.submit(fn, *args))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


class RecordWriter:
    def __init__(
        self,
        store: StoreThread,
        metrics: GatewayMetrics,
        batch_size: int = 500,
        interval: float = 0.1,
        max_queue: int = 100_000,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._batch_size = batch_size
        self._interval = interval
        self._max_queue = max_queue
        self._buf: list[RequestRecord] = []
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._stopping = False
        self.dropped = 0
        metrics.gauge("record_queue_depth", lambda: float(self.depth))

    @property
    def depth(self) -> int:
        return len(self._buf) + self._in_flight

    def submit(self, record: RequestRecord) -> bool:
        """Queue one record (event loop thread). False when dropped because the queue is full."""
        if self.depth >= self._max_queue:
            self.dropped += 1
            self._metrics.inc("records_dropped_total", (("reason", "queue_full"),))
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "record queue full (%d): %d records dropped", self._max_queue, self.dropped
                )
            return False
        self._buf.append(record)
        if len(self._buf) >= self._batch_size:
            self._wake.set()
        return True

    def holds(self, request_id: str) -> bool:
        """Is a record with this id still buffered (not yet handed to the store thread)?"""
        return any(r.request_id == request_id for r in self._buf)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="llm-rollout-record-writer")

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Hand the buffered records to the store thread and wait until they are written."""
        if not self._buf:
            async with self._write_lock:  # wait for a write already under way
                return
        batch, self._buf = self._buf, []
        self._in_flight += len(batch)
        # The executor call is submitted before any await: FIFO with later feedback.
        first = self._store.submit(self._store.store.append_records, batch)
        try:
            async with self._write_lock:
                await self._write(batch, first)
        finally:
            self._in_flight -= len(batch)

    async def _write(self, batch: list[RequestRecord], first: asyncio.Future[None]) -> None:
        attempt = first
        for n in range(RETRIES):
            try:
                await asyncio.shield(attempt)
                self._metrics.inc("records_written_total", (), len(batch))
                return
            except InvalidDataError as exc:
                # one impossible record must not sink its batch: keep the valid ones
                valid = [r for r in batch if _valid(r)]
                if len(valid) == len(batch):
                    valid = []  # the store rejects what validate() accepts: give up on them
                lost = len(batch) - len(valid)
                log.error("dropping %d invalid records: %s", lost, exc)
                self._metrics.inc("records_dropped_total", (("reason", "invalid"),), lost)
                batch = valid
                if not batch:
                    return
                attempt = self._store.submit(self._store.store.append_records, batch)
            except Exception as exc:  # StoreError or a bug in the store: both lose the batch
                if n == RETRIES - 1:
                    log.error(
                        "dropping %d records after %d failed writes: %s", len(batch), RETRIES, exc
                    )
                    self._metrics.inc(
                        "records_dropped_total", (("reason", "store_error"),), len(batch)
                    )
                    return
                await asyncio.sleep(0.05 * (n + 1))
                attempt = self._store.submit(self._store.store.append_records, batch)

    async def close(self) -> None:
        """Stop the timer and flush everything still buffered (graceful shutdown)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        while self._buf:
            await self.flush()
        async with self._write_lock:
            pass


def _valid(record: RequestRecord) -> bool:
    try:
        record.validate()
    except InvalidDataError:
        return False
    return True
