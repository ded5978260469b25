"""The OpenAI-compatible endpoints: chat and completions (streamed or not), embeddings,
models, and feedback.

A generation request is read and validated, routed by the routing table it read at its start
(so a policy swap never moves an in-flight request), rewritten for the chosen version, mirrored
to the candidate when the route samples it for shadow, sent, answered, then recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ..policy import BUCKETS, Route, choose_arm
from ..records import Arm, Feedback, Role, Status
from .capture import StreamCapture, prompt_chars
from .config import GatewayConfig
from .errors import GatewayHTTPError, error_body, model_not_found
from .http import header, read_body, send_bytes, send_json
from .metrics import GatewayMetrics
from .payloads import PayloadLog
from .policy_watch import PolicyWatcher, RoutingTable
from .proxy import Call, Proxy, Result, billed_chars, reid, upstream_payload
from .shadow import ShadowMirror
from .types import Headers, Receive, Scope, Send
from .upstream import UpstreamResponse, UpstreamTimeout, UpstreamUnavailable
from .validate import parse_feedback, parse_generation
from .writer import RecordWriter, StoreThread

Handler = Callable[[Scope, Receive, Send, float], Awaitable[None]]
SSE = b"text/event-stream"


@dataclass(slots=True)
class Exchange:
    """One client request on its way through: what was asked and the table it is routed by."""

    receive: Receive
    send: Send
    start: float  # perf_counter when the request reached the app
    raw: bytes
    body: dict[str, Any]
    pchars: int
    stream: bool
    route: Route | None
    table: RoutingTable


class RequestIds:
    """Request ids that sort by time and cannot be guessed: ``req_``, 12 hex digits of unix
    milliseconds, 20 hex digits (80 bits) from ``os.urandom``.

    Time first: the store's ``(request_id, role)`` index then grows at its end instead of
    taking writes all over. Unguessable: an id is what feedback refers to, so a client must
    not be able to rate other users' requests by guessing. The random bytes are read for 400
    ids at a time rather than with one system call per id.
    """

    RANDOM_BYTES = 10
    POOL_BYTES = 4000

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        at = self._at
        if at + self.RANDOM_BYTES > len(self._pool):
            self._pool, at = os.urandom(self.POOL_BYTES), 0
        self._at = at + self.RANDOM_BYTES
        millis = int(self._clock() * 1000) & 0xFFFF_FFFF_FFFF
        return f"req_{millis:012x}{self._pool[at : self._at].hex()}"


class Handlers:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        proxy: Proxy,
        shadow: ShadowMirror,
        watcher: PolicyWatcher,
        writer: RecordWriter,
        store: StoreThread,
        metrics: GatewayMetrics,
        payloads: PayloadLog | None,
        rng: random.Random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.proxy = proxy
        self.shadow = shadow
        self.watcher = watcher
        self.writer = writer
        self.store = store
        self.metrics = metrics
        self.payloads = payloads
        self.rng = rng
        self.clock = clock
        self.perf = time.perf_counter
        self._sticky = config.sticky_header.encode()
        self._ids = RequestIds(clock)

    def routes(self) -> dict[str, tuple[str, Handler]]:
        return {
            "/v1/chat/completions": ("POST", self.chat),
            "/v1/completions": ("POST", self.completions),
            "/v1/embeddings": ("POST", self.embeddings),
            "/v1/models": ("GET", self.models),
            "/v1/feedback": ("POST", self.feedback),
        }

    async def chat(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        await self._generate(scope, receive, send, start, "chat")

    async def completions(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        await self._generate(scope, receive, send, start, "completions")

    # --- routing ------------------------------------------------------------------------
    async def _route(
        self, scope: Scope, body: dict[str, Any], endpoint: str, role_split: bool = True
    ) -> tuple[Call, Route | None, RoutingTable]:
        model: str = body["model"]
        table = self.watcher.table
        route = table.route(model)
        rid = self._ids.next()
        if route is None:
            found = await self.watcher.direct_model(model)
            if found is None:
                raise model_not_found(model)
            version, digest = found
            call = Call(
                rid,
                endpoint,
                Arm.BASELINE,
                Role.SERVE,
                version,
                digest,
                "",
                -1,
                table.policy.version,
                None,
                self.clock(),
            )
            return call, None, table
        raw_key = header(scope, self._sticky)
        key = raw_key.decode("latin-1") if raw_key else body.get("user") or None
        if role_split:
            arm, bucket = choose_arm(self._misweighted(route), key, self.rng)
        else:
            arm, bucket = Arm.BASELINE, None
        digest = route.candidate if arm is Arm.CANDIDATE and route.candidate else route.baseline
        call = Call(
            rid,
            endpoint,
            arm,
            Role.SERVE,
            table.versions[digest],
            digest,
            route.rollout_id or "",
            route.step,
            table.policy.version,
            bucket,
            self.clock(),
        )
        return call, route, table

    def _misweighted(self, route: Route) -> Route:
        """The route itself, unless the test-only ``test_skew_candidate_bp`` is set."""
        skew = self.config.test_skew_candidate_bp
        if skew == 0 or route.candidate_bp == 0:
            return route
        return replace(route, candidate_bp=min(BUCKETS, route.candidate_bp + skew))

    def _maybe_shadow(self, call: Call, req: Exchange) -> None:
        route, table, body = req.route, req.table, req.body
        if route is None or call.arm is not Arm.BASELINE or route.candidate is None:
            return
        sample = route.shadow_sample
        if sample <= 0.0 or (sample < 1.0 and self.rng.random() >= sample):
            return
        version = table.versions[route.candidate]
        shadow_call = call.mirrored(version, route.candidate)
        payload = upstream_payload(body, version, call.endpoint, req.stream)
        self.shadow.mirror(
            body["model"], route, shadow_call, payload, req.pchars, stream=req.stream
        )

    def _fallback(self, call: Call, route: Route | None, table: RoutingTable) -> Call | None:
        """The baseline call that serves a failed candidate call, when configured."""
        if not self.config.fallback_to_baseline or route is None or call.arm is not Arm.CANDIDATE:
            return None
        return replace(
            call, arm=Arm.BASELINE, version=table.versions[route.baseline], digest=route.baseline
        )

    def _headers(self, call: Call, overhead_s: float) -> Headers:
        return [
            (b"x-request-id", call.request_id.encode()),
            (b"x-rollout-arm", call.arm.value.encode()),
            (b"x-rollout-model", call.digest.encode()),
            (b"x-rollout-overhead-ms", f"{max(overhead_s, 0.0) * 1000:.3f}".encode()),
        ]

    # --- chat and completions -----------------------------------------------------------
    async def _generate(
        self, scope: Scope, receive: Receive, send: Send, start: float, endpoint: str
    ) -> None:
        raw = await read_body(scope, receive, self.config.max_body_bytes)
        body = parse_generation(raw, endpoint)
        call, route, table = await self._route(scope, body, endpoint)
        req = Exchange(
            receive,
            send,
            start,
            raw,
            body,
            prompt_chars(body),
            body.get("stream") is True,
            route,
            table,
        )
        self._maybe_shadow(call, req)
        if req.stream:
            await self._stream(req, call)
        else:
            await self._unary(req, call)

    async def _unary(self, req: Exchange, call: Call) -> None:
        proxy = self.proxy
        payload = upstream_payload(req.body, call.version, call.endpoint, False)
        result = await proxy.call(call, payload, req.pchars, call.version.timeout)
        waited = result.wait_s
        fallback = self._fallback(call, req.route, req.table) if result.failed else None
        if fallback is not None and result.record is not None:
            proxy.commit(reid(result.record, call.request_id + ":candidate"), call.endpoint)
            call = fallback
            payload = upstream_payload(req.body, call.version, call.endpoint, False)
            result = await proxy.call(call, payload, req.pchars, call.version.timeout)
            waited += result.wait_s
        headers = self._headers(call, self.perf() - req.start - waited)
        try:
            await send_bytes(
                req.send, result.status, result.body, result.content_type.encode(), headers
            )
        finally:
            if result.record is not None:
                proxy.commit(result.record, call.endpoint)
            if self.payloads is not None:
                self.payloads.add(call.request_id, req.raw, result.body)

    async def _stream(self, req: Exchange, call: Call) -> None:
        proxy = self.proxy
        payload = upstream_payload(req.body, call.version, call.endpoint, True)
        resp, failed, t0 = await proxy.open(call, payload, call.version.timeout)
        waited = self.perf() - t0
        fallback = self._fallback(call, req.route, req.table) if failed and failed.failed else None
        if fallback is not None and failed is not None and failed.record is not None:
            proxy.commit(reid(failed.record, call.request_id + ":candidate"), call.endpoint)
            call = fallback
            payload = upstream_payload(req.body, call.version, call.endpoint, True)
            resp, failed, t0 = await proxy.open(call, payload, call.version.timeout)
            waited += self.perf() - t0
        if resp is None:
            assert failed is not None
            await self._answer_failed(req, call, failed, waited)
            return
        options = req.body.get("stream_options")
        wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        pchars = billed_chars(req.pchars, call.version)
        capture = StreamCapture(wants_usage, pchars, collect=self.payloads is not None)
        headers = self._headers(call, self.perf() - req.start - waited)
        status, http_status = Status.OK, 200
        try:
            await req.send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", SSE), (b"cache-control", b"no-cache"), *headers],
                }
            )
            status, http_status = await self._pump_until_disconnect(req, resp, capture, t0)
        finally:
            await resp.close()
            record = proxy.finish_stream(call, capture, self.perf() - t0, status, http_status)
            proxy.commit(record, call.endpoint)
            if self.payloads is not None:
                self.payloads.add(call.request_id, req.raw, capture.text().encode())

    async def _answer_failed(
        self, req: Exchange, call: Call, failed: Result, waited: float
    ) -> None:
        headers = self._headers(call, self.perf() - req.start - waited)
        try:
            await send_bytes(req.send, failed.status, failed.body, b"application/json", headers)
        finally:
            if failed.record is not None:
                self.proxy.commit(failed.record, call.endpoint)
            if self.payloads is not None:
                self.payloads.add(call.request_id, req.raw, failed.body)

    async def _pump_until_disconnect(
        self, req: Exchange, resp: UpstreamResponse, capture: StreamCapture, t0: float
    ) -> tuple[Status, int]:
        """Forward the stream; a client disconnect cancels the upstream read at once."""
        pump = asyncio.ensure_future(self._pump(req.send, resp, capture, t0))
        watch = asyncio.ensure_future(_wait_disconnect(req.receive))
        try:
            done, _ = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pump.cancel()
            watch.cancel()
            raise
        if pump in done:
            watch.cancel()
            return pump.result()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        return Status.CLIENT_ERROR, 499  # the client went away; not the model's fault

    async def _pump(
        self, send: Send, resp: UpstreamResponse, capture: StreamCapture, t0: float
    ) -> tuple[Status, int]:
        perf = self.perf
        status, http_status = Status.OK, 200
        try:
            async for chunk in resp.chunks():
                out = capture.feed(chunk, perf() - t0)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
        except UpstreamTimeout:
            status, http_status = Status.ERROR, 504
        except UpstreamUnavailable:
            status, http_status = Status.ERROR, 502
        tail = capture.flush()
        if status is Status.ERROR:
            message = (
                "upstream timed out mid-stream"
                if http_status == 504
                else "upstream connection lost mid-stream"
            )
            err = error_body(
                message, "upstream_error", "timeout" if http_status == 504 else "bad_gateway"
            )
            tail += b"data: " + err + b"\n\n"
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        return status, http_status

    # --- embeddings, models, feedback ---------------------------------------------------
    async def embeddings(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        """Passed through to the route's baseline (or the named model); counted in metrics,
        not recorded: embedding calls would distort the rollout's latency and cost gates."""
        raw = await read_body(scope, receive, self.config.max_body_bytes)
        body = parse_generation(raw, "embeddings")
        call, _, _ = await self._route(scope, body, "embeddings", role_split=False)
        payload = upstream_payload(body, call.version, "embeddings", False)
        result = await self.proxy.call(call, payload, 0, call.version.timeout)
        if result.record is not None:
            self.metrics.observe_call("embeddings", result.record)
        headers = self._headers(call, self.perf() - start - result.wait_s)
        await send_bytes(send, result.status, result.body, result.content_type.encode(), headers)

    async def models(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        names = await self.watcher.model_names()
        await send_json(
            send,
            200,
            {
                "object": "list",
                "data": [
                    {"id": n, "object": "model", "created": 0, "owned_by": "llm-rollout"}
                    for n in names
                ],
            },
        )

    async def feedback(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        raw = await read_body(scope, receive, self.config.max_body_bytes)
        request_id, rating, label = parse_feedback(raw)
        if self.writer.holds(request_id):
            await self.writer.flush()  # the record must reach the store before its feedback
        fb = Feedback(request_id, self.clock(), rating, label).validate()
        known = await self.store.call(self.store.store.append_feedback, fb)
        if not known:
            raise GatewayHTTPError(
                404,
                f"No request with id {request_id!r} is known.",
                "invalid_request_error",
                "request_not_found",
                "request_id",
            )
        self.metrics.inc(
            "feedback_total", (("rating", "negative" if fb.negative else "non_negative"),)
        )
        await send_bytes(
            send,
            200,
            orjson.dumps(
                {"request_id": request_id, "rating": rating, "label": label, "status": "recorded"}
            ),
        )


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
