"""Prometheus metrics, hand-written: a handful of counters and histograms keyed by label tuple.

prometheus_client would work too, but every observation there takes a lock and walks label
objects; here an observation is a few dict and list operations on the event loop thread (the
only writer), and the exposition text is built on scrape. The per-call metrics, updated twice
per mirrored request, are plain numbers on one object per (endpoint, arm, role): a call costs a
dict lookup and a few additions, and the labelled samples are made when scraped. Latencies are
in seconds, as Prometheus expects.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable

from ..records import Arm, RequestRecord, Role, Status

LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
PREFIX = "llm_rollout_gateway_"

Labels = tuple[tuple[str, str], ...]


class Histogram:
    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: Labels) -> Iterable[str]:
        running = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            running += n
            yield f"{name}_bucket{_fmt(labels, ('le', _num(bound)))} {running}"
        yield f"{name}_bucket{_fmt(labels, ('le', '+Inf'))} {self.count}"
        yield f"{name}_sum{_fmt(labels)} {_num(self.sum)}"
        yield f"{name}_count{_fmt(labels)} {self.count}"


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    items = [*labels, extra] if extra else list(labels)
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}"


_HELP = {
    "requests_total": ("counter", "Upstream calls by endpoint, arm, role and status."),
    "request_duration_seconds": ("histogram", "Total upstream call latency."),
    "ttft_seconds": ("histogram", "Time to first content token of streamed calls."),
    "tokens_total": ("counter", "Tokens by kind (prompt, completion, cached)."),
    "cost_usd_total": ("counter", "Spend in USD from provider usage and registry prices."),
    "errors_total": ("counter", "Upstream errors: 5xx, timeouts, connection failures."),
    "refusals_total": ("counter", "Responses detected as refusals."),
    "shadow_dropped_total": ("counter", "Shadow copies dropped at the concurrency bound."),
    "records_dropped_total": ("counter", "Records lost: queue full or store write failed."),
    "records_written_total": ("counter", "Records written to the store."),
    "record_queue_depth": ("gauge", "Records waiting to be written."),
    "feedback_total": ("counter", "Feedback accepted, by arm."),
    "policy_version": ("gauge", "Policy version the gateway routes by."),
    "http_errors_total": ("counter", "Errors the gateway answered itself (4xx; 500 on a fault)."),
}


class _CallSeries:
    """The call metrics of one (endpoint, arm, role)."""

    __slots__ = (
        "cached",
        "client_errors",
        "completion",
        "cost",
        "duration",
        "errors",
        "labels",
        "ok",
        "prompt",
        "refusals",
        "ttft",
    )

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.ok = self.errors = self.client_errors = self.refusals = 0
        self.prompt = self.completion = self.cached = 0
        self.cost = 0.0
        self.duration = Histogram()
        self.ttft = Histogram()

    def samples(self) -> Iterable[tuple[str, Labels, float]]:
        """(counter, labels, value) as :meth:`GatewayMetrics.inc` would have kept them."""
        base = self.labels
        by_status = (
            (Status.OK, self.ok),
            (Status.ERROR, self.errors),
            (Status.CLIENT_ERROR, self.client_errors),
        )
        for status, n in by_status:
            if n:
                yield "requests_total", (*base, ("status", status.value)), n
        if self.errors:
            yield "errors_total", base, self.errors
        if self.refusals:
            yield "refusals_total", base, self.refusals
        yield "tokens_total", (*base, ("kind", "prompt")), self.prompt
        yield "tokens_total", (*base, ("kind", "completion")), self.completion
        yield "tokens_total", (*base, ("kind", "cached")), self.cached
        yield "cost_usd_total", base, self.cost


class GatewayMetrics:
    def __init__(self) -> None:
        self.counters: dict[str, dict[Labels, float]] = {
            k: {} for k, (kind, _) in _HELP.items() if kind == "counter"
        }
        self.histograms: dict[str, dict[Labels, Histogram]] = {
            "request_duration_seconds": {},
            "ttft_seconds": {},
        }
        self.gauges: dict[str, Callable[[], float]] = {}
        self._calls: dict[tuple[str, bool, bool], _CallSeries] = {}

    def inc(self, name: str, labels: Labels = (), value: float = 1.0) -> None:
        series = self.counters[name]
        series[labels] = series.get(labels, 0.0) + value

    def observe(self, name: str, labels: Labels, value: float) -> None:
        series = self.histograms[name]
        hist = series.get(labels)
        if hist is None:
            hist = series[labels] = Histogram()
        hist.observe(value)

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        self.gauges[name] = read

    def observe_call(self, endpoint: str, r: RequestRecord) -> None:
        # identity tests, not enum hashing or .value: this runs for every upstream call
        key = (endpoint, r.arm is Arm.CANDIDATE, r.role is Role.SHADOW)
        s = self._calls.get(key)
        if s is None:
            labels = (("endpoint", endpoint), ("arm", r.arm.value), ("role", r.role.value))
            s = self._calls[key] = _CallSeries(labels)
        status = r.status
        if status is Status.OK:
            s.ok += 1
        elif status is Status.ERROR:
            s.errors += 1
        else:
            s.client_errors += 1
        if r.refused:
            s.refusals += 1
        s.duration.observe(r.latency_ms / 1000)
        if r.ttft_ms is not None:
            s.ttft.observe(r.ttft_ms / 1000)
        s.prompt += r.prompt_tokens
        s.completion += r.completion_tokens
        s.cached += r.cached_tokens
        s.cost += r.cost_usd

    def _with_calls(
        self,
    ) -> tuple[dict[str, dict[Labels, float]], dict[str, dict[Labels, Histogram]]]:
        """The counters and histograms with the per-call series folded in (for a scrape)."""
        counters = {name: dict(series) for name, series in self.counters.items()}
        histograms = {name: dict(series) for name, series in self.histograms.items()}
        for s in self._calls.values():
            for name, labels, value in s.samples():
                series = counters[name]
                series[labels] = series.get(labels, 0.0) + value
            histograms["request_duration_seconds"][s.labels] = s.duration
            if s.ttft.count:
                histograms["ttft_seconds"][s.labels] = s.ttft
        return counters, histograms

    def render(self) -> bytes:
        counters, histograms = self._with_calls()
        out: list[str] = []
        for short, (kind, text) in _HELP.items():
            name = PREFIX + short
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")
            if kind == "counter":
                for labels, value in sorted(counters[short].items()):
                    out.append(f"{name}{_fmt(labels)} {_num(value)}")
            elif kind == "histogram":
                for labels, hist in sorted(histograms[short].items()):
                    out.extend(hist.lines(name, labels))
            elif short in self.gauges:
                out.append(f"{name} {_num(self.gauges[short]())}")
        return ("\n".join(out) + "\n").encode()
