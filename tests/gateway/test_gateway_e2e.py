"""The official openai client against the gateway over loopback HTTP, mock models upstream."""

from __future__ import annotations

import asyncio
import json
import time

import openai
import pytest
from gateway_helpers import KEY, LiveGateway, http, wait_until
from prometheus_client.parser import text_string_to_metric_families

from llm_rollout.policy import Policy
from llm_rollout.records import Arm, RequestRecord, Role, Status

MESSAGES = [{"role": "user", "content": "Say hello"}]


def client(gw: LiveGateway, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=10)


def records_of(gw: LiveGateway, ids: set[str], n: int) -> list[RequestRecord]:
    """Wait for the batch writer, then the records with these request ids."""
    found: list[RequestRecord] = []

    def landed() -> bool:
        nonlocal found
        found = [r for r in gw.store.read_records() if r.request_id in ids]
        return len(found) >= n

    wait_until(landed, 3, f"{n} records")
    return found


@pytest.fixture
def split(gateway: LiveGateway) -> LiveGateway:
    gateway.use_policy(
        {
            "chat": gateway.route(
                "base", "cand", candidate_bp=5000, salt="e2e", rollout_id="ro-e2e", step=1
            )
        }
    )
    return gateway


def test_sync_client_plain_and_streamed(split: LiveGateway) -> None:
    with client(split) as c:
        raw = c.chat.completions.with_raw_response.create(
            model="chat", messages=MESSAGES, extra_headers={"x-rollout-key": "alice"}
        )
        completion = raw.parse()
        assert completion.choices[0].message.content.startswith("The model")
        assert completion.usage is not None
        assert completion.usage.prompt_tokens_details is not None
        assert completion.usage.prompt_tokens_details.cached_tokens > 0
        arm = raw.headers["x-rollout-arm"]
        rid = raw.headers["x-request-id"]
        assert (
            raw.headers["x-rollout-model"]
            == split.models["base" if arm == "baseline" else "cand"].digest
        )
        pieces: list[str] = []
        usage_chunks = 0
        with c.chat.completions.create(
            model="chat", messages=MESSAGES, stream=True, extra_headers={"x-rollout-key": "alice"}
        ) as stream:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
                usage_chunks += chunk.usage is not None
        assert "".join(pieces) == completion.choices[0].message.content
        assert usage_chunks == 0  # the gateway asked upstream for usage; this client did not
        text = c.completions.create(model="chat", prompt="Say hi", max_tokens=4)
        assert text.choices[0].finish_reason == "length"
    [rec] = records_of(split, {rid}, 1)
    assert rec.arm.value == arm
    assert (rec.rollout_id, rec.step, rec.role, rec.status) == ("ro-e2e", 1, Role.SERVE, Status.OK)


def test_async_client_plain_and_streamed_with_usage(split: LiveGateway) -> None:
    async def scenario() -> tuple[str, list[str]]:
        async with openai.AsyncOpenAI(base_url=split.url + "/v1", api_key=KEY, max_retries=0) as c:
            done = await c.chat.completions.create(model="chat", messages=MESSAGES, user="bob")
            stream = await c.chat.completions.with_raw_response.create(
                model="chat",
                messages=MESSAGES,
                stream=True,
                user="bob",
                stream_options={"include_usage": True},
            )
            usage = None
            async for chunk in stream.parse():
                usage = chunk.usage or usage
            assert usage is not None
            assert usage.completion_tokens == 16
            return done.choices[0].message.content or "", [stream.headers["x-request-id"]]

    content, ids = asyncio.run(scenario())
    assert content.startswith("The model")
    [rec] = records_of(split, set(ids), 1)
    assert rec.ttft_ms is not None
    assert 5 <= rec.ttft_ms < rec.latency_ms
    assert rec.cached_tokens == round(rec.prompt_tokens * 0.25)
    assert rec.completion_tokens == 16
    assert not rec.usage_estimated


def test_sticky_routing_over_http(split: LiveGateway) -> None:
    seen: dict[str, set[str]] = {}
    with client(split) as c:
        for i in range(24):
            user = f"user-{i % 6}"
            raw = c.chat.completions.with_raw_response.create(
                model="chat", messages=MESSAGES, user=user
            )
            seen.setdefault(user, set()).add(raw.headers["x-rollout-arm"])
    assert all(len(arms) == 1 for arms in seen.values())


