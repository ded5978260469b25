"""Policy hot reload: poll the store's policy version and swap the routing table atomically.

Every ``interval`` seconds (default 50 ms) the watcher asks the store for ``policy_version()``,
one cheap query. A store that pushes versions (PostgreSQL's LISTEN/NOTIFY, see
:class:`~llm_rollout.store.base.PolicyPush`) wakes it as soon as a version commits; the poll
stays, as the backstop for a push lost while the listener reconnects. When the version
changed, it loads the document and the model versions it references and replaces
:attr:`PolicyWatcher.table` in one assignment. A request reads the table once, at
its start, so in-flight requests finish on the arm they started on and the next request uses
the new policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import LlmRolloutError
from ..policy import Policy, Route
from ..registry import ModelVersion
from ..store.base import Closeable, PolicyPush
from .metrics import GatewayMetrics
from .writer import StoreThread

log = logging.getLogger("llm_rollout.gateway")
NEGATIVE_TTL = 1.0  # seconds an unknown model name is remembered as unknown


@dataclass(frozen=True)
class RoutingTable:
    policy: Policy
    versions: dict[str, ModelVersion] = field(default_factory=dict)  # digest -> version

    def route(self, model: str) -> Route | None:
        return self.policy.routes.get(model)


def _load_table(store_thread: StoreThread) -> RoutingTable:
    """Runs on the store thread: the current policy and every version it references."""
    store = store_thread.store
    current = store.current_policy()
    if current is None:
        return RoutingTable(Policy(0))
    policy = Policy.from_doc(current.version, current.doc)
    versions: dict[str, ModelVersion] = {}
    routes: dict[str, Route] = {}
    for name, route in policy.routes.items():
        try:
            for digest in (route.baseline, route.candidate):
                if digest is not None and digest not in versions:
                    versions[digest] = store.get_model(digest)
        except LlmRolloutError as exc:
            log.error("policy v%d: route %r skipped: %s", policy.version, name, exc)
            continue
        routes[name] = route
    return RoutingTable(Policy(policy.version, routes), versions)


class PolicyWatcher:
    def __init__(
        self,
        store: StoreThread,
        metrics: GatewayMetrics,
        interval: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._interval = interval
        self._clock = clock
        self.table = RoutingTable(Policy(0))
        self._models: dict[str, tuple[ModelVersion, str]] = {}
        self._unknown: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.listener: Closeable | None = None
        metrics.gauge("policy_version", lambda: float(self.table.policy.version))

    async def load(self) -> None:
        self.table = await self._store.call(_load_table, self._store)
        self._models.clear()
        self._unknown.clear()

    def start(self) -> None:
        store = self._store.store
        if isinstance(store, PolicyPush):
            loop = asyncio.get_running_loop()

            def wake(version: int) -> None:  # on the listener's thread
                if version != self.table.policy.version and not loop.is_closed():
                    loop.call_soon_threadsafe(self._wake.set)

            self.listener = store.listen_policy(wake)
        self._task = asyncio.create_task(self._run(), name="llm-rollout-policy-watch")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # the poll: no push within the interval
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                version = await self._store.call(self._store.store.policy_version)
                if version != self.table.policy.version:
                    await self.load()
                    log.info("routing by policy version %d", self.table.policy.version)
            except Exception:  # keep routing by the last good table; say why
                log.exception("policy poll failed; keeping version %d", self.table.policy.version)

    async def stop(self) -> None:
        if self.listener is not None:
            await asyncio.to_thread(self.listener.close)
            self.listener = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def direct_model(self, ref: str) -> tuple[ModelVersion, str] | None:
        """(version, digest) of the registered model named by ``name`` or ``name@sha256:...``
        (served without a rollout), cached until the policy changes."""
        found = self._models.get(ref)
        if found is not None:
            return found
        now = self._clock()
        if self._unknown.get(ref, -1.0) > now:
            return None
        try:
            version = await self._store.call(self._store.store.resolve_model, ref)
        except LlmRolloutError:
            if len(self._unknown) > 10_000:
                self._unknown.clear()
            self._unknown[ref] = now + NEGATIVE_TTL
            return None
        found = self._models[ref] = (version, version.digest)
        return found

    async def model_names(self) -> list[str]:
        """Routed (logical) model names and registered model names."""
        try:
            registered = await self._store.call(self._store.store.list_models)
        except LlmRolloutError:
            registered = []
        return sorted({*self.table.policy.routes, *(v.name for v in registered)})
