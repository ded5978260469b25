"""Rollback in the runbook: the procedure, what it needs, and how long it takes.

The time comes from a measurement when one is given: the JSON that ``python
bench/bench_rollback.py --json FILE`` writes (two gateways on one store, under load, the real
``llm-rollout rollback``). The runbook states its p100s, over every trial: from the command
returning to the last answer the candidate served, and from the rollback's commit to every
gateway having applied it, with the date and machine of the run. Without one the time is
estimated from its two terms and the runbook says it is an estimate: the gateways' policy poll
(50 ms by default) and the drain of requests already in flight on the candidate, which finish
there (bounded by the candidate's latency tail, at most its timeout).

The benchmark's mock candidate answers in about 40 ms, so its answers in flight drain at once;
for the planned candidate the drain is its own latency tail, added to the measured switch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import SpecError

POLL_INTERVAL = 0.05  # the gateway's default policy_poll_interval, seconds
FLAG = "--rollback-bench"
PRODUCER = "bench/bench_rollback.py --json"


@dataclass(frozen=True)
class RollbackEvidence:
    """Measured rollback trials (seconds), and where they come from."""

    source: str
    trials: int
    measured_on: str  # the run's date, as the file records it (else said to be unrecorded)
    machine: str  # the machine, as the file records it (else said to be unrecorded)
    rate: float | None  # requests per second of the benchmark's load
    exit_to_last_answer_p50: float
    exit_to_last_answer_max: float  # p100: `llm-rollout rollback` returns -> last candidate answer
    commit_to_last_answer_p50: float
    commit_to_last_answer_max: float
    commit_to_applied_p50: float | None
    commit_to_applied_max: float | None  # p100: commit -> every gateway reports the new policy
    unapplied_trials: int  # trials in which some gateway never reported it during the watch
    requests: int
    failed_requests: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "trials": self.trials,
            "measured_on": self.measured_on,
            "machine": self.machine,
            "rate": self.rate,
            "exit_to_last_answer_p50": self.exit_to_last_answer_p50,
            "exit_to_last_answer_max": self.exit_to_last_answer_max,
            "commit_to_last_answer_p50": self.commit_to_last_answer_p50,
            "commit_to_last_answer_max": self.commit_to_last_answer_max,
            "commit_to_applied_p50": self.commit_to_applied_p50,
            "commit_to_applied_max": self.commit_to_applied_max,
            "unapplied_trials": self.unapplied_trials,
            "requests": self.requests,
            "failed_requests": self.failed_requests,
        }


def nearest_rank(values: list[float], q: float) -> float:
    """The benchmark's own percentile (nearest rank): p100 is the maximum."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _problem(path: Path, reason: str) -> SpecError:
    return SpecError([(FLAG, f"{path} is not the JSON of {PRODUCER}: {reason}")], "plan")


