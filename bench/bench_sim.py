"""Simulator speed: one rollout that serves about a million requests, and Monte Carlo runs.

    python bench/bench_sim.py [--repeat 3] [--mc-repeat 1] [--runs 500]

Prints one row per case with the median wall time over the repeats. Targets: a 1M-request
rollout in < 10 s; ``--monte-carlo 500`` of the default scenario in < 60 s on 2 cores.
Nearly all of the time is spent in the judge (``judge_step``), once per check.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from llm_rollout.sim import Scenario, load_scenario, monte_carlo, simulate  # noqa: E402
from llm_rollout.sim.traffic import Traffic  # noqa: E402
from llm_rollout.spec import Method, load_spec  # noqa: E402

AA = ROOT / "examples" / "scenarios" / "aa.yaml"
DEFAULT_SPEC = ROOT / "examples" / "default-spec.yaml"
COST = ROOT / "examples" / "scenarios" / "cost-regression.yaml"
# requests/minute: the example spec's A/A rollout takes 7 h 30 min (90 min of shadow, then
# its minimum dwells), so it serves ~1M requests at this rate (plus the shadow calls).
MILLION_RATE = 1_000_000 / 450


def timed(fn: Callable[[], str], repeat: int) -> tuple[float, str]:
    times, note = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        note = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), note


# The built-in default spec promotes an A/A at this rate after 95 min: ~1M requests.
DEFAULT_MILLION_RATE = 10_500.0


def million(spec: Path | None, rate: float) -> Callable[[], str]:
    def go() -> str:
        sc = load_scenario(AA, None if spec is None else load_spec(spec))
        sc = sc.with_(traffic=Traffic(rate=rate, users=2_000_000))
        r = simulate(sc, timeline=False)
        shadow = f"{r.shadow_calls:,} shadow"
        return f"{r.requests:,} requests + {shadow}, {r.outcome} after {r.time / 60:.0f} min"

    return go


def mc(scenario: Scenario, runs: int, methods: list[Method | None]) -> Callable[[], str]:
    def go() -> str:
        out = monte_carlo(scenario, runs, methods)
        return "; ".join(
            f"{s.method}: " + ", ".join(f"{k} {r.k}" for k, r in s.outcomes.items() if r.k)
            for s in out
        )

    return go


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mc-repeat", type=int, default=1)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    n = args.runs
    cases: list[tuple[str, Callable[[], str], float | None, int]] = [
        ("one rollout, ~1M requests, examples/rollout.yaml", million(None, MILLION_RATE), 10.0, 1),
        (
            "one rollout, ~1M requests, built-in default spec",
            million(DEFAULT_SPEC, DEFAULT_MILLION_RATE),
            10.0,
            1,
        ),
        (
            f"monte carlo {n}, default scenario (built-in spec, A/A, 100 rpm), sequential",
            mc(Scenario(), n, [Method.SEQUENTIAL]),
            60.0,
            0,
        ),
        (
            f"monte carlo {n}, cost-regression example, sequential",
            mc(load_scenario(COST), n, [Method.SEQUENTIAL]),
            60.0,
            0,
        ),
        (
            f"monte carlo {n}, aa example, sequential",
            mc(load_scenario(AA), n, [Method.SEQUENTIAL]),
            60.0,
            0,
        ),
    ]
    print(f"cpus: {os.cpu_count()}, repeats: {args.repeat} / {args.mc_repeat} (median shown)")
    print(f"{'case':72} {'median s':>9} {'target':>7}  result")
    for name, fn, target, single in cases:
        seconds, note = timed(fn, args.repeat if single else args.mc_repeat)
        goal = f"< {target:g}" if target else ""
        flag = "" if target is None or seconds < target else "  (over target)"
        print(f"{name:72} {seconds:9.2f} {goal:>7}  {note}{flag}", flush=True)


if __name__ == "__main__":
    main()
