"""``llm-rollout plan``: outputs (Markdown, JSON, spec) and clear errors with exit code 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from plan_helpers import MODELS

from llm_rollout.cli import COMMANDS, cli
from llm_rollout.plan import default_profile
from llm_rollout.plan.noise import NoiseProfile
from llm_rollout.registry import parse_models
from llm_rollout.spec import load_spec, parse_spec
from llm_rollout.testing import assert_tables_are_rectangular

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


def bench_trials() -> list[dict[str, object]]:
    """Trials as bench/bench_rollback.py --json writes them (the fields the plan reads, plus
    some it does not)."""
    return [
        {
            "rollout": f"bench-rollback-{i}",
            "cli_seconds": 1.2,
            "exit_to_last_answer": exit_s,
            "commit_to_last_answer": exit_s + 0.2,
            "commit_to_last_start": None,
            "commit_to_readyz": readyz,
            "requests": 650,
            "failed": 0,
            "skipped": 3,
        }
        for i, (exit_s, readyz) in enumerate([(0.0, 0.041), (0.128, 0.081), (0.05, 0.06)])
    ]


def plan_with_bench(models_file: Path, tmp_path: Path, bench: Path) -> tuple[int, str, str]:
    return invoke(
        *base_args(models_file),
        "--rate",
        "600",
        "--rollback-bench",
        str(bench),
        "--json",
        str(tmp_path / "plan.json"),
        "--out",
        str(tmp_path / "r.md"),
        *FAST,
    )


def test_measured_rollback_time_is_stated(models_file: Path, tmp_path: Path) -> None:
    bench = tmp_path / "rollback.json"
    bench.write_text(json.dumps({"rate": 200, "trials": bench_trials()}))
    code, _, err = plan_with_bench(models_file, tmp_path, bench)
    assert code == 0, err
    rollback = json.loads((tmp_path / "plan.json").read_text())["rollback"]
    measured = rollback["measured"]
    assert measured["trials"] == 3
    assert measured["exit_to_last_answer_max"] == 0.128
    assert measured["commit_to_applied_max"] == 0.081
    assert measured["requests"] == 1950
    assert measured["failed_requests"] == 0
    assert rollback["switch_seconds"] == 0.081
    assert rollback["under_60s"] is True
    md = (tmp_path / "r.md").read_text()
    summary = next(line for line in md.splitlines() if line.startswith("- **Rollback**"))
    assert "(measured)" in summary
    assert "returns -> last candidate answer p100 128 ms" in summary
    assert "commit -> every gateway applied it p100 81 ms" in summary
    assert "0 of 1,950 requests failed (3 trials at 200 requests/s" in summary
    # The benchmark's JSON records no date or machine: the runbook says so
    assert "date not recorded in the file (file modified" in summary
    assert "machine not recorded in the file" in summary
    assert "estimate" not in summary


def test_a_bench_file_with_its_date_and_machine_is_quoted(
    models_file: Path, tmp_path: Path
) -> None:
    bench = tmp_path / "rollback.json"
    doc = {"rate": 200, "date": "2026-11-28", "machine": "2 cores", "trials": bench_trials()}
    bench.write_text(json.dumps(doc))
    code, _, err = plan_with_bench(models_file, tmp_path, bench)
    assert code == 0, err
    md = (tmp_path / "r.md").read_text()
    assert "2026-11-28; 2 cores)" in md
    assert "not recorded" not in md


def test_without_a_measurement_the_rollback_time_is_an_estimate(models_file: Path) -> None:
    code, stdout, _ = invoke(*base_args(models_file), "--rate", "600", *FAST)
    assert code == 0
    summary = next(line for line in stdout.splitlines() if line.startswith("- **Rollback**"))
    assert "**an estimate**" in summary
    assert "--rollback-bench" in summary


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json", "invalid JSON"),
        ("{}", "expected a non-empty list of 'trials'"),
        ('{"trials": []}', "expected a non-empty list of 'trials'"),
        ('{"trials": [{"exit_to_last_answer": 0.1}]}', "trial 1 has no 'commit_to_last_answer'"),
        (
            '{"trials": [{"exit_to_last_answer": "fast", "commit_to_last_answer": 0.1}]}',
            "trial 1: exit_to_last_answer must be a number of seconds",
        ),
        (
            '{"trials": [{"exit_to_last_answer": 0.1, "commit_to_last_answer": 0.1, '
            '"failed": -1}]}',
            "trial 1: failed must be a count >= 0",
        ),
    ],
)
def test_a_malformed_bench_file_is_named_with_exit_code_2(
    models_file: Path, tmp_path: Path, content: str, reason: str
) -> None:
    bench = tmp_path / "rollback.json"
    bench.write_text(content)
    code, _, err = plan_with_bench(models_file, tmp_path, bench)
    assert code == 2
    assert f"--rollback-bench: {bench} is not the JSON of bench/bench_rollback.py" in err
    assert reason in err
    assert not (tmp_path / "r.md").exists()


def test_a_missing_bench_file_is_named(models_file: Path, tmp_path: Path) -> None:
    bench = tmp_path / "nope.json"
    code, _, err = plan_with_bench(models_file, tmp_path, bench)
    assert code == 2
    assert f"--rollback-bench: cannot read {bench}" in err


@pytest.mark.parametrize("value", ["0s", "soon"])
def test_a_bad_longest_shadow_is_named(models_file: Path, value: str) -> None:
    code, _, err = invoke(*base_args(models_file), "--rate", "600", "--max-shadow", value, *FAST)
    assert code == 2
    assert "--max-shadow" in err