def _seconds(trial: dict[str, Any], key: str, where: str, path: Path) -> float:
    if key not in trial:
        raise _problem(path, f"{where} has no {key!r}")
    value = trial[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _problem(path, f"{where}: {key} must be a number of seconds, got {value!r}")
    if value < 0:
        raise _problem(path, f"{where}: {key} must be >= 0, got {value!r}")
    return float(value)


def _count(trial: dict[str, Any], key: str, where: str, path: Path) -> int:
    value = trial.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _problem(path, f"{where}: {key} must be a count >= 0, got {value!r}")
    return value


def _applied(trial: dict[str, Any], where: str, path: Path) -> float | None:
    """commit -> /readyz of every gateway; null when one never reported it during the watch."""
    if trial.get("commit_to_readyz") is None:
        return None
    return _seconds(trial, "commit_to_readyz", where, path)


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise SpecError([(FLAG, f"cannot read {path}: {exc.strerror}")], "plan") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise _problem(path, f"invalid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise _problem(path, "expected an object with a list of 'trials'")
    return doc


def _trials(doc: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    trials = doc.get("trials")
    if not isinstance(trials, list) or not trials:
        raise _problem(path, "expected a non-empty list of 'trials'")
    for i, t in enumerate(trials, 1):
        if not isinstance(t, dict):
            raise _problem(path, f"trial {i} is not an object")
    return trials


def _provenance(doc: dict[str, Any], path: Path) -> tuple[str, str]:
    """Date and machine of the run, as the benchmark's JSON records them (``date``,
    ``machine``); an older file without them gets a runbook that says they are missing rather
    than passing the file's modification time off as the run's."""
    date = doc.get("date")
    machine = doc.get("machine")
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    when = str(date) if date else f"date not recorded in the file (file modified {modified})"
    where = str(machine) if machine else "machine not recorded in the file"
    return when, where


def load_rollback(path: str | Path) -> RollbackEvidence:
    """The trials of ``bench/bench_rollback.py --json``; SpecError naming the file otherwise."""
    p = Path(path)
    doc = _read(p)
    trials = _trials(doc, p)
    exits = [_seconds(t, "exit_to_last_answer", f"trial {i}", p) for i, t in enumerate(trials, 1)]
    commits = [
        _seconds(t, "commit_to_last_answer", f"trial {i}", p) for i, t in enumerate(trials, 1)
    ]
    applied = [_applied(t, f"trial {i}", p) for i, t in enumerate(trials, 1)]
    seen = [x for x in applied if x is not None]
    failed = sum(_count(t, "failed", f"trial {i}", p) for i, t in enumerate(trials, 1))
    requests = sum(_count(t, "requests", f"trial {i}", p) for i, t in enumerate(trials, 1))
    rate = doc.get("rate")
    when, machine = _provenance(doc, p)
    return RollbackEvidence(
        source=str(p),
        trials=len(trials),
        measured_on=when,
        machine=machine,
        rate=float(rate) if isinstance(rate, int | float) and not isinstance(rate, bool) else None,
        exit_to_last_answer_p50=nearest_rank(exits, 0.5),
        exit_to_last_answer_max=max(exits),
        commit_to_last_answer_p50=nearest_rank(commits, 0.5),
        commit_to_last_answer_max=max(commits),
        commit_to_applied_p50=nearest_rank(seen, 0.5) if seen else None,
        commit_to_applied_max=max(seen) if seen else None,
        unapplied_trials=len(applied) - len(seen),
        requests=requests,
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


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def measured_text(e: RollbackEvidence) -> str:
    """The measurement in one sentence: its p100s, failures, and where it comes from."""
    applied = (
        f"commit -> every gateway applied it p100 {ms(e.commit_to_applied_max)}"
        if e.commit_to_applied_max is not None
        else "commit -> every gateway applied it: not observed"
    )
    if e.unapplied_trials:
        applied += f" ({e.unapplied_trials} trial(s) where a gateway never reported it)"
    load = f" at {e.rate:g} requests/s" if e.rate is not None else ""
    requests = (
        f"{e.failed_requests:,} of {e.requests:,}" if e.requests else f"{e.failed_requests:,}"
    )
    return (
        f"`llm-rollout rollback` returns -> last candidate answer p100 "
        f"{ms(e.exit_to_last_answer_max)}, {applied}; {requests} requests failed "
        f"({e.trials} trials{load} of bench/bench_rollback.py, {e.source}; "
        f"{e.measured_on}; {e.machine})"
    )


def plan_rollback(
    evidence: RollbackEvidence | None, latency_p999_s: float, timeout_s: float
) -> RollbackPlan:
    """The rollback time: the measured switch if given, else the poll interval; plus the drain
    of the candidate's answers in flight (its p99.9 latency, capped by its timeout)."""
    drain = min(latency_p999_s, timeout_s)
    if evidence is not None:
        switch = (
            evidence.commit_to_applied_max
            if evidence.commit_to_applied_max is not None
            else evidence.exit_to_last_answer_max
        )
        basis = (
            f"measured: {measured_text(evidence)}. The benchmark's mock candidate answers in "
            f"about 40 ms; this candidate's answers in flight at the switch finish on it within "
            f"its p99.9 latency ({drain:.1f} s), so its last answer comes about "
            f"{switch + drain:.1f} s after the commit."
        )
        return RollbackPlan(evidence, switch, drain, switch + drain < 60, basis)
    basis = (
        f"an estimate, not a measurement: the gateways poll the policy every {POLL_INTERVAL:g} s, "
        f"then requests already on the candidate finish there (its p99.9 latency, "
        f"{drain:.1f} s, capped by its timeout {timeout_s:g} s). Measure it on your "
        "infrastructure with `python bench/bench_rollback.py --json rollback.json` and pass "
        f"{FLAG} rollback.json."
    )
    return RollbackPlan(None, POLL_INTERVAL, drain, POLL_INTERVAL + drain < 60, basis)
