"""The controller's admin HTTP API: a small raw ASGI app over :mod:`llm_rollout.operations`.

    GET  /healthz                          liveness (the only endpoint without a token)
    GET  /status[?rollout=ID]              every active rollout's status, or one rollout's
    GET  /rollouts                         every rollout: id, model, phase, active
    GET  /rollouts/{id}                    one rollout's status
    POST /rollouts/{id}/{command}          pause | resume | promote | rollback | abort;
                                           optional JSON body {"reason": ..., "actor": ...}
    GET  /history[?rollout=ID&limit=N]     the audit log
    GET  /policy[?limit=N]                 the current and past policy versions

Every endpoint but ``/healthz`` needs ``Authorization: Bearer <token>``: 401 when it is
missing, 403 when it is wrong. The comparison is :func:`hmac.compare_digest`, whose time does
not depend on where the tokens differ. Library errors map to statuses: unknown rollout 404,
command that does not apply 409, bad input 400, store unavailable 503. Store calls run in a
worker thread so a slow store never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

import orjson

from ..controller import CommandKind
from ..errors import ConflictError, LlmRolloutError, StoreError
from ..operations import RolloutNotFoundError, command, event_summary, find_rollout, status
from ..spec import Method
from ..store.base import Store

log = logging.getLogger("llm_rollout.controller.admin")
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
MAX_BODY = 64 * 1024
DEFAULT_ACTOR = "admin-api"


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class AdminAPI:
    """The ASGI app. ``token`` is the bearer token every request but /healthz must carry."""

    def __init__(
        self,
        store: Store,
        token: str,
        *,
        clock: Callable[[], float] = time.time,
        method: Method | None = None,
    ) -> None:
        if not token:
            raise ValueError("the admin API needs a non-empty token")
        self.store = store
        self._token_hash = _hash(token.encode())
        self.clock = clock
        self.method = method

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].removeprefix("lifespan.")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        try:
            status_code, body = await self._dispatch(scope, receive)
            await _send(send, status_code, body)
        except HTTPError as exc:
            await _send(send, exc.status, {"error": exc.message}, exc.headers)
        except Exception:
            log.exception("admin API: unhandled error on %s", scope.get("path"))
            await _send(send, 500, {"error": "internal error"})

    # --- auth ---------------------------------------------------------------------------
    def authorize(self, scope: Scope) -> None:
        given = None
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                given = value
        if given is None:
            raise HTTPError(
                401, "missing bearer token", ((b"www-authenticate", b'Bearer realm="admin"'),)
            )
        scheme, _, token = given.partition(b" ")
        # Constant time: compare_digest's time does not depend on where the bytes differ, and
        # comparing fixed-length hashes keeps it from revealing the token's length too.
        same = hmac.compare_digest(_hash(token.strip()), self._token_hash)
        if scheme.lower() != b"bearer" or not same:
            raise HTTPError(403, "wrong bearer token")

    # --- routing ------------------------------------------------------------------------
    async def _dispatch(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        path: str = scope["path"].rstrip("/") or "/"
        method: str = scope["method"]
        if path == "/healthz":
            return 200, {"status": "ok"}
        self.authorize(scope)
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        parts = path.strip("/").split("/")
        if parts == ["status"]:
            _allow(method, "GET")
            return 200, await self._call(self._status, query.get("rollout"))
        if parts == ["rollouts"]:
            _allow(method, "GET")
            return 200, await self._call(self._list)
        if len(parts) == 2 and parts[0] == "rollouts":
            _allow(method, "GET")
            return 200, await self._call(self._one, parts[1])
        if len(parts) == 3 and parts[0] == "rollouts":
            _allow(method, "POST")
            try:
                kind = CommandKind(parts[2])
            except ValueError:
                raise HTTPError(404, f"unknown command {parts[2]!r}") from None
            body = await _json_body(receive)
            return 200, await self._call(self._command, parts[1], kind, body)
        if parts == ["history"]:
            _allow(method, "GET")
            return 200, await self._call(self._history, query.get("rollout"), query.get("limit"))
        if parts == ["policy"]:
            _allow(method, "GET")
            return 200, await self._call(self._policy, query.get("limit"))
        raise HTTPError(404, f"no endpoint {path}")

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except RolloutNotFoundError as exc:
            raise HTTPError(404, str(exc)) from exc
        except ConflictError as exc:
            raise HTTPError(409, str(exc)) from exc
        except StoreError as exc:
            raise HTTPError(503, str(exc)) from exc
        except (LlmRolloutError, ValueError) as exc:
            raise HTTPError(400, str(exc)) from exc

    # --- handlers (run in a worker thread) ----------------------------------------------
    def _status(self, rollout: str | None) -> dict[str, Any]:
        now = self.clock()
        if rollout is not None:
            return status(self.store, rollout, now=now, method=self.method)
        rows = self.store.list_rollouts(active_only=True)
        return {
            "rollouts": [status(self.store, r.id, now=now, method=self.method) for r in rows],
            "time": now,
        }

    def _list(self) -> dict[str, Any]:
        return {
            "rollouts": [
                {
                    "rollout": r.id,
                    "model": r.model,
                    "phase": r.state.get("phase"),
                    "step": r.state.get("step"),
                    "active": r.active,
                    "created": r.created,
                    "updated": r.updated,
                }
                for r in self.store.list_rollouts()
            ]
        }

    def _one(self, rollout: str) -> dict[str, Any]:
        find_rollout(self.store, rollout)
        return status(self.store, rollout, now=self.clock(), method=self.method)

    def _command(self, rollout: str, kind: CommandKind, body: dict[str, Any]) -> dict[str, Any]:
        actor = str(body.get("actor") or DEFAULT_ACTOR)
        reason = str(body.get("reason") or "")
        now = self.clock()
        row = command(self.store, rollout, kind, actor=actor, reason=reason, now=now)
        current = self.store.current_policy()
        return {
            "rollout": row.id,
            "command": kind.value,
            "phase": row.state["phase"],
            "step": row.state["step"],
            "revision": row.revision,
            "policy_version": 0 if current is None else current.version,
            "time": now,
        }

    def _history(self, rollout: str | None, limit: str | None) -> dict[str, Any]:
        rid = None if rollout is None else find_rollout(self.store, rollout).id
        events = self.store.events(rid, limit=_limit(limit, 1000))
        return {"events": [event_summary(e) | {"data": e.data} for e in events]}

    def _policy(self, limit: str | None) -> dict[str, Any]:
        return {"versions": [asdict(p) for p in self.store.policy_history(_limit(limit, 50))]}


def _hash(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise HTTPError(405, f"use {allowed}", ((b"allow", allowed.encode()),))


def _limit(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        raise HTTPError(400, f"limit must be an integer, got {value!r}") from None
    if not 1 <= n <= 100_000:
        raise HTTPError(400, "limit must be within 1..100000")
    return n


async def _json_body(receive: Receive) -> dict[str, Any]:
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPError(400, "client disconnected")
        part: bytes = message.get("body", b"")
        size += len(part)
        if size > MAX_BODY:
            raise HTTPError(413, f"body larger than {MAX_BODY} bytes")
        chunks.append(part)
        more = message.get("more_body", False)
    raw = b"".join(chunks).strip()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HTTPError(400, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "body must be a JSON object")
    return body


async def _send(
    send: Send, status_code: int, body: Any, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


def serve_in_thread(app: AdminAPI, host: str, port: int, timeout: float = 10.0) -> AdminServer:
    """Serve ``app`` with uvicorn on a daemon thread; returns once it listens."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, name="llm-rollout-admin", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise LlmRolloutError(f"the admin API could not listen on {host}:{port}")
        time.sleep(0.01)
    return AdminServer(server, thread)


class AdminServer:
    """A running admin API; :meth:`stop` shuts it down."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
