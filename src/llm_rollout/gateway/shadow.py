"""Shadow mirroring: a sampled copy of baseline-served requests goes to the candidate.

The copy runs as its own task on its own connection pool (``upstream``) with the route's
``shadow_timeout``; the user's response never waits for it. Each logical model has its own
bound (``Route.shadow_max_concurrency``): when that many copies are in flight the next one is
dropped and counted in ``shadow_dropped_total``, so a hung candidate holds at most that many
sockets and never queues work in front of users. Copies consume the whole response, so usage
and cost are captured, and are recorded with role ``shadow``. With a payload log, each copy's
answer is logged as a ``"role": "shadow"`` line under the user request's id (see
:mod:`.payloads`), which is what the shadow report's text comparison reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..policy import Route
from ..records import Role, Status
from .capture import StreamCapture
from .payloads import PayloadLog
from .proxy import Call, Proxy, billed_chars
from .upstream import Upstream, UpstreamTimeout, UpstreamUnavailable

log = logging.getLogger("llm_rollout.gateway")


class ShadowMirror:
    def __init__(
        self, proxy: Proxy, upstream: Upstream, payloads: PayloadLog | None = None
    ) -> None:
        self._proxy = proxy
        self._upstream = upstream
        self._payloads = payloads
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0

    def in_flight(self, model: str) -> int:
        return self._in_flight.get(model, 0)

    def mirror(
        self,
        model: str,
        route: Route,
        call: Call,
        payload: bytes,
        prompt_chars: int,
        *,
        stream: bool,
    ) -> bool:
        """Start the copy unless the route's bound is reached; never blocks."""
        n = self._in_flight.get(model, 0)
        if n >= route.shadow_max_concurrency:
            self.dropped += 1
            self._proxy.metrics.inc("shadow_dropped_total", (("model", model),))
            return False
        self._in_flight[model] = n + 1
        task = asyncio.create_task(
            self._run(
                model, call, payload, prompt_chars, stream=stream, timeout=route.shadow_timeout
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(
        self,
        model: str,
        call: Call,
        payload: bytes,
        prompt_chars: int,
        *,
        stream: bool,
        timeout: float,
    ) -> None:
        proxy = self._proxy
        try:
            if not stream:
                result = await proxy.call(
                    call, payload, prompt_chars, timeout, upstream=self._upstream
                )
                if result.record is not None:
                    proxy.commit(result.record, call.endpoint)
                self._log(call, result.body)
                return
            await self._run_stream(call, payload, prompt_chars, timeout)
        except asyncio.CancelledError:
            raise
        except Exception:  # a broken copy must never surface anywhere near the user
            log.exception("shadow call %s failed unexpectedly", call.request_id)
        finally:
            self._in_flight[model] -= 1

    async def _run_stream(
        self, call: Call, payload: bytes, prompt_chars: int, timeout: float
    ) -> None:
        proxy = self._proxy
        pchars = billed_chars(prompt_chars, call.version)
        capture = StreamCapture(
            keep_usage_chunk=False,
            request_prompt_chars=pchars,
            collect=self._payloads is not None,
        )
        status, http_status = Status.OK, 200
        t0 = proxy.perf()
        resp = None
        try:
            # The whole stream, not just each gap, is bounded by the shadow timeout.
            async with asyncio.timeout(timeout):
                resp, failed, t0 = await proxy.open(call, payload, timeout, upstream=self._upstream)
                if resp is None:
                    if failed is not None:
                        if failed.record is not None:
                            proxy.commit(failed.record, call.endpoint)
                        self._log(call, failed.body)
                    return
                async for chunk in resp.chunks():
                    capture.feed(chunk, proxy.perf() - t0)
        except (TimeoutError, UpstreamTimeout):
            status, http_status = Status.ERROR, 504
        except UpstreamUnavailable:
            status, http_status = Status.ERROR, 502
        finally:
            if resp is not None:
                await resp.close()
        record = proxy.finish_stream(call, capture, proxy.perf() - t0, status, http_status)
        proxy.commit(record, call.endpoint)
        self._log(call, capture.text().encode())

    def _log(self, call: Call, response: bytes) -> None:
        if self._payloads is not None:
            self._payloads.add(call.request_id, None, response, Role.SHADOW)

    async def close(self, grace: float = 1.0) -> None:
        """Give copies in flight ``grace`` seconds, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
