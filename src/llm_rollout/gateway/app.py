"""The gateway as a raw ASGI app: dispatch, lifespan, auth and the small endpoints.

``create_app(config, store=...)`` returns a :class:`Gateway`; any ASGI server runs it. Startup
(ASGI lifespan) opens the store if none was given, loads the policy and starts the record
writer and the policy watcher; shutdown lets shadow copies finish briefly, flushes every
queued record and closes the upstream pools. The generation endpoints live in
:mod:`.handlers`.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from ..store import is_database_url
from ..store.base import Store
from .capture import RefusalMatcher
from .config import GatewayConfig
from .errors import GatewayHTTPError
from .h1 import H1Upstream
from .handlers import Handlers
from .http import send_bytes, send_error, send_json
from .metrics import GatewayMetrics
from .payloads import PayloadLog
from .policy_watch import PolicyWatcher
from .proxy import Proxy
from .shadow import ShadowMirror
from .types import Message, Receive, Scope, Send
from .upstream import AiohttpUpstream, Upstream
from .validate import not_found
from .writer import RecordWriter, StoreThread

log = logging.getLogger("llm_rollout.gateway")
Handler = Callable[[Scope, Receive, Send, float], Awaitable[None]]
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNAUTHORIZED = GatewayHTTPError(
    401,
    "Incorrect or missing API key: send Authorization: Bearer <key>.",
    "invalid_request_error",
    "invalid_api_key",
)
INTERNAL = GatewayHTTPError(
    500, "The gateway failed to handle the request.", "server_error", "internal_error"
)
PROM = b"text/plain; version=0.0.4; charset=utf-8"


class Gateway:
    """The ASGI application. Inject ``store``, ``upstream`` and ``shadow_upstream`` in tests."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        store: Store | None = None,
        upstream: Upstream | None = None,
        shadow_upstream: Upstream | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._store_given = store
        self._env = os.environ if env is None else env
        self._clock = clock
        self.metrics = GatewayMetrics()
        self.upstream = upstream or upstream_client(config, config.upstream_max_connections)
        # a pool of its own: a hung candidate can hold shadow sockets, never the users' ones
        self.shadow_upstream = shadow_upstream or upstream_client(
            config, config.shadow_max_connections
        )
        self._keys = tuple(k.encode() for k in config.api_keys)
        self.ready = False
        self.store: Store | None = None
        self.handlers: Handlers | None = None
        self._parts: (
            tuple[StoreThread, RecordWriter, PolicyWatcher, ShadowMirror, PayloadLog | None] | None
        ) = None
        self._routes: dict[str, tuple[str, Handler]] = {
            "/healthz": ("GET", self._healthz),
            "/readyz": ("GET", self._readyz),
            "/metrics": ("GET", self._metrics),
        }

    # --- lifecycle ----------------------------------------------------------------------
    async def startup(self) -> None:
        store = self._store_given
        if store is None:
            from ..store import open_store

            if self.config.home is None:
                raise RuntimeError("the gateway needs a store: pass one or set home")
            store = open_store(self.config.home)
        assert store is not None
        self.store = store
        thread = StoreThread(store)
        cfg = self.config
        writer = RecordWriter(
            thread,
            self.metrics,
            cfg.record_batch_size,
            cfg.record_flush_interval,
            cfg.record_queue_max,
        )
        watcher = PolicyWatcher(thread, self.metrics, cfg.policy_poll_interval)
        await watcher.load()
        proxy = Proxy(
            self.upstream, writer, self.metrics, RefusalMatcher(cfg.refusal_phrases), env=self._env
        )
        payloads = None
        if cfg.store_payloads:
            if cfg.home is None or is_database_url(cfg.home):
                raise RuntimeError(
                    "store_payloads needs a directory home (payloads go to <home>/payloads)"
                )
            payloads = PayloadLog(Path(cfg.home) / "payloads", thread, self._clock)
        shadow = ShadowMirror(proxy, self.shadow_upstream, payloads)
        rng = random.Random(cfg.seed)
        self.handlers = Handlers(
            cfg,
            proxy=proxy,
            shadow=shadow,
            watcher=watcher,
            writer=writer,
            store=thread,
            metrics=self.metrics,
            payloads=payloads,
            rng=rng,
            clock=self._clock,
        )
        self._routes.update(self.handlers.routes())
        self._parts = (thread, writer, watcher, shadow, payloads)
        writer.start()
        watcher.start()
        self.ready = True
        log.info("gateway ready: policy version %d", watcher.table.policy.version)

    async def shutdown(self) -> None:
        self.ready = False
        if self._parts is None:
            return
        thread, writer, watcher, shadow, payloads = self._parts
        await watcher.stop()
        await shadow.close()
        await writer.close()
        if payloads is not None:
            await payloads.close()
        await self.upstream.close()
        await self.shadow_upstream.close()
        thread.shutdown()
        if self._store_given is None and self.store is not None:
            self.store.close()
        self._parts = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("gateway failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- dispatch -----------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        path: str = scope["path"]
        entry = self._routes.get(path)
        try:
            if entry is None:
                raise not_found(path)
            method, handler = entry
            if scope["method"] != method:
                raise GatewayHTTPError(
                    405,
                    f"{path} accepts {method} only.",
                    "invalid_request_error",
                    "method_not_allowed",
                )
            if self._keys and path not in OPEN_PATHS and not self._authorized(scope):
                raise UNAUTHORIZED
            await handler(scope, receive, send, start)
        except GatewayHTTPError as exc:
            self.metrics.inc("http_errors_total", (("status", str(exc.status)),))
            await send_error(send, exc)
        except Exception:  # a bug or a failing store: still an OpenAI-style answer
            log.exception("unhandled error on %s", path)
            self.metrics.inc("http_errors_total", (("status", "500"),))
            with contextlib.suppress(Exception):  # fails when the response had started
                await send_error(send, INTERNAL)

    def _authorized(self, scope: Scope) -> bool:
        given = b""
        for k, v in scope["headers"]:
            if k == b"authorization":
                given = v
        token = given[7:].strip() if given[:7].lower() == b"bearer " else b""
        ok = False
        for key in self._keys:  # compare with every key: timing reveals nothing
            ok |= hmac.compare_digest(token, key)
        return ok

    async def _healthz(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        await send_json(send, 200, {"status": "ok"})

    async def _readyz(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        if not self.ready or self._parts is None:
            await send_json(send, 503, {"status": "starting"})
            return
        watcher = self._parts[2]
        await send_json(
            send, 200, {"status": "ready", "policy_version": watcher.table.policy.version}
        )

    async def _metrics(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        await send_bytes(send, 200, self.metrics.render(), PROM)


def upstream_client(config: GatewayConfig, max_connections: int) -> Upstream:
    """The configured HTTP client with its own pool of at most ``max_connections``."""
    if config.upstream_client == "aiohttp":
        return AiohttpUpstream(max_connections, config.upstream_connect_timeout)
    return H1Upstream(max_connections, config.upstream_connect_timeout)


def create_app(config: GatewayConfig, **kwargs: Any) -> Gateway:
    return Gateway(config, **kwargs)


__all__ = ["Gateway", "Message", "create_app"]
