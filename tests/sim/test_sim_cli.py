"""``llm-rollout simulate``: the verdict line, the JSON shape, and clear errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_rollout.cli import COMMANDS, cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SMALL = """
name: small-cli
spec:
  name: small
  baseline: base@sha256:0123456789ab
  candidate: cand@sha256:ba9876543210
  require: no-breach
  shadow: {sample: 0.2, min_duration: 10m, min_samples: 100}
  steps:
    - {weight: 10, min_dwell: 10m, min_samples: 100, max_dwell: 1h}
    - {weight: 50, min_dwell: 10m, min_samples: 100, max_dwell: 1h}
    - {weight: 100, min_dwell: 5m, min_samples: 100, max_dwell: 1h}
rate: 300
users: 20000
seed: 3
"""


@pytest.fixture
def scenario(tmp_path: Path) -> str:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return str(path)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_registered() -> None:
    assert COMMANDS["simulate"] == ("llm_rollout.cli.simulate", "simulate")


def test_a_regression_prints_the_timeline_and_the_halting_verdict(scenario: str) -> None:
    code, out, _ = invoke("--scenario", scenario, "--regression", "cost=2")
    assert code == 0, out
    last = out.strip().splitlines()[-1]
    assert last.startswith(("halted at", "halted in shadow")), last
    assert "cost ratio" in last
    assert "gates at" in out  # a gate table at the transition
    assert "exposed:" in out


def test_aa_is_promoted_and_quiet_prints_one_line(scenario: str) -> None:
    code, out, _ = invoke("--scenario", scenario, "--quiet")
    assert code == 0
    assert out.strip().startswith("promoted after")
    assert len(out.strip().splitlines()) == 1


def test_json_shape(scenario: str) -> None:
    code, out, _ = invoke(
        "--scenario", scenario, "--regression", "p99_latency=3", "--json", "--method", "both"
    )
    assert code == 0
    doc = json.loads(out)  # nothing but JSON on stdout
    assert doc["mode"] == "single"
    assert doc["scenario"]["regressions"] == [
        {"metric": "p99_latency", "factor": 3.0, "start": 0.0, "share": 1.0}
    ]
    assert [r["method"] for r in doc["results"]] == ["sequential", "threshold"]
    run = doc["results"][0]
    assert {"outcome", "stage", "time", "headline", "exposure", "timeline", "fired"} <= set(run)
    assert run["timeline"][0]["time"] == 300.0
    assert {"verdicts", "n_baseline", "n_candidate", "outcome"} <= set(run["timeline"][0])


def test_monte_carlo_json(scenario: str) -> None:
    code, out, _ = invoke("--scenario", scenario, "--monte-carlo", "4", "--json", "--workers", "1")
    assert code == 0
    doc = json.loads(out)
    assert doc["mode"] == "monte_carlo"
    assert [s["method"] for s in doc["results"]] == ["sequential", "threshold"]
    assert doc["results"][0]["runs"] == 4
    assert set(doc["results"][0]["outcomes"]) == {"promoted", "rolled_back", "paused", "timeout"}


def test_monte_carlo_table(scenario: str) -> None:
    code, out, _ = invoke(
        "--scenario", scenario, "--monte-carlo", "3", "--workers", "1", "--method", "sequential"
    )
    assert code == 0
    assert "rolled back" in out
    assert out.strip().splitlines()[-1].startswith("[sequential] 3 runs:")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--regression", "speed=2"], "unknown metric 'speed'"),
        (["--regression", "cost=-1"], "factor"),
        (["--regression", "cost=nan"], "factor"),
        (["--regression", "cost=0"], "factor"),
        (["--rate", "0"], "--rate"),
        (["--rate", "-3"], "--rate"),
        (["--spec", "/nonexistent/rollout.yaml"], "cannot read"),
        (["--scenario", "/nonexistent/scenario.yaml"], "cannot read"),
        (["--bound-scale", "0"], "bound_scale"),
        (["--monte-carlo", "-1"], "--monte-carlo"),
    ],
)
def test_bad_input_exits_2_with_a_message(args: list[str], needle: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("rate: 0\n", "rate"),
        ("regressions: [{metric: cost}]\n", "needs metric and factor"),
        ("spec: {name: x}\n", "baseline"),
        ("[not, a, mapping\n", "not valid YAML"),
        ("colour: blue\n", "unknown scenario field"),
    ],
)
def test_invalid_scenario_files_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, _, err = invoke("--scenario", str(path))
    assert code == 2
    assert needle in err
    assert str(path) in err


def test_main_maps_errors_to_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from llm_rollout.cli import main

    with pytest.raises(SystemExit) as info:
        main(["simulate", "--regression", "cost=-1"])
    assert info.value.code == 2
    assert "factor" in capsys.readouterr().err


def test_example_scenario_runs(tmp_path: Path) -> None:
    code, out, _ = invoke(
        "--scenario", str(EXAMPLES / "scenarios" / "cost-regression.yaml"), "--quiet"
    )
    assert code == 0
    assert out.strip()
