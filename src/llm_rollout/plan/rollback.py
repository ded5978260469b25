"""Rollback in the runbook: the procedure, what it needs, and how long it takes.

The time comes from a measurement when one is given (the JSON that ``python
bench/bench_rollback.py --json FILE`` writes: two gateways on one store, under load, the real
``llm-rollout rollback``), otherwise from its two terms: the gateways' policy poll (50 ms by
default) and the drain of requests already in flight on the candidate, which finish there
(bounded by the candidate's latency tail, at most its timeout).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SpecError

POLL_INTERVAL = 0.05  # the gateway's default policy_poll_interval, seconds


@dataclass(frozen=True)
class RollbackEvidence:
    """Measured rollback trials (seconds)."""

    source: str
    trials: int
    exit_to_last_answer_p50: float
    exit_to_last_answer_max: float
    commit_to_last_answer_p50: float
    commit_to_last_answer_max: float
    failed_requests: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "trials": self.trials,
            "exit_to_last_answer_p50": self.exit_to_last_answer_p50,
            "exit_to_last_answer_max": self.exit_to_last_answer_max,
            "commit_to_last_answer_p50": self.commit_to_last_answer_p50,
            "commit_to_last_answer_max": self.commit_to_last_answer_max,
            "failed_requests": self.failed_requests,
        }


def _median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else 0.5 * (s[mid - 1] + s[mid])


def load_rollback(path: str | Path) -> RollbackEvidence:
    """The trials of ``bench/bench_rollback.py --json``; SpecError naming the input otherwise."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
        trials = doc["trials"]
        exits = [float(t["exit_to_last_answer"]) for t in trials]
        commits = [float(t["commit_to_last_answer"]) for t in trials]
        failed = sum(int(t.get("failed", 0)) for t in trials)
    except OSError as exc:
        raise SpecError([("--rollback-bench", f"cannot read {p}: {exc.strerror}")], "plan") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise SpecError(
            [("--rollback-bench", f"{p} is not the JSON of bench/bench_rollback.py: {exc}")],
            "plan",
        ) from exc
    if not exits or not all(math.isfinite(x) for x in exits + commits):
        raise SpecError([("--rollback-bench", f"{p} holds no finite trials")], "plan")
    return RollbackEvidence(
        source=str(p),
        trials=len(exits),
        exit_to_last_answer_p50=_median(exits),
        exit_to_last_answer_max=max(exits),
        commit_to_last_answer_p50=_median(commits),
        commit_to_last_answer_max=max(commits),
        failed_requests=failed,
    )


@dataclass(frozen=True)
class RollbackPlan:
    measured: RollbackEvidence | None
    switch_seconds: float  # until every gateway routes new requests to the baseline
    drain_seconds: float  # until the last in-flight candidate answer completes
    under_60s: bool
    basis: str

    @property
    def total_seconds(self) -> float:
        return self.switch_seconds + self.drain_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "measured": None if self.measured is None else self.measured.to_dict(),
            "switch_seconds": self.switch_seconds,
            "drain_seconds": self.drain_seconds,
            "total_seconds": self.total_seconds,
            "under_60s": self.under_60s,
            "basis": self.basis,
        }


def plan_rollback(
    evidence: RollbackEvidence | None, latency_p999_s: float, timeout_s: float
) -> RollbackPlan:
    """The rollback time: measured if given, else poll interval + the candidate's drain."""
    drain = min(latency_p999_s, timeout_s)
    if evidence is not None:
        switch = evidence.exit_to_last_answer_max
        basis = (
            f"measured: {evidence.trials} trials of bench/bench_rollback.py ({evidence.source}); "
            f"the slowest took {switch:.2f} s from `llm-rollout rollback` returning to the "
            f"candidate's last answer. On your models add the drain of in-flight answers "
            f"(p99.9 latency {drain:.1f} s)."
        )
        return RollbackPlan(evidence, switch, drain, switch + drain < 60, basis)
    basis = (
        f"estimated (not measured here): the gateways poll the policy every {POLL_INTERVAL:g} s, "
        f"then requests already on the candidate finish there (its p99.9 latency, "
        f"{drain:.1f} s, capped by its timeout {timeout_s:g} s). Measure it on your "
        "infrastructure with `python bench/bench_rollback.py --json rollback.json` and pass "
        "--rollback-bench rollback.json."
    )
    return RollbackPlan(None, POLL_INTERVAL, drain, POLL_INTERVAL + drain < 60, basis)
