"""The state machine's inputs (an observation, an operator command) and outputs (actions).

Actions are plain data; the caller (simulator or live service) carries them out in order:
``SetRoute`` first (a rollback flips traffic before anything else happens), then the
``RecordEvent`` audit entries, then ``Alert`` notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..errors import InvalidDataError
from ..verdict import StepDecision, Verdict


@dataclass(frozen=True)
class Observation:
    """What one check saw in the current window (from ``phase_started`` to now).

    ``decision`` comes from the judge (``phase="shadow"`` during the shadow phase); the counts
    are samples per arm in the window (in shadow, ``n_candidate`` counts shadow calls);
    ``alerts`` are the shadow alert rules (FAIL = fired); ``ab`` is the A/B rule's verdict
    (PASS = rule met, FAIL = candidate worse, else inconclusive), see
    :func:`llm_rollout.judge.ab_verdict`.
    """

    decision: StepDecision
    n_baseline: int
    n_candidate: int
    alerts: tuple[Verdict, ...] = ()
    ab: Verdict | None = None

    def __post_init__(self) -> None:
        if self.n_baseline < 0 or self.n_candidate < 0:
            raise InvalidDataError("sample counts must be >= 0")


@dataclass(frozen=True)
class SetRoute:
    """Publish this route for the rollout's logical model (baseline/candidate from the spec)."""

    candidate_bp: int
    shadow_sample: float
    phase: str
    step: int


class EventKind(StrEnum):
    STARTED = "started"
    STEP_ADVANCED = "step_advanced"  # shadow -> canary, step -> next step, last step -> A/B
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    PAUSED = "paused"
    RESUMED = "resumed"
    ABORTED = "aborted"
    WARNING = "warning"  # a non-critical gate failed (not a transition); once per gate and step


@dataclass(frozen=True)
class RecordEvent:
    """An audit-log entry; ``data`` is JSON-safe (see the module docstring of the machine)."""

    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Alert:
    """Something a human should look at now (automatic rollback or pause, gate warning)."""

    message: str


Action = SetRoute | RecordEvent | Alert


class CommandKind(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    ABORT = "abort"


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    actor: str = "operator"
    reason: str = ""
