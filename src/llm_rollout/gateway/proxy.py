"""One upstream call, measured and recorded: request rewriting, error mapping, records.

The request path and the shadow mirror share this code, so a served call and its shadow copy
are measured the same way. :meth:`Proxy.call` sends a non-streamed request; :meth:`Proxy.open`
starts a stream and :meth:`Proxy.finish_stream` records it once the caller has pumped it. Each
returns the :class:`~llm_rollout.records.RequestRecord` *unsubmitted*, so the caller can re-id
it (fallback) before :meth:`Proxy.commit` queues it and updates the metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ..records import Arm, Prices, RequestRecord, Role, Status, cost_usd
from ..registry import ModelVersion
from .capture import Outcome, RefusalMatcher, StreamCapture, Usage, summarize_body
from .errors import GatewayHTTPError, upstream_timeout, upstream_unavailable
from .metrics import GatewayMetrics
from .upstream import Upstream, UpstreamResponse, UpstreamTimeout, UpstreamUnavailable
from .writer import RecordWriter

PATHS = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}
PRICE_CACHE = 4096  # model versions whose prices are kept (a registry holds a few dozen)


@dataclass(frozen=True, slots=True)
class Call:
    """Who a call is for: everything a record needs besides the measured outcome."""

    request_id: str
    endpoint: str  # chat | completions | embeddings
    arm: Arm
    role: Role
    version: ModelVersion
    digest: str
    rollout_id: str
    step: int
    policy_version: int
    bucket: int | None
    started: float  # unix seconds

    def mirrored(self, version: ModelVersion, digest: str) -> Call:
        """The shadow copy of this call: same request id (the store keys records by
        ``(request_id, role)``), sent to the candidate. Built directly, not with
        ``dataclasses.replace``, which inspects the fields on every call of this hot path."""
        return Call(
            self.request_id,
            self.endpoint,
            Arm.CANDIDATE,
            Role.SHADOW,
            version,
            digest,
            self.rollout_id,
            self.step,
            self.policy_version,
            self.bucket,
            self.started,
        )


@dataclass(slots=True)
class Result:
    """What came back. ``error`` is set for gateway-made error answers (502/504/5xx)."""

    status: int
    content_type: str
    body: bytes
    record: RequestRecord | None
    wait_s: float
    error: GatewayHTTPError | None = None

    @property
    def failed(self) -> bool:
        return self.record is not None and self.record.status is Status.ERROR


def upstream_payload(
    body: dict[str, Any], version: ModelVersion, endpoint: str, stream: bool
) -> bytes:
    """The request as the chosen version expects it: its model id, default params, template."""
    out = {**version.params, **body} if version.params and endpoint != "embeddings" else dict(body)
    out["model"] = version.upstream_model
    template = version.prompt_template
    if template and endpoint == "chat":
        out["messages"] = [{"role": "system", "content": template}, *body["messages"]]
    elif template and endpoint == "completions" and isinstance(body.get("prompt"), str):
        out["prompt"] = f"{template}\n\n{body['prompt']}"
    if stream:
        options = body.get("stream_options")
        out["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    return orjson.dumps(out)


def billed_chars(prompt_chars: int, version: ModelVersion) -> int:
    """Prompt characters the upstream sees: the request's plus the version's system prompt."""
    return prompt_chars + len(version.prompt_template or "")


def wrap_upstream_error(status: int, body: bytes) -> bytes:
    """Pass an upstream OpenAI-style error body on; wrap anything else in one."""
    try:
        parsed = orjson.loads(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            return body
    except orjson.JSONDecodeError:
        pass
    text = body[:200].decode("utf-8", "replace").strip() or "no body"
    return orjson.dumps(
        {
            "error": {
                "message": f"upstream answered {status}: {text}",
                "type": "upstream_error",
                "param": None,
                "code": "upstream_error",
            }
        }
    )


class Proxy:
    def __init__(
        self,
        upstream: Upstream,
        writer: RecordWriter,
        metrics: GatewayMetrics,
        refusal: RefusalMatcher,
        *,
        env: Mapping[str, str],
        perf: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.upstream = upstream
        self.writer = writer
        self.metrics = metrics
        self.refusal = refusal
        self.env = env
        self.perf = perf
        self._prices: dict[str, Prices] = {}  # by model digest: the digest covers the prices

    def headers(self, version: ModelVersion) -> dict[str, str]:
        # identity: bodies are passed through as they come, so they must not be compressed
        headers = {"content-type": "application/json", "accept-encoding": "identity"}
        if version.api_key_env:
            key = self.env.get(version.api_key_env)
            if key:
                headers["authorization"] = f"Bearer {key}"
        return headers

    async def call(
        self,
        call: Call,
        payload: bytes,
        prompt_chars: int,
        timeout: float,
        *,
        upstream: Upstream | None = None,
    ) -> Result:
        """A non-streamed call, read whole and summarised."""
        t0 = self.perf()
        url = call.version.endpoint + PATHS[call.endpoint]
        try:
            resp = await (upstream or self.upstream).send(
                url, payload, self.headers(call.version), timeout, stream=False
            )
            data = await resp.read()
        except UpstreamTimeout:
            return self._failed(call, upstream_timeout(timeout), self.perf() - t0)
        except UpstreamUnavailable as exc:
            return self._failed(call, upstream_unavailable(str(exc)), self.perf() - t0)
        wait = self.perf() - t0
        if resp.status >= 400:
            return self._upstream_status(call, resp.status, data, wait)
        outcome: Outcome | None = None
        if call.endpoint != "embeddings":
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                parsed = None
            outcome = summarize_body(parsed, billed_chars(prompt_chars, call.version), self.refusal)
        record = self._record(call, Status.OK, resp.status, wait, outcome)
        return Result(resp.status, resp.content_type, data, record, wait)

    async def open(
        self, call: Call, payload: bytes, timeout: float, *, upstream: Upstream | None = None
    ) -> tuple[UpstreamResponse | None, Result | None, float]:
        """Start a streamed call: (response, None, t0) when the stream is open and 2xx, else
        (None, failed result, t0)."""
        t0 = self.perf()
        url = call.version.endpoint + PATHS[call.endpoint]
        try:
            resp = await (upstream or self.upstream).send(
                url, payload, self.headers(call.version), timeout, stream=True
            )
        except UpstreamTimeout:
            return None, self._failed(call, upstream_timeout(timeout), self.perf() - t0), t0
        except UpstreamUnavailable as exc:
            return None, self._failed(call, upstream_unavailable(str(exc)), self.perf() - t0), t0
        if resp.status >= 400:
            try:
                data = await resp.read()
            except (UpstreamTimeout, UpstreamUnavailable):
                data = b""
            finally:
                await resp.close()
            return None, self._upstream_status(call, resp.status, data, self.perf() - t0), t0
        return resp, None, t0

    def finish_stream(
        self, call: Call, capture: StreamCapture, wait_s: float, status: Status, http_status: int
    ) -> RequestRecord:
        outcome = capture.outcome(self.refusal)
        return self._record(call, status, http_status, wait_s, outcome)

    def commit(self, record: RequestRecord, endpoint: str) -> None:
        self.writer.submit(record)
        self.metrics.observe_call(endpoint, record)

    def _failed(self, call: Call, error: GatewayHTTPError, wait: float) -> Result:
        record = self._record(call, Status.ERROR, error.status, wait, None)
        return Result(error.status, "application/json", error.body(), record, wait, error)

    def _upstream_status(self, call: Call, status: int, data: bytes, wait: float) -> Result:
        if status >= 500:
            record = self._record(call, Status.ERROR, status, wait, None)
            body = wrap_upstream_error(status, data)
            err = GatewayHTTPError(status, "upstream error", "upstream_error", "upstream_error")
            return Result(status, "application/json", body, record, wait, err)
        record = self._record(call, Status.CLIENT_ERROR, status, wait, None)
        return Result(status, "application/json", wrap_upstream_error(status, data), record, wait)

    def _prices_of(self, call: Call) -> Prices:
        prices = self._prices.get(call.digest)
        if prices is None:
            if len(self._prices) >= PRICE_CACHE:
                self._prices.clear()
            prices = self._prices[call.digest] = call.version.prices.as_prices()
        return prices

    def _record(
        self, call: Call, status: Status, http_status: int, wait_s: float, outcome: Outcome | None
    ) -> RequestRecord:
        usage = outcome.usage if outcome is not None else Usage()
        cost = (
            cost_usd(
                self._prices_of(call),
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.cached_tokens,
            )
            if outcome is not None
            else 0.0
        )
        ttft = outcome.ttft_s if outcome is not None else None
        return RequestRecord(
            request_id=call.request_id,
            time=call.started,
            rollout_id=call.rollout_id,
            step=call.step,
            arm=call.arm,
            role=call.role,
            model_digest=call.digest,
            status=status,
            http_status=http_status,
            latency_ms=max(wait_s, 0.0) * 1000,
            ttft_ms=None if ttft is None else ttft * 1000,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost_usd=cost,
            refused=outcome.refused if outcome is not None else False,
            finish_reason=outcome.finish_reason if outcome is not None else None,
            sticky_bucket=call.bucket,
            usage_estimated=usage.estimated,
            policy_version=call.policy_version,
        )


def reid(record: RequestRecord, request_id: str) -> RequestRecord:
    return replace(record, request_id=request_id)
