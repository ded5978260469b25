"""`schema`, `validate` and `judge`: library errors become one clear line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llm_rollout.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def write_records(path: Path, cost_factor: float, n: int = 4000, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        cand = rng.random() < 0.5
        cost = rng.lognormal(np.log(0.001), 0.3) * (cost_factor if cand else 1.0)
        lines.append(
            json.dumps(
                {
                    "request_id": f"r{i}",
                    "arm": "candidate" if cand else "baseline",
                    "latency_ms": float(rng.lognormal(np.log(500), 0.3)),
                    "cost_usd": float(cost),
                    "completion_tokens": int(rng.lognormal(np.log(200), 0.3)),
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")


def test_schema_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert "steps" in json.loads(out)["properties"]


def test_validate_lists_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: r1\nbaseline: 'x y'\nalpha: 2\n")
    code, _, err = run(capsys, "validate", str(spec))
    assert code == 2
    for field in ("baseline", "candidate", "alpha"):
        assert f"  {field}:" in err
    assert "Traceback" not in err


def test_judge_fails_a_doubled_cost(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    records = tmp_path / "r.jsonl"
    write_records(records, cost_factor=2.0)
    code, out, _ = run(capsys, "judge", str(records), "--json", "--weight", "50")
    assert code == 0
    decision = json.loads(out)
    cost = next(v for v in decision["verdicts"] if v["gate"] == "cost")
    assert cost["outcome"] == "FAIL"
    assert cost["lo"] > 1.2
    assert decision["outcome"] == "FAIL"


def test_judge_passes_cost_of_identical_arms(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    records = tmp_path / "r.jsonl"
    write_records(records, cost_factor=1.0)
    code, out, _ = run(capsys, "judge", str(records), "--json")
    assert code == 0
    cost = next(v for v in json.loads(out)["verdicts"] if v["gate"] == "cost")
    assert cost["outcome"] == "PASS"


def test_judge_renders_a_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    records = tmp_path / "r.jsonl"
    write_records(records, cost_factor=2.0, n=1000)
    code, out, _ = run(capsys, "judge", str(records))
    assert code == 0
    assert "cost" in out
    assert "FAIL" in out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"request_id": "a", "arm": "baseline", "latency_ms": -5}', "latency_ms"),
        ('{"request_id": "a", "arm": "baseline", "latency_ms": NaN}', "latency_ms"),
        ('{"request_id": "a", "arm": "blue", "latency_ms": 5}', "arm must be one of"),
        ('{"request_id": "a", "arm": "baseline", "latency_ms": 5, "colour": 1}', "colour"),
        ('{"request_id": "a", "arm": "baseline"}', "missing record field"),
        ("[1, 2]", "expected a JSON object"),
        ("{not json", "r.jsonl:1"),
        ('{"request_id": "a", "rating": 7}', "rating"),
    ],
)
def test_bad_records_name_the_line_and_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, line: str, message: str
) -> None:
    records = tmp_path / "r.jsonl"
    records.write_text(line + "\n")
    code, _, err = run(capsys, "judge", str(records))
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_missing_records_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "judge", str(tmp_path / "none.jsonl"))
    assert code == 2
    assert "cannot read" in err


def test_empty_window_is_nodata(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    records = tmp_path / "r.jsonl"
    records.write_text("")
    code, out, _ = run(capsys, "judge", str(records), "--json")
    assert code == 0
    assert {v["outcome"] for v in json.loads(out)["verdicts"]} == {"NODATA"}
