"""The shadow report on stored records: pairing, ratios, flips, finish reasons, text, alerts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from llm_rollout.analysis import (
    build_report,
    pair_records,
    paired_ratio_interval,
    render_shadow_markdown,
    response_text,
)
from llm_rollout.cli import cli
from llm_rollout.records import Arm, RequestRecord, Role, Status
from llm_rollout.spec import parse_spec
from llm_rollout.store.sqlite import SQLiteStore
from llm_rollout.testing import assert_tables_are_rectangular

SPEC = {
    "name": "chat",
    "baseline": "base@sha256:" + "0" * 64,
    "candidate": "cand@sha256:" + "1" * 64,
    "shadow": {"sample": 1.0, "alerts": [{"gate": "cost", "above": 1.2}]},
    "steps": [10, 100],
}


def rec(rid: str, role: Role, arm: Arm, **kw: object) -> RequestRecord:
    fields: dict[str, object] = {
        "request_id": rid,
        "time": 1_700_000_000.0,
        "rollout_id": "r1",
        "step": -1,
        "arm": arm,
        "role": role,
        "model_digest": ("1" if arm is Arm.CANDIDATE else "0") * 64,
        "status": Status.OK,
        "http_status": 200,
        "latency_ms": 100.0,
        "ttft_ms": 20.0,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "cost_usd": 1e-4,
        "finish_reason": "stop",
    }
    fields.update(kw)
    return RequestRecord(**fields)  # type: ignore[arg-type]


def pairs(n: int, cost_factor: float, seed: int = 0) -> list[RequestRecord]:
    """n requests served by the baseline, each mirrored to the candidate."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        base_cost = float(rng.lognormal(np.log(1e-4), 0.3))
        noise = float(rng.lognormal(0, 0.05))
        out.append(rec(f"q{i}", Role.SERVE, Arm.BASELINE, cost_usd=base_cost))
        out.append(
            rec(f"q{i}", Role.SHADOW, Arm.CANDIDATE, cost_usd=base_cost * cost_factor * noise)
        )
    return out


def test_pairs_shadow_calls_with_the_served_baseline_call() -> None:
    records = [
        rec("a", Role.SERVE, Arm.BASELINE),
        rec("a", Role.SHADOW, Arm.CANDIDATE),
        rec("b", Role.SERVE, Arm.BASELINE),  # not mirrored
        rec("c", Role.SHADOW, Arm.CANDIDATE),  # its served call is missing
        rec("d", Role.SERVE, Arm.CANDIDATE),  # a canary call: never paired
    ]
    found, shadows, unpaired, served = pair_records(records)
    assert [(b.request_id, c.request_id) for b, c in found] == [("a", "a")]
    assert (shadows, unpaired, served) == (2, 1, 2)


def test_paired_ratio_interval_is_tight_and_covers_the_truth() -> None:
    rng = np.random.default_rng(1)
    b = rng.lognormal(0, 0.5, 400)
    c = b * 1.4 * rng.lognormal(0, 0.05, 400)  # same prompt: strongly correlated
    lo, hi = paired_ratio_interval(b, c, 0.05)
    ratio = c.mean() / b.mean()
    assert lo < ratio < hi
    assert lo < 1.4 * np.exp(0.05**2 / 2) < hi
    assert hi - lo < 0.05  # far tighter than two independent intervals at n = 400


def test_cost_alert_fires_for_a_pricier_candidate() -> None:
    report = build_report(pairs(300, 1.4), parse_spec(SPEC), rollout="r1")
    assert report.pairs == 300
    cost = report.ratios[0]
    assert cost.metric == "cost"
    assert cost.lo > 1.3
    assert cost.hi < 1.5
    [alert] = report.alerts
    assert report.fired == (alert,)
    assert alert.lo > 1.2
    assert "cost ratio" in alert.explanation
    assert "**ALERT:" in render_shadow_markdown(report)


def test_no_alert_for_a_candidate_within_the_threshold() -> None:
    report = build_report(pairs(300, 1.0), parse_spec(SPEC), rollout="r1")
    assert report.fired == ()
    assert "No alert fired." in render_shadow_markdown(report)


def test_refusal_flips_errors_and_finish_reason_changes() -> None:
    records = []
    for i in range(10):
        b_kw: dict[str, object] = {}
        c_kw: dict[str, object] = {}
        if i < 3:
            b_kw["refused"] = True  # the baseline refused, the candidate answered
        elif i < 4:
            c_kw["refused"] = True
        elif i < 5:
            c_kw.update(status=Status.ERROR, http_status=502, finish_reason=None)
        elif i < 7:
            c_kw["finish_reason"] = "length"
        records += [
            rec(f"q{i}", Role.SERVE, Arm.BASELINE, **b_kw),
            rec(f"q{i}", Role.SHADOW, Arm.CANDIDATE, **c_kw),
        ]
    report = build_report(records, parse_spec(SPEC), rollout="r1")
    f = report.flips
    assert (f.pairs, f.baseline_only, f.candidate_only, f.both) == (9, 3, 1, 0)
    assert report.errors["candidate"] == 1
    assert report.errors["baseline"] == 0
    assert report.finish_reasons == {"stop": {"stop": 7, "length": 2, "-": 1}}
    assert report.finish_changed == pytest.approx(0.3)
    md = render_shadow_markdown(report)
    assert_tables_are_rectangular(md)
    assert "| baseline / candidate | - | length | stop |" in md
    assert "| stop | 1 | 2 | 7 |" in md


