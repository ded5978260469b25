"""The planned spec round-trips: ``plan --spec-out`` -> ``start`` -> ``status`` shows the
planned steps and bounds; and a reduced-N ``--verify`` run compares plan and simulation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from plan_helpers import small_plan

from llm_rollout.cli import cli, main
from llm_rollout.plan import render_markdown, verify_plan
from llm_rollout.plan.verify import TOLERANCE


def binomial_pmf(k: int, n: int, p: float) -> float:
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


def run(argv: list[str]) -> int:
    """Exit code of one command run through the real entry point."""
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_spec_out_starts_and_status_shows_the_planned_steps_and_bounds(
    models_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, js, home = tmp_path / "spec.yaml", tmp_path / "plan.json", tmp_path / "home"
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "--models",
            str(models_file),
            "--baseline",
            "chat-v1",
            "--candidate",
            "chat-v2",
            "--rate",
            "600",
            "--risk",
            "high",
            "--cost-policy",
            "tolerant",
            "--reps",
            "200",
            "--spec-out",
            str(spec),
            "--json",
            str(js),
            "--out",
            str(tmp_path / "runbook.md"),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    planned = json.loads(js.read_text())["spec"]
    for argv in (["models", "add", str(models_file)], ["start", str(spec)]):
        assert run([*argv, "--home", str(home)]) == 0, capsys.readouterr()
    capsys.readouterr()
    main(["status", "--home", str(home), "--json"])
    status = json.loads(capsys.readouterr().out)
    assert status["phase"] == "shadow"
    assert status["steps"] == [s["weight"] for s in planned["steps"]]
    assert status["shadow_sample"] == planned["shadow"]["sample"]
    bounds = {(v["gate"], v["statistic"]): v["bound"] for v in status["decision"]["verdicts"]}
    assert bounds[("cost", "mean_ratio")] == pytest.approx(planned["gates"]["cost"]["bound"])
    assert bounds[("latency", "p99_ratio")] == planned["gates"]["latency"]["p99"]
    assert bounds[("output_length", "mean_ratio")] == planned["gates"]["output_length"]["mean"][0]
    main(["status", "--home", str(home)])
    text = capsys.readouterr().out
    assert "phase shadow" in text
    assert "cost" in text


def test_reduced_verify_compares_plan_and_simulation() -> None:
    plan = small_plan(rate=300, steps=(50, 100), max_dwell=1800, cost_policy="tolerant")
    v = verify_plan(plan, 6, workers=1)
    assert v.runs == 6
    assert v.rows[0].scenario.startswith("A/A")
    assert [r.regression for r in v.rows[1:]] == [d.regression for d in plan.detections]
    for row, d in zip(v.rows[1:], plan.detections, strict=True):
        assert row.planned == d.stated
        assert row.stage == d.stated_stage
        assert row.simulated is not None
        assert row.simulated.n == 6
        assert row.within == (abs(row.simulated.value - d.stated) <= TOLERANCE)
        # six runs cannot check 5 points, but they must be plausible under the planned rate
        assert binomial_pmf(row.simulated.k, 6, min(max(d.stated, 0.01), 0.99)) > 1e-3, row
    md = render_markdown(plan, v)
    assert "## Verification in the simulator" in md
    assert "Simulated false-rollback rate" in md
