"""One check of a rollout step: judge every enabled gate, then combine into a decision.

Combining rules (the controller acts on ``StepDecision.outcome``):

- The outcome is the worst verdict (FAIL > INCONCLUSIVE > NODATA > PASS), with one twist:
  a FAIL of a non-critical gate counts as INCONCLUSIVE. A non-critical gate may hold a rollout
  but never roll it back; only critical FAILs decide a rollback.
- SRM is a guard, not a gate. A mismatch never makes the outcome FAIL (that would roll back a
  rollout whose comparison is broken, not whose candidate is bad); it lifts a PASS or NODATA
  outcome to INCONCLUSIVE so nothing advances on a broken split. The controller pauses on
  ``StepDecision.srm_mismatch``.
- No verdicts at all is NODATA.
- ``reasons``: one line per verdict that is not PASS (and the SRM mismatch, first), worst first.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..records import Window
from ..spec import GateName, Method, RolloutSpec
from ..verdict import Outcome, StepDecision, Verdict, worst
from ._validate import validate_window
from .gates import judge_validated
from .srm import judge_srm_validated

PHASES = ("shadow", "canary", "ab")


def effective_outcome(v: Verdict) -> Outcome:
    """The verdict's weight in the decision: a non-critical FAIL only holds (INCONCLUSIVE)."""
    if v.outcome is Outcome.FAIL and not v.critical:
        return Outcome.INCONCLUSIVE
    return v.outcome


def _reason(v: Verdict) -> str:
    tag = "" if v.critical or v.outcome is not Outcome.FAIL else " (non-critical: holds only)"
    return f"{v.outcome.value} {v.gate}/{v.statistic}: {v.explanation}{tag}"


def combine(verdicts: Sequence[Verdict], srm: Verdict | None = None) -> StepDecision:
    """Combine gate verdicts (and the SRM guard) into one decision; see the module docstring."""
    outcome = worst(effective_outcome(v) for v in verdicts) if verdicts else Outcome.NODATA
    mismatch = srm is not None and srm.outcome is Outcome.FAIL
    if mismatch and outcome.rank < Outcome.INCONCLUSIVE.rank:
        outcome = Outcome.INCONCLUSIVE
    # Worst first: critical FAIL, non-critical FAIL, INCONCLUSIVE, NODATA; stable otherwise.
    ranked = sorted(
        (v for v in verdicts if v.outcome is not Outcome.PASS),
        key=lambda v: (-v.outcome.rank, not v.critical),
    )
    reasons = [_reason(v) for v in ranked]
    if mismatch and srm is not None:
        reasons.insert(0, f"SRM srm/share: {srm.explanation}")
    return StepDecision(outcome=outcome, verdicts=tuple(verdicts), srm=srm, reasons=tuple(reasons))


def judge_step(
    spec: RolloutSpec, window: Window, method: Method | None = None, phase: str = "canary"
) -> StepDecision:
    """Judge one check of a step (or of the shadow phase) against the spec.

    Every enabled gate is judged at ``spec.gate_alpha(name)``, split evenly over the gate's
    statistics; ``method`` overrides every gate's own method. The SRM guard runs unless the
    policy weight is 0 or 1 (one arm is meant to be empty) or the phase is ``shadow``. The
    shadow phase judges shadow records: no user saw them, so the feedback gate is skipped too.
    """
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; expected one of {', '.join(PHASES)}")
    validate_window(window)
    verdicts: list[Verdict] = []
    for name, gate in spec.gates.enabled().items():
        if phase == "shadow" and name is GateName.FEEDBACK:
            continue
        verdicts += judge_validated(name, gate, window, spec.gate_alpha(name), method)
    srm = None
    check = spec.gates.srm
    if check.enabled and phase != "shadow" and 0 < window.candidate_weight < 1:
        srm = judge_srm_validated(window, check)
    return combine(verdicts, srm)
