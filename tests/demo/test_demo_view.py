"""The live view and the plain progress lines show the same facts."""

from __future__ import annotations

import io

from rich.console import Console

from llm_rollout.demo import Frame, PlainReporter, TrafficSnapshot
from llm_rollout.demo.runner import evidence_decision, fired_verdicts, rollback_clause
from llm_rollout.demo.timing import rollback_timing
from llm_rollout.demo.traffic import ArmCounts
from llm_rollout.demo.view import EventLine, plain_line, render
from llm_rollout.records import Arm
from llm_rollout.store import Event
from llm_rollout.verdict import Outcome, StepDecision, Verdict

COST_FAIL = Verdict(
    gate="cost",
    statistic="mean_ratio",
    outcome=Outcome.FAIL,
    method="sequential",
    estimate=1.49,
    lo=1.41,
    hi=1.58,
    bound=1.2,
    n_baseline=900,
    n_candidate=300,
    explanation="cost ratio 1.49 [1.41, 1.58] > 1.2",
)
ERRORS_OK = Verdict(
    gate="errors",
    statistic="rate_excess",
    outcome=Outcome.INCONCLUSIVE,
    method="sequential",
    estimate=0.001,
    lo=-0.02,
    hi=float("inf"),
    bound=0.005,
    n_baseline=900,
    n_candidate=300,
    explanation="error rate excess",
)
DECISION = StepDecision(Outcome.FAIL, (COST_FAIL, ERRORS_OK))


def traffic(base: int, cand: int) -> TrafficSnapshot:
    return TrafficSnapshot(
        arms={Arm.BASELINE: ArmCounts(base, 1, 10), Arm.CANDIDATE: ArmCounts(cand, 0, 3)},
        sent=base + cand + 1,
        failed=0,
        skipped=0,
        feedback_failed=0,
        rate=198.0,
    )


def frame(events: tuple[EventLine, ...] = ()) -> Frame:
    return Frame(
        title="llm-rollout demo: candidate prices x2",
        elapsed=12.5,
        phase="canary",
        stage="10%",
        weight=10.0,
        shadow_sample=0.0,
        step_elapsed=3.2,
        traffic=traffic(900, 100),
        decision=DECISION,
        events=events,
    )


def test_the_live_view_shows_split_gates_and_events() -> None:
    console = Console(record=True, width=140, file=io.StringIO())
    events = (EventLine(0.0, "started", "started: mirroring 5%"),)
    console.print(render(frame(events)))
    text = console.export_text()
    for expected in (
        "CANARY",
        "10%",
        "baseline",
        "candidate",
        "900",
        "cost mean",
        "<= 1.2",
        "FAIL",
        "1.49",
        "[1.41, 1.58]",
        "started: mirroring 5%",
        "198 req/s",
    ):
        assert expected in text, expected


def test_plain_reporter_prints_each_event_once() -> None:
    out = io.StringIO()
    reporter = PlainReporter(out, every=1000.0)
    first = (EventLine(0.0, "started", "go"),)
    reporter.frame(frame(first))
    reporter.frame(frame(first))
    reporter.frame(frame((*first, EventLine(4.0, "step_advanced", "step 0 complete"))))
    lines = out.getvalue().splitlines()
    assert sum("started: go" in line for line in lines) == 1
    assert sum("step_advanced: step 0 complete" in line for line in lines) == 1
    assert sum("answers" in line for line in lines) == 1  # one status line per `every`


def test_plain_line_names_the_stage_and_the_split() -> None:
    line = plain_line(frame())
    assert "canary 10%" in line
    assert "baseline 900 / candidate 100 answers" in line
    assert "gates FAIL" in line


def rolled_back_event() -> Event:
    evidence = {
        "failing": [COST_FAIL.to_dict()],
        "alerts": [],
        "decision": DECISION.to_dict(),
    }
    return Event(7, "ro", 24.0, "rolled_back", {"reason": "cost", "evidence": evidence})


def test_the_rollback_evidence_comes_back_as_verdicts() -> None:
    event = rolled_back_event()
    [fired] = fired_verdicts(event)
    assert fired == COST_FAIL
    decision = evidence_decision(event)
    assert decision is not None
    assert decision.outcome is Outcome.FAIL
    assert decision.verdicts[1].hi == float("inf")  # null in JSON, unbounded again
    assert fired_verdicts(None) == []
    assert evidence_decision(Event(1, "ro", 0.0, "started", {"evidence": None})) is None


def test_rollback_clause_reports_what_the_client_saw() -> None:
    timing = rollback_timing([(9.9, 10.12), (10.04, 10.08)], 10.0)
    text = rollback_clause(timing, "10%")
    assert "0.12 s" in text
    assert "started 0.04 s after the flip" in text
    none_after = rollback_timing([(1.0, 2.0)], 10.0)
    assert "no candidate answer completed after the flip" in rollback_clause(none_after, "10%")
    assert "no user was served" in rollback_clause(None, "shadow")
