"""Benchmark the SQLite store's record path: append N records, then read (and judge) the window.

    python bench/bench_store_window.py [--records 1000000] [--runs 5] [--batch 50000]

Writes N records of one rollout step (90% baseline / 10% candidate, log-normal latency and
token counts, ~3% with feedback) into a temporary SQLite file, then times ``read_window`` over
all of them, and, when the judge is there, ``read_window`` + ``judge_step`` with the default
spec: the "judging pass over a 1M-record window, read included, < 2 s" requirement.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from llm_rollout.records import Arm, Feedback, RequestRecord, Role, Status, Window
from llm_rollout.store.sqlite import SQLiteStore

ROLLOUT, STEP, START = "bench", 2, 1_700_000_000.0
DIGESTS = {Arm.BASELINE: "a" * 64, Arm.CANDIDATE: "b" * 64}


def make_records(n: int, seed: int = 7, ordered_ids: bool = False) -> list[RequestRecord]:
    """N served records over one hour, vectorised draws, realistic shapes.

    Request ids are random (like uuid4) unless ``ordered_ids``: time-ordered ids (ULID-like)
    append to the end of the request-id index instead of landing on random pages."""
    rng = np.random.default_rng(seed)
    candidate = rng.random(n) < 0.10
    latency = rng.lognormal(np.log(800.0), 0.5, n) * np.where(candidate, 1.05, 1.0)
    stream = rng.random(n) < 0.5
    ttft = rng.lognormal(np.log(250.0), 0.4, n)
    prompt = rng.poisson(400, n)
    completion = np.maximum(1, rng.lognormal(np.log(200.0), 0.6, n)).astype(np.int64)
    cost = (prompt * 0.15 + completion * 0.60) / 1e6
    error = rng.random(n) < 0.005
    refused = rng.random(n) < 0.01
    times = START + np.sort(rng.random(n)) * 3600.0
    return [
        RequestRecord(
            request_id=f"req-{i:08d}-{rng_id:016x}" if ordered_ids else f"{rng_id:016x}{i:016x}",
            time=float(times[i]),
            rollout_id=ROLLOUT,
            step=STEP,
            arm=Arm.CANDIDATE if candidate[i] else Arm.BASELINE,
            role=Role.SERVE,
            model_digest=DIGESTS[Arm.CANDIDATE if candidate[i] else Arm.BASELINE],
            status=Status.ERROR if error[i] else Status.OK,
            http_status=502 if error[i] else 200,
            latency_ms=float(latency[i]),
            ttft_ms=float(ttft[i]) if stream[i] else None,
            prompt_tokens=int(prompt[i]),
            completion_tokens=0 if error[i] else int(completion[i]),
            cost_usd=0.0 if error[i] else float(cost[i]),
            refused=bool(refused[i]),
            finish_reason="stop",
            sticky_bucket=i % 10_000,
            policy_version=3,
        )
        for i, rng_id in enumerate(rng.integers(0, 2**63, n).tolist())
    ]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=50_000, help="records per append call")
    parser.add_argument("--feedback", type=float, default=0.03, help="share rated")
    parser.add_argument("--ordered-ids", action="store_true", help="time-ordered request ids")
    args = parser.parse_args()

    t0 = time.perf_counter()
    records = make_records(args.records, ordered_ids=args.ordered_ids)
    print(f"generated {len(records):,} records in {time.perf_counter() - t0:.1f} s")
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "store.db") as store:
        t0 = time.perf_counter()
        for i in range(0, len(records), args.batch):
            store.append_records(records[i : i + args.batch])
        insert = time.perf_counter() - t0
        rows.append(("append_records", f"{insert:.3f}", f"1 ({len(records) / insert:,.0f}/s)"))

        rated = records[:: max(1, round(1 / args.feedback))] if args.feedback > 0 else []
        t0 = time.perf_counter()
        for j, r in enumerate(rated):
            store.append_feedback(Feedback(r.request_id, r.time + 60, -1.0 if j % 5 == 0 else 1.0))
        fb = time.perf_counter() - t0
        if rated:
            rows.append(("append_feedback", f"{fb:.3f}", f"1 ({len(rated) / fb:,.0f}/s)"))

        def read() -> tuple[Any, Any]:
            return store.read_window(ROLLOUT, STEP, Role.SERVE, START, START + 3600.0)

        median, (base, cand) = timed(read, args.runs)
        rows.append((f"read_window ({base.n:,} + {cand.n:,})", f"{median:.3f}", str(args.runs)))

        median, _ = timed(store.policy_version, 1000)
        rows.append(("policy_version", f"{median * 1e6:.1f} us", "1000"))

        try:
            from llm_rollout.judge import judge_step
            from llm_rollout.spec import RolloutSpec
        except ImportError:
            rows.append(("read + judge_step", "(no judge package)", "-"))
        else:
            spec = RolloutSpec(
                name="bench", baseline="a@sha256:" + "a" * 12, candidate="b@sha256:" + "b" * 12
            )

            def judge() -> Any:
                b, c = read()
                return judge_step(spec, Window(b, c, candidate_weight=0.10))

            median, _ = timed(judge, args.runs)
            rows.append(("read_window + judge_step", f"{median:.3f}", str(args.runs)))

    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'median s':>12}  runs")
    for name, value, runs in rows:
        print(f"{name:<{width}}  {value:>12}  {runs}")


if __name__ == "__main__":
    main()
