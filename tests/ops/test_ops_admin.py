"""The admin HTTP API in-process: tokens, routes, error statuses, commands."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ops_helpers import T0, make_spec, registered

from llm_rollout import operations as ops
from llm_rollout.service import admin as admin_module
from llm_rollout.service.admin import AdminAPI
from llm_rollout.store.sqlite import SQLiteStore
from llm_rollout.testing import FakeClock

TOKEN = "s3cret-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store() -> Iterator[SQLiteStore]:
    s = registered(SQLiteStore(":memory:"))
    ops.start_rollout(s, make_spec(), actor="a", now=T0, rollout_id="r1")
    yield s
    s.close()


def call(
    app: AdminAPI,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            return await client.request(method, path, headers=headers, **kwargs)

    return asyncio.run(go())


@pytest.fixture
def app(store: SQLiteStore) -> AdminAPI:
    return AdminAPI(store, TOKEN, clock=FakeClock(T0 + 10))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/status"),
        ("GET", "/rollouts"),
        ("GET", "/rollouts/r1"),
        ("POST", "/rollouts/r1/rollback"),
        ("GET", "/history"),
        ("GET", "/policy"),
        ("GET", "/nowhere"),
    ],
)
def test_every_endpoint_needs_the_token(
    app: AdminAPI, store: SQLiteStore, method: str, path: str
) -> None:
    missing = call(app, method, path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    for bad in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Token {TOKEN}", TOKEN):
        assert call(app, method, path, {"authorization": bad}).status_code == 403, bad
    assert store.get_rollout("r1").state["phase"] == "canary"


def test_health_is_open(app: AdminAPI) -> None:
    assert call(app, "GET", "/healthz").json() == {"status": "ok"}


def test_tokens_are_compared_in_constant_time(
    app: AdminAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(admin_module.hmac, "compare_digest", spy)
    assert call(app, "GET", "/status", {"authorization": "Bearer short"}).status_code == 403
    assert call(app, "GET", "/status", AUTH).status_code == 200
    assert len(seen) == 2
    assert all(len(a) == len(b) == 32 for a, b in seen)  # hashes: the length leaks nothing


def test_status_and_listing(app: AdminAPI) -> None:
    body = call(app, "GET", "/status", AUTH).json()
    [one] = body["rollouts"]
    assert (one["rollout"], one["phase"], one["weight"], one["dwell"]) == ("r1", "canary", 20, 10)
    assert call(app, "GET", "/status?rollout=chat", AUTH).json()["rollout"] == "r1"
    assert call(app, "GET", "/rollouts/r1", AUTH).json()["samples"]["baseline"] == 0
    listed = call(app, "GET", "/rollouts", AUTH).json()["rollouts"]
    assert [(r["rollout"], r["active"]) for r in listed] == [("r1", True)]


def test_commands_are_audited_with_actor_and_reason(app: AdminAPI, store: SQLiteStore) -> None:
    r = call(app, "POST", "/rollouts/r1/pause", AUTH, json={"reason": "look", "actor": "eve"})
    assert r.status_code == 200
    assert r.json() == {
        "rollout": "r1",
        "command": "pause",
        "phase": "paused",
        "step": 0,
        "revision": 3,
        "policy_version": 2,
        "time": T0 + 10,
    }
    assert call(app, "POST", "/rollouts/chat/resume", AUTH).json()["phase"] == "canary"
    r = call(app, "POST", "/rollouts/r1/rollback", AUTH, json={"reason": "5xx"})
    assert r.json()["phase"] == "rolled_back"
    events = call(app, "GET", "/history?rollout=r1", AUTH).json()["events"]
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("started", "a"),
        ("paused", "eve"),
        ("resumed", "admin-api"),
        ("rolled_back", "admin-api"),
    ]
    assert events[-1]["data"]["reason"] == "rollback by admin-api: 5xx"
    versions = call(app, "GET", "/policy?limit=2", AUTH).json()["versions"]
    assert [v["version"] for v in versions] == [4, 3]
    assert versions[0]["doc"]["routes"]["chat"]["candidate_bp"] == 0


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "text"),
    [
        ("POST", "/rollouts/zz/pause", {}, 404, "no rollout with id or model name 'zz'"),
        ("POST", "/rollouts/r1/explode", {}, 404, "unknown command"),
        ("POST", "/rollouts/r1/resume", {}, 409, "not paused"),
        ("GET", "/rollouts/r1/pause", {}, 405, "use POST"),
        ("POST", "/status", {}, 405, "use GET"),
        ("POST", "/rollouts/r1/pause", {"content": b"[1]"}, 400, "JSON object"),
        ("POST", "/rollouts/r1/pause", {"content": b"{nope"}, 400, "JSON object"),
        ("GET", "/history?limit=x", {}, 400, "limit must be an integer"),
        ("GET", "/policy?limit=0", {}, 400, "limit must be within"),
        ("GET", "/nowhere", {}, 404, "no endpoint /nowhere"),
    ],
)
def test_errors_map_to_statuses(
    app: AdminAPI,
    store: SQLiteStore,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    text: str,
) -> None:
    r = call(app, method, path, AUTH, **kwargs)
    assert r.status_code == status
    assert text in r.json()["error"]
    assert store.get_rollout("r1").state["phase"] == "canary"


def test_a_finished_rollout_refuses_commands_with_409(app: AdminAPI, store: SQLiteStore) -> None:
    assert call(app, "POST", "/rollouts/r1/abort", AUTH).status_code == 200
    r = call(app, "POST", "/rollouts/r1/promote", AUTH)
    assert r.status_code == 409
    assert "already aborted" in r.json()["error"]


def test_an_empty_token_is_refused(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="non-empty token"):
        AdminAPI(store, "")