def write_payloads(directory: Path, rows: list[dict[str, str]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "2026-01-01.jsonl").open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return directory


def completion(text: str) -> str:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]})


def test_text_difference_when_payloads_are_stored(tmp_path: Path) -> None:
    records = pairs(3, 1.0)
    texts = [
        ("the cat sat on the mat", "the cat sat on the mat"),
        ("one two three four", "one two five six seven eight"),
        ("short", "a much longer answer than before"),
    ]
    rows = []
    for i, (b, c) in enumerate(texts):
        rows.append({"request_id": f"q{i}", "request": "{}", "response": completion(b)})
        rows.append({"request_id": f"q{i}", "role": "shadow", "request": "{}", "response": c})
    payloads = write_payloads(tmp_path / "payloads", rows)
    report = build_report(records, parse_spec(SPEC), rollout="r1", payloads=payloads)
    t = report.text
    assert t.available
    assert t.pairs == 3
    assert t.identical == pytest.approx(1 / 3)
    mean_b = np.mean([len(b) for b, _ in texts])
    mean_c = np.mean([len(c) for _, c in texts])
    assert t.length_ratio == pytest.approx(mean_c / mean_b)
    assert 0 < t.similarity < 1
    assert t.similarity_p10 <= t.similarity


def test_payloads_of_served_calls_only_cannot_be_compared(tmp_path: Path) -> None:
    payloads = write_payloads(tmp_path / "p", [{"request_id": "q0", "response": completion("x")}])
    report = build_report(pairs(2, 1.0), parse_spec(SPEC), rollout="r1", payloads=payloads)
    assert not report.text.available
    assert "no shadow outputs" in report.text.reason
    plain = build_report(pairs(2, 1.0), parse_spec(SPEC), rollout="r1")
    assert "not stored" in plain.text.reason


def test_response_text_reads_json_bodies_and_plain_text() -> None:
    assert response_text(completion("hi")) == "hi"
    assert response_text(json.dumps({"choices": [{"text": "legacy"}]})) == "legacy"
    assert response_text("streamed words") == "streamed words"


def stored_home(tmp_path: Path, records: list[RequestRecord]) -> Path:
    """A store holding rollout r1 (spec above) and its records."""
    from llm_rollout.operations import start_rollout
    from llm_rollout.registry import ModelVersion

    home = tmp_path / "home"
    home.mkdir()
    store = SQLiteStore(home / "store.db")
    base = ModelVersion(
        name="base", endpoint="http://b/v1", upstream_model="b", prices={"input": 1, "output": 2}
    )
    cand = ModelVersion(
        name="cand",
        endpoint="http://c/v1",
        upstream_model="c",
        prices={"input": 1.4, "output": 2.8},
    )
    store.put_model(base)
    store.put_model(cand)
    spec = parse_spec({**SPEC, "baseline": "base", "candidate": "cand"})
    start_rollout(store, spec, actor="test", now=1_700_000_000.0, rollout_id="r1")
    store.append_records(records)
    store.close()
    return home


def test_cli_fail_on_alert_exits_1_and_writes_both_formats(tmp_path: Path) -> None:
    home = stored_home(tmp_path, pairs(300, 1.4))
    md, js = tmp_path / "shadow.md", tmp_path / "shadow.json"
    result = CliRunner().invoke(
        cli,
        [
            "shadow-report",
            "r1",
            "--home",
            str(home),
            "--out",
            str(md),
            "--json",
            str(js),
            "--fail-on-alert",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "alerts fired: cost" in result.stdout
    doc = json.loads(js.read_text())
    assert doc["fired"] == ["cost.mean_ratio"]
    assert doc["pairs"] == 300
    assert all(
        v is None or math.isfinite(v) for v in doc["ratios"][0].values() if isinstance(v, float)
    )
    assert md.read_text().startswith("# Shadow report: r1")
    # without --fail-on-alert the same report exits 0
    again = CliRunner().invoke(cli, ["shadow-report", "r1", "--home", str(home)])
    assert again.exit_code == 0
    assert "**ALERT:" in again.stdout


def test_cli_no_alert_exits_0_and_bad_input_exits_2(tmp_path: Path) -> None:
    home = stored_home(tmp_path, pairs(300, 1.0))
    ok = CliRunner().invoke(cli, ["shadow-report", "--home", str(home), "--fail-on-alert"])
    assert ok.exit_code == 0, ok.output
    missing = CliRunner().invoke(cli, ["shadow-report", "nope", "--home", str(home)])
    assert missing.exit_code == 2
    assert "nope" in missing.stderr
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("name: x\n")
    bad = CliRunner().invoke(
        cli, ["shadow-report", "r1", "--home", str(home), "--spec", str(bad_spec)]
    )
    assert bad.exit_code == 2
    assert "baseline" in bad.stderr
