#!/usr/bin/env python3
"""Record, or compare against a recording, every number a refactor must leave unchanged.

    python scripts/behaviour_snapshot.py --write tests/golden/behaviour.json.gz  # record
    python scripts/behaviour_snapshot.py --check tests/golden/behaviour.json.gz  # compare

What it records:

- every golden judge case: the full verdicts (estimate, interval, bound, counts), not only
  the outcome the golden suite asserts;
- one seeded run of every example scenario, with its whole timeline of checks and verdicts,
  and small seeded Monte Carlo runs of the scenarios docs/simulations.md quotes;
- the worked plan of docs/planning.md (plan JSON and a short ``--verify``);
- ``scripts/check_statistics.py --quick`` (its Markdown, less the line that names the date).

The simulator and the planner are driven through the CLI, whose interface a refactor keeps, so
the same script runs before and after. ``--check`` compares numbers to a relative 1e-12 and
prints every difference; it exits 1 when anything differs, except the ends of simulated rates'
intervals that are now exactly :func:`llm_rollout.stats.binomial_interval` of the same counts
(Monte Carlo reports carried Wilson's interval when the recording was made): those it counts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "examples/scenarios").glob("*.yaml"))
MONTE_CARLO = [  # (scenario, extra flags): the Monte Carlo families docs/simulations.md quotes
    ("aa.yaml", ["--regression", "cost=1.25", "--method", "sequential"]),
    ("aa.yaml", []),
    ("aa.yaml", ["--spec", "examples/specs/default-bounds.yaml"]),
    ("shadow-cost-spike.yaml", ["--method", "sequential"]),
    ("quality-vs-cost-strict.yaml", ["--method", "sequential"]),
    ("quality-vs-cost-tolerant.yaml", ["--method", "sequential"]),
]
MC_RUNS = 30
REL_TOL = 1e-12
_MAIN = "import sys; from llm_rollout.cli import main; sys.exit(main(sys.argv[1:]))"


def _cli(*args: str) -> Any:
    """The command's JSON and its exit status (a halted simulation exits 1 by design)."""
    out = subprocess.run(
        [sys.executable, "-c", _MAIN, *args], check=False, cwd=ROOT, capture_output=True, text=True
    )
    if not out.stdout.strip():
        raise RuntimeError(f"llm-rollout {' '.join(args)} failed: {out.stderr.strip()}")
    return {"exit": out.returncode, "output": json.loads(out.stdout)}


def _golden() -> dict[str, Any]:
    from llm_rollout.errors import InvalidDataError
    from llm_rollout.judge.evaluation.golden import judge_case, load_cases

    out: dict[str, Any] = {}
    for case in load_cases():
        try:
            out[case["id"]] = [v.to_dict() for v in judge_case(case)]
        except InvalidDataError as exc:
            out[case["id"]] = f"InvalidDataError: {exc}"
    return out


def _scenarios() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in SCENARIOS:
        out[path.name] = _cli("simulate", "--scenario", str(path), "--json")
    for name, flags in MONTE_CARLO:
        key = " ".join([name, *flags])
        out[key] = _cli(
            "simulate",
            "--scenario",
            f"examples/scenarios/{name}",
            *flags,
            "--monte-carlo",
            str(MC_RUNS),
            "--workers",
            "1",
            "--json",
        )
    return out


def _plan() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "plan.json"
        spec = Path(tmp) / "spec.yaml"
        args = [
            "plan",
            "--models",
            "examples/plan/models.yaml",
            "--baseline",
            "support-v1",
            "--candidate",
            "support-v2",
            "--rate",
            "600",
            "--risk",
            "medium",
            "--cost-policy",
            "tolerant",
            "--noise",
            "examples/plan/noise.json",
            "--rollback-bench",
            "examples/plan/rollback-bench.json",
            "--out",
            str(Path(tmp) / "runbook.md"),
            "--json",
            str(plan),
            "--spec-out",
            str(spec),
            "--verify",
            "--runs",
            "20",
            "--workers",
            "1",
        ]
        subprocess.run(
            [sys.executable, "-c", _MAIN, *args],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        runbook = (Path(tmp) / "runbook.md").read_text().replace(tmp, "TMP")
        return {
            "plan": json.loads(plan.read_text().replace(tmp, "TMP")),
            "spec": spec.read_text(),
            "runbook": runbook.splitlines(),
        }


def _statistics() -> list[str]:
    out = subprocess.run(
        [sys.executable, "scripts/check_statistics.py", "--quick"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # The generated text names the day it was run and how long it took; nothing else varies.
    return [
        line
        for line in out.splitlines()
        if not line.startswith(("- Date:", "- Machine:", "- Runtime:"))
    ]


def record() -> dict[str, Any]:
    return {
        "golden": _golden(),
        "scenarios": _scenarios(),
        "plan": _plan(),
        "statistics": _statistics(),
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float | int):
        if math.isnan(a) or math.isnan(float(b)):
            return math.isnan(a) and math.isnan(float(b))
        return math.isclose(a, float(b), rel_tol=REL_TOL, abs_tol=1e-300)
    return bool(a == b)


def differences(before: Any, after: Any, path: str = "") -> list[tuple[str, str]]:
    """Every leaf where the two recordings differ, as ``(kind, "path: before -> after")``.

    ``kind`` is ``interval`` for the end of a simulated rate's 95% interval that moved to
    exactly :func:`llm_rollout.stats.binomial_interval` of the same ``k`` and ``n`` (the Monte
    Carlo reports carried Wilson's interval before that change), else ``changed``."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[tuple[str, str]] = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in before or key not in after:
                out.append(("changed", f"{where}: only {'after' if key in after else 'before'}"))
            elif key in ("lo", "hi") and _exact_interval_end(after, key):
                if not _same(before[key], after[key]):
                    out.append(("interval", f"{where}: {before[key]!r} -> {after[key]!r}"))
            else:
                out.extend(differences(before[key], after[key], where))
        return out
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            return [("changed", f"{path}: {len(before)} items -> {len(after)}")]
        out = []
        for i, (x, y) in enumerate(zip(before, after, strict=True)):
            out.extend(differences(x, y, f"{path}[{i}]"))
        return out
    return [] if _same(before, after) else [("changed", f"{path}: {before!r} -> {after!r}")]


def _exact_interval_end(rate: dict[str, Any], key: str) -> bool:
    from llm_rollout.stats import binomial_interval

    k, n = rate.get("k"), rate.get("n")
    if not isinstance(k, int) or not isinstance(n, int) or n <= 0:
        return False
    lo, hi = binomial_interval(k, n)
    return _same(rate[key], lo if key == "lo" else hi)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="record the numbers into this JSON file")
    group.add_argument("--check", type=Path, help="compare the numbers with this recording")
    args = parser.parse_args()
    now = record()
    if args.write is not None:
        text = json.dumps(now, indent=1, sort_keys=True) + "\n"
        args.write.write_bytes(gzip.compress(text.encode(), mtime=0))
        print(f"recorded {args.write}")
        return 0
    before = json.loads(gzip.decompress(args.check.read_bytes()))
    # Round-trip through JSON so both sides have the same types (tuples become lists).
    after = json.loads(json.dumps(now))
    failed = False
    for part in now:
        found = differences(before[part], after[part], part)
        intervals = [line for kind, line in found if kind == "interval"]
        changed = [line for kind, line in found if kind == "changed"]
        print(f"{part}: {len(changed)} changed, {len(intervals)} interval ends now exact")
        for line in changed[:300]:
            print("  " + line)
        failed |= bool(changed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
