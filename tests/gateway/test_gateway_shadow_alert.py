"""A shadow phase end to end: a real gateway (in-process) mirrors every baseline request to a
candidate that costs 40% more per request; the shadow report fires the cost alert (threshold
1.2 in this spec: a +40% candidate against the default 1.4 would sit *at* the threshold, which a
confident breach rule cannot confirm) before any user was served by the candidate."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner
from gateway_helpers import request

from llm_rollout.cli import cli
from llm_rollout.gateway import ASGIUpstream, Gateway, load_config
from llm_rollout.mock import MockModel
from llm_rollout.operations import start_rollout
from llm_rollout.profile import ModelProfile
from llm_rollout.records import Arm, Role
from llm_rollout.registry import ModelVersion
from llm_rollout.spec import parse_spec
from llm_rollout.store.sqlite import SQLiteStore

REQUESTS = 300
PROFILE = ModelProfile(
    latency_ms=5,
    latency_sigma=0,
    ttft_ms=1,
    ttft_sigma=0,
    completion_tokens=200,
    completion_sigma=0.3,
    error_rate=0,
    refusal_rate=0,
)


def test_shadow_report_fires_the_cost_alert_before_any_canary_traffic(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = SQLiteStore(home / "store.db")
    base = ModelVersion(
        name="base",
        endpoint="http://base/v1",
        upstream_model="small",
        prices={"input": 1.0, "output": 2.0},
    )
    cand = ModelVersion(
        name="cand",
        endpoint="http://cand/v1",
        upstream_model="large",
        prices={"input": 1.4, "output": 2.8},
    )
    store.put_model(base)
    store.put_model(cand)
    spec = parse_spec(
        {
            "name": "support",
            "baseline": "base",
            "candidate": "cand",
            "shadow": {
                "sample": 1.0,
                "min_duration": "1h",
                "alerts": [{"gate": "cost", "above": 1.2}],
            },
            "steps": [10, 100],
        }
    )
    row = start_rollout(store, spec, actor="test", now=1_700_000_000.0, rollout_id="shadow-demo")
    apps = {
        "base": MockModel(PROFILE, seed=1, speed=0),
        "cand": MockModel(PROFILE, seed=2, speed=0),
    }

    async def traffic() -> None:
        gw = Gateway(
            load_config({"seed": 3}, env={}),
            store=store,
            upstream=ASGIUpstream(apps),
            shadow_upstream=ASGIUpstream(apps),
            env={},
        )
        await gw.startup()
        try:
            for i in range(REQUESTS):
                body = {
                    "model": "support",
                    "user": f"u{i}",
                    "messages": [{"role": "user", "content": f"question {i}"}],
                }
                assert (await request(gw, "POST", "/v1/chat/completions", body)).status == 200
        finally:
            await gw.shutdown()

    asyncio.run(traffic())
    records = store.read_records(row.id)
    store.close()
    served = [r for r in records if r.role is Role.SERVE]
    shadows = [r for r in records if r.role is Role.SHADOW]
    assert len(served) == REQUESTS
    assert all(r.arm is Arm.BASELINE for r in served)
    assert len(shadows) >= REQUESTS * 0.95
    js = tmp_path / "shadow.json"
    result = CliRunner().invoke(
        cli, ["shadow-report", "--home", str(home), "--json", str(js), "--fail-on-alert"]
    )
    assert result.exit_code == 1, result.output
    doc = json.loads(js.read_text())
    assert doc["fired"] == ["cost.mean_ratio"]
    cost = doc["ratios"][0]
    assert 1.3 < cost["ratio"] < 1.5
    assert cost["lo"] > 1.2
    assert "**ALERT: cost ratio" in result.stdout