def test_feedback_lands_against_the_served_arm(split: LiveGateway) -> None:
    with client(split) as c:
        raw = c.chat.completions.with_raw_response.create(
            model="chat", messages=MESSAGES, user="carol"
        )
    rid = raw.headers["x-request-id"]
    auth = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    status, _, _ = http(
        "POST", split.url + "/v1/feedback", {"request_id": rid, "rating": "down"}, auth
    )
    assert status == 200
    status, _, _ = http(
        "POST", split.url + "/v1/feedback", {"request_id": rid, "rating": -0.5}, auth
    )
    assert status == 200
    status, _, body = http(
        "POST", split.url + "/v1/feedback", {"request_id": "req_missing", "rating": "up"}, auth
    )
    assert status == 404
    assert json.loads(body)["error"]["code"] == "request_not_found"
    fb = split.store.get_feedback(rid)
    assert fb is not None
    assert fb.rating == -0.5
    arm = raw.headers["x-rollout-arm"]
    now = time.time()
    base_w, cand_w = split.store.read_window("ro-e2e", 1, Role.SERVE, now - 600, now + 60)
    window = base_w if arm == "baseline" else cand_w
    assert window.negative_feedback >= 1


def test_policy_hot_reload_within_200ms(gateway: LiveGateway) -> None:
    gateway.use_policy({"chat": gateway.route("base", "cand", candidate_bp=0)})
    with client(gateway) as c:
        assert (
            c.chat.completions.with_raw_response.create(model="chat", messages=MESSAGES).headers[
                "x-rollout-arm"
            ]
            == "baseline"
        )
        doc = Policy(0, {"chat": gateway.route("base", "cand", candidate_bp=10_000)}).to_doc()
        t0 = time.perf_counter()
        version = gateway.store.publish_policy(doc, "test", "promote", time.time())
        while gateway.policy_version() != version:
            time.sleep(0.002)
        assert time.perf_counter() - t0 < 0.2
        after = c.chat.completions.with_raw_response.create(model="chat", messages=MESSAGES)
        assert after.headers["x-rollout-arm"] == "candidate"


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{not json", 400, "invalid_request"),
        (b'{"model": "chat", "messages": "hi"}', 400, "invalid_request"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', 400, "invalid_request"),
        (b'{"model": "chat", "messages": [{"role": "user"}], "stream": 1}', 400, "invalid_request"),
        (b'{"model": "no-such-model", "messages": [{"role": "user"}]}', 404, "model_not_found"),
        (
            b'{"model": "chat", "messages": [{"role": "user", "content": "'
            + b"x" * (1 << 20)
            + b'"}]}',
            413,
            "request_too_large",
        ),
    ],
)
def test_malformed_requests_get_openai_errors(
    gateway: LiveGateway, raw: bytes, status: int, code: str
) -> None:
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    got, _, body = http("POST", gateway.url + "/v1/chat/completions", raw=raw, headers=headers)
    assert got == status
    err = json.loads(body)["error"]
    assert err["code"] == code
    assert set(err) == {"message", "type", "param", "code"}


def test_wrong_key_is_refused(gateway: LiveGateway) -> None:
    with client(gateway, key="wrong") as c, pytest.raises(openai.AuthenticationError):
        c.chat.completions.create(model="base", messages=MESSAGES)


def test_models_and_embeddings_pass_through(split: LiveGateway) -> None:
    with client(split) as c:
        ids = {m.id for m in c.models.list()}
        assert {"chat", "base", "cand"} <= ids
        emb = c.embeddings.create(model="base", input=["a", "b"])
        assert [len(d.embedding) for d in emb.data] == [8, 8]


def test_upstream_errors_over_http(gateway: LiveGateway) -> None:
    gateway.use_policy({"failing": gateway.route("fail"), "nowhere": gateway.route("closed")})
    with client(gateway) as c:
        with pytest.raises(openai.InternalServerError) as failing:
            c.chat.completions.create(model="failing", messages=MESSAGES)
        assert failing.value.status_code == 500
        with pytest.raises(openai.APIStatusError) as nowhere:
            c.chat.completions.create(model="nowhere", messages=MESSAGES)
        assert nowhere.value.status_code == 502
        assert isinstance(nowhere.value.body, dict)
        assert nowhere.value.body["code"] == "bad_gateway"


def test_metrics_scrape_parses(split: LiveGateway) -> None:
    with client(split) as c:
        c.chat.completions.create(model="chat", messages=MESSAGES, user="dave")
    status, headers, body = http("GET", split.url + "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    served = [
        s
        for s in families["llm_rollout_gateway_requests"].samples
        if s.labels.get("role") == "serve" and s.labels.get("status") == "ok"
    ]
    assert sum(s.value for s in served) >= 1
    assert {s.labels["arm"] for s in served} <= {a.value for a in Arm}
    assert "llm_rollout_gateway_record_queue_depth" in families
    assert "llm_rollout_gateway_request_duration_seconds" in families
    assert families["llm_rollout_gateway_policy_version"].samples[0].value >= 1
