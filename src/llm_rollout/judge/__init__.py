"""The judge: pure functions from a window of records to verdicts and a step decision.

    judge_gate(name, gate, window, alpha, method=None) -> list[Verdict]
    judge_step(spec, window, method=None, phase="canary") -> StepDecision
    judge_alert(rule, window, alpha) -> Verdict
    judge_srm(window, check) -> Verdict
    ab_verdict(ab, window, alpha) -> Verdict
    combine(verdicts, srm=None) -> StepDecision
    verdict_table_rows(decision) -> list[list[str]]

No I/O, no clock, no randomness: the same window always gives the same verdicts.
Evaluating the judge (synthetic windows, the golden-case runner, studies of false-FAIL rate
and samples to detect) lives in :mod:`.evaluation`, which the judge itself never imports.
"""

from .ab import ab_verdict
from .alerts import judge_alert
from .combine import PHASES, combine, effective_outcome, judge_step
from .gates import GATE_TYPES, judge_gate
from .report import VERDICT_TABLE_HEADER, verdict_row, verdict_table_rows
from .srm import judge_srm

__all__ = [
    "GATE_TYPES",
    "PHASES",
    "VERDICT_TABLE_HEADER",
    "ab_verdict",
    "combine",
    "effective_outcome",
    "judge_alert",
    "judge_gate",
    "judge_srm",
    "judge_step",
    "verdict_row",
    "verdict_table_rows",
]
