"""The rollout state: what the controller persists between checks, and the route it implies.

The state is small and JSON-safe (``to_dict`` / ``from_dict`` round-trip exactly); the store
keeps it beside the spec. The route is never stored in the state: :func:`route_for` derives it
from state + spec, so the policy can always be re-published from what is saved.

``step`` is the index into ``spec.steps`` while in CANARY; -1 before the canary (PENDING,
SHADOW); ``len(spec.steps)`` in the A/B phase, so records of the A/B split carry a step of their
own. PAUSED keeps the step it paused at; terminal phases keep the step they ended at (audit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..errors import InvalidDataError
from ..policy import BUCKETS
from ..spec import RolloutSpec, Step
from ..verdict import Outcome


class Phase(StrEnum):
    PENDING = "pending"
    SHADOW = "shadow"
    CANARY = "canary"
    AB = "ab"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    PAUSED = "paused"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def active(self) -> bool:
        """Serving or mirroring to the candidate and moving on its own (not paused)."""
        return self in ACTIVE


TERMINAL = frozenset({Phase.PROMOTED, Phase.ROLLED_BACK, Phase.ABORTED})
ACTIVE = frozenset({Phase.SHADOW, Phase.CANARY, Phase.AB})


@dataclass(frozen=True)
class RolloutState:
    """One rollout's progress. ``phase_started`` is when the current phase/step (or pause)
    began: the start of the judging window. ``checks`` counts every check of the rollout."""

    phase: Phase
    step: int
    phase_started: float
    paused_from: Phase | None = None
    reason: str = ""
    checks: int = 0
    last_check: float | None = None
    last_outcome: Outcome | None = None  # combined outcome of the last check (for status)
    created: float = 0.0
    warned: tuple[str, ...] = ()  # non-critical "gate.statistic" already alerted in this step

    def __post_init__(self) -> None:
        if (self.phase is Phase.PAUSED) != (self.paused_from is not None):
            raise ValueError("paused_from is set exactly when the phase is PAUSED")
        if self.paused_from is not None and not self.paused_from.active:
            raise ValueError(f"cannot be paused from {self.paused_from.value}")
        if self.step < -1:
            raise ValueError("step must be >= -1")
        if self.checks < 0:
            raise ValueError("checks must be >= 0")

    @property
    def terminal(self) -> bool:
        return self.phase.terminal

    @property
    def effective_phase(self) -> Phase:
        """The phase whose route and rules apply: the paused-from phase while PAUSED."""
        return self.paused_from if self.paused_from is not None else self.phase

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "step": self.step,
            "phase_started": self.phase_started,
            "paused_from": None if self.paused_from is None else self.paused_from.value,
            "reason": self.reason,
            "checks": self.checks,
            "last_check": self.last_check,
            "last_outcome": None if self.last_outcome is None else self.last_outcome.value,
            "created": self.created,
            "warned": list(self.warned),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> RolloutState:
        """Rebuild a stored state; a malformed document is an InvalidDataError naming why."""
        try:
            paused_from = doc.get("paused_from")
            last_outcome = doc.get("last_outcome")
            last_check = doc.get("last_check")
            state = cls(
                phase=Phase(doc["phase"]),
                step=_int(doc["step"]),
                phase_started=_time(doc["phase_started"]),
                paused_from=None if paused_from is None else Phase(paused_from),
                reason=str(doc.get("reason", "")),
                checks=_int(doc.get("checks", 0)),
                last_check=None if last_check is None else _time(last_check),
                last_outcome=None if last_outcome is None else Outcome(last_outcome),
                created=_time(doc.get("created", 0.0)),
                warned=tuple(str(w) for w in doc.get("warned", ())),
            )
        except KeyError as exc:
            raise InvalidDataError(f"rollout state lacks the field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise InvalidDataError(f"malformed rollout state: {exc}") from exc
        return state


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _time(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"expected a finite time in seconds, got {value!r}")
    return float(value)


def initial_state(now: float) -> RolloutState:
    """A rollout that exists but has not started: no candidate traffic, no shadow."""
    return RolloutState(Phase.PENDING, -1, float(now), created=float(now), reason="created")


def weight_bp(weight: float) -> int:
    """A step weight in percent -> basis points; any positive weight gets at least 1 bp."""
    return max(1, min(BUCKETS, round(weight * 100)))


def ab_step_index(spec: RolloutSpec) -> int:
    """The ``step`` of the A/B phase: one past the last canary step."""
    return len(spec.steps)


def current_step(state: RolloutState, spec: RolloutSpec) -> Step | None:
    """The canary step being judged (also while paused at it); None outside the canary."""
    if state.effective_phase is not Phase.CANARY:
        return None
    if not 0 <= state.step < len(spec.steps):
        raise ValueError(f"state step {state.step} does not fit a spec of {len(spec.steps)} steps")
    return spec.steps[state.step]


def route_for(state: RolloutState, spec: RolloutSpec) -> tuple[int, float]:
    """``(candidate_bp, shadow_sample)`` the policy must hold for this state.

    PAUSED holds the route of the phase and step it paused at (traffic keeps flowing, nothing
    moves); rolled back and aborted rollouts send nothing to the candidate; promoted, all.
    """
    phase = state.effective_phase
    if phase is Phase.SHADOW:
        return 0, spec.shadow.sample
    step = current_step(state, spec)
    if step is not None:
        return weight_bp(step.weight), 0.0
    if phase is Phase.AB:
        if spec.ab is None:
            raise ValueError("state is in the A/B phase but the spec has no ab step")
        return weight_bp(spec.ab.weight), 0.0
    if phase is Phase.PROMOTED:
        return BUCKETS, 0.0
    return 0, 0.0
