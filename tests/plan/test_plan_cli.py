"""``llm-rollout plan``: outputs (Markdown, JSON, spec) and clear errors with exit code 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import MODELS, assert_tables_are_rectangular

from llm_rollout.cli import COMMANDS, cli
from llm_rollout.plan import default_profile
from llm_rollout.plan.noise import NoiseProfile
from llm_rollout.registry import parse_models
from llm_rollout.spec import load_spec, parse_spec

FAST = ("--risk", "high", "--reps", "200", "--quiet")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["plan", *args])
    return result.exit_code, result.stdout, result.stderr


def base_args(models_file: Path) -> list[str]:
    return ["--models", str(models_file), "--baseline", "chat-v1", "--candidate", "chat-v2"]


def test_registered() -> None:
    assert COMMANDS["plan"] == ("llm_rollout.cli.plan", "plan")
    assert COMMANDS["calibrate"] == ("llm_rollout.cli.plan", "calibrate")
    assert COMMANDS["shadow-report"] == ("llm_rollout.cli.plan", "shadow_report")


def test_writes_runbook_json_and_a_spec_that_validates(models_file: Path, tmp_path: Path) -> None:
    out, js, spec = tmp_path / "runbook.md", tmp_path / "plan.json", tmp_path / "spec.yaml"
    code, stdout, _ = invoke(
        *base_args(models_file),
        "--rate",
        "600",
        "--cost-policy",
        "tolerant",
        "--out",
        str(out),
        "--json",
        str(js),
        "--spec-out",
        str(spec),
        *FAST,
    )
    assert code == 0, stdout
    md = out.read_text()
    # Headings and pipe tables that render on GitHub
    for heading in (
        "# Rollout plan: chat-v1 -> chat-v2",
        "## Shadow phase",
        "## Canary steps",
        "## How long each step must dwell",
        "## Go / no-go: cost versus quality",
        "## Rollback",
        "## Rollout spec",
    ):
        assert heading in md.splitlines(), heading
    tables = re.findall(r"^\| .* \|\n\| (?:-{3}:?|:?-{3}:?)(?: \| :?-{3}:?)* \|$", md, re.M)
    assert len(tables) >= 6
    assert_tables_are_rectangular(md)
    # JSON round-trips and holds the same spec
    doc = json.loads(js.read_text())
    assert doc["kind"] == "llm-rollout plan"
    assert json.loads(json.dumps(doc)) == doc
    assert parse_spec(doc["spec"]) == load_spec(spec)
    assert [s["weight"] for s in doc["steps"]] == [10, 50, 100]
    # The spec pins full registry refs of the models file
    versions = {v.name: v for v in parse_models(MODELS)}
    loaded = load_spec(spec)
    assert loaded.baseline == versions["chat-v1"].ref
    assert loaded.candidate == versions["chat-v2"].ref
    assert loaded.gates.cost.bound == pytest.approx(3.9, rel=1e-3)


def test_prints_the_runbook_without_out(models_file: Path) -> None:
    code, stdout, _ = invoke(*base_args(models_file), "--rate", "300", *FAST)
    assert code == 0
    assert stdout.startswith("# Rollout plan")
    assert "no-go under the strict cost policy" in stdout


@pytest.mark.parametrize("rate", ["0", "-1"])
def test_traffic_of_zero_or_below_is_refused(models_file: Path, rate: str) -> None:
    code, _, err = invoke(*base_args(models_file), "--rate", rate, *FAST)
    assert code == 2
    assert "--rate" in err
    assert "must be > 0" in err


def test_unknown_risk_level_is_refused(models_file: Path) -> None:
    code, _, err = invoke(*base_args(models_file), "--rate", "600", "--risk", "extreme")
    assert code == 2
    assert "--risk" in err
    assert "extreme" in err


def write_noise(path: Path, profile: NoiseProfile) -> Path:
    path.write_text(json.dumps(profile.to_dict()))
    return path


def test_noise_profile_of_another_model_is_refused(models_file: Path, tmp_path: Path) -> None:
    other = parse_models(MODELS)[1].ref  # measured on the candidate, not the baseline
    profile = NoiseProfile(**{**default_profile().__dict__, "model": other, "source": "store"})
    noise = write_noise(tmp_path / "noise.json", profile)
    code, _, err = invoke(*base_args(models_file), "--rate", "600", "--noise", str(noise), *FAST)
    assert code == 2
    assert "--noise" in err
    assert "not on the baseline" in err


def test_noise_profile_of_the_baseline_is_used(models_file: Path, tmp_path: Path) -> None:
    ref = parse_models(MODELS)[0].ref
    profile = NoiseProfile(**{**default_profile().__dict__, "model": ref, "source": "store"})
    noise = write_noise(tmp_path / "noise.json", profile)
    js = tmp_path / "plan.json"
    code, _, _ = invoke(
        *base_args(models_file),
        "--rate",
        "600",
        "--noise",
        str(noise),
        "--json",
        str(js),
        "--out",
        str(tmp_path / "r.md"),
        *FAST,
    )
    assert code == 0
    doc = json.loads(js.read_text())
    assert doc["inputs"]["noise"]["model"] == ref
    assert not doc["inputs"]["noise_assumed"]


def test_not_a_noise_profile_is_refused(models_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "something else"}')
    code, _, err = invoke(*base_args(models_file), "--rate", "600", "--noise", str(bad), *FAST)
    assert code == 2
    assert "not a noise profile" in err


def test_prices_missing_from_the_models_file_are_named(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(MODELS))
    del doc["models"][1]["prices"]
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, _, err = invoke(*base_args(path), "--rate", "600", *FAST)
    assert code == 2
    assert "--models" in err
    assert "prices" in err


def test_zero_prices_are_named_by_model(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(MODELS))
    doc["models"][0]["prices"] = {"input": 0, "output": 0}
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, _, err = invoke(*base_args(path), "--rate", "600", *FAST)
    assert code == 2
    assert "--baseline" in err
    assert "no prices" in err


def test_unknown_model_is_named(models_file: Path) -> None:
    code, _, err = invoke(
        "--models",
        str(models_file),
        "--baseline",
        "chat-v1",
        "--candidate",
        "nope",
        "--rate",
        "600",
        *FAST,
    )
    assert code == 2
    assert "--candidate" in err
    assert "nope" in err


def test_bad_steps_and_tokens_are_named(models_file: Path) -> None:
    code, _, err = invoke(*base_args(models_file), "--rate", "600", "--steps", "10,5,100", *FAST)
    assert code == 2
    assert "--steps" in err
    code, _, err = invoke(*base_args(models_file), "--rate", "600", "--tokens", "400", *FAST)
    assert code == 2
    assert "--tokens" in err


def test_registry_models_are_used_without_a_models_file(models_file: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(cli, ["models", "add", str(models_file), "--home", str(home)])
    assert result.exit_code == 0, result.output
    code, stdout, _ = invoke(
        "--home",
        str(home),
        "--baseline",
        "chat-v1",
        "--candidate",
        "chat-v2",
        "--rate",
        "600",
        *FAST,
    )
    assert code == 0
    assert "# Rollout plan" in stdout


def test_measured_rollback_time_is_stated(models_file: Path, tmp_path: Path) -> None:
    bench = tmp_path / "rollback.json"
    trials = [
        {"exit_to_last_answer": t, "commit_to_last_answer": t + 0.1, "failed": 0}
        for t in (0.2, 0.35, 0.5)
    ]
    bench.write_text(json.dumps({"rate": 200, "trials": trials}))
    js = tmp_path / "plan.json"
    code, _, _ = invoke(
        *base_args(models_file),
        "--rate",
        "600",
        "--rollback-bench",
        str(bench),
        "--json",
        str(js),
        "--out",
        str(tmp_path / "r.md"),
        *FAST,
    )
    assert code == 0
    rollback = json.loads(js.read_text())["rollback"]
    assert rollback["measured"]["trials"] == 3
    assert rollback["measured"]["exit_to_last_answer_max"] == 0.5
    assert rollback["under_60s"] is True
    assert "measured: 3 trials" in (tmp_path / "r.md").read_text()
    bench.write_text("{}")
    code, _, err = invoke(
        *base_args(models_file), "--rate", "600", "--rollback-bench", str(bench), *FAST
    )
    assert code == 2
    assert "--rollback-bench" in err
