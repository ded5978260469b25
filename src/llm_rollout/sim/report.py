"""Plain-text pieces of a simulation report: stage labels and the verdict line (durations read
as :func:`llm_rollout.display.duration_text` writes them)."""

from __future__ import annotations

from collections.abc import Sequence

from ..display import duration_text
from ..spec import RolloutSpec
from ..verdict import Verdict


def stage_label(spec: RolloutSpec, step: int, outcome: str = "") -> str:
    """``shadow``, ``1%`` ... ``100%``, ``A/B`` or ``promoted``."""
    if outcome == "promoted":
        return "promoted"
    if step < 0:
        return "shadow"
    if step < len(spec.steps):
        return f"{spec.steps[step].weight:g}%"
    return "A/B"


def evidence_text(verdict: Verdict) -> str:
    """The verdict's explanation without its trailing detail, e.g.
    ``cost ratio 1.26 [1.21, 1.31] > 1.2``."""
    text = verdict.explanation.split("; ")[0]
    return text.removeprefix("shadow alert: ")


def halt_headline(
    outcome: str, stage: str, seconds: float, fired: Sequence[Verdict], reason: str
) -> str:
    """The one verdict line of a run."""
    after = duration_text(seconds)
    if outcome == "promoted":
        return f"promoted after {after}"
    if outcome == "timeout":
        return f"no decision within {after} (time limit), still at {stage}"
    if outcome == "paused":
        return f"paused at {stage} after {after}: {reason}"
    if fired:
        why = "; ".join(evidence_text(v) for v in fired[:2])
        if len(fired) > 2:
            why += f" (+{len(fired) - 2} more)"
    else:
        why = reason
    if stage == "shadow":
        return f"halted in shadow after {after}, before any user saw the candidate: {why}"
    return f"halted at {stage} after {after}: {why}"
