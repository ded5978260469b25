"""The hand-written Prometheus exposition parses with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from llm_rollout.gateway.metrics import GatewayMetrics
from llm_rollout.records import Arm, RequestRecord, Role, Status


def record(
    latency_ms: float, status: Status = Status.OK, ttft: float | None = None
) -> RequestRecord:
    return RequestRecord(
        "r",
        0.0,
        "ro",
        0,
        Arm.CANDIDATE,
        Role.SHADOW,
        "d",
        status,
        200,
        latency_ms,
        ttft,
        prompt_tokens=10,
        completion_tokens=5,
        cached_tokens=2,
        cost_usd=0.25,
        refused=True,
    )


def test_exposition_round_trips_through_the_official_parser() -> None:
    m = GatewayMetrics()
    m.observe_call("chat", record(30.0, ttft=12.0))
    m.observe_call("chat", record(700.0, Status.ERROR))
    m.inc("shadow_dropped_total", (("model", 'we"ird\nname'),))
    m.gauge("record_queue_depth", lambda: 7)
    families = {f.name: f for f in text_string_to_metric_families(m.render().decode())}
    prefix = "llm_rollout_gateway_"
    reqs = {s.labels["status"]: s.value for s in families[prefix + "requests"].samples}
    assert reqs == {"ok": 1.0, "error": 1.0}
    hist = families[prefix + "request_duration_seconds"].samples
    buckets = {s.labels["le"]: s.value for s in hist if s.name.endswith("_bucket")}
    assert buckets["0.025"] == 0
    assert buckets["0.05"] == 1
    assert buckets["1"] == 2
    assert buckets["+Inf"] == 2
    count = [s.value for s in hist if s.name.endswith("_count")]
    assert count == [2]
    ttft = [s for s in families[prefix + "ttft_seconds"].samples if s.name.endswith("_count")]
    assert ttft[0].value == 1
    assert families[prefix + "errors"].samples[0].value == 1
    assert families[prefix + "refusals"].samples[0].value == 2
    assert families[prefix + "cost_usd"].samples[0].value == 0.5
    dropped = families[prefix + "shadow_dropped"].samples[0]
    assert dropped.labels["model"] == 'we"ird\nname'
    assert families[prefix + "record_queue_depth"].samples[0].value == 7
    tokens = {s.labels["kind"]: s.value for s in families[prefix + "tokens"].samples}
    assert tokens == {"prompt": 20, "completion": 10, "cached": 4}
