"""The rollout controller: the pure state machine (used alike by the simulator and the live
service) and the service loop that feeds it (:class:`ControllerService`, in :mod:`.service`).

The state machine maps ``(state, spec, input, now)`` to ``(new state, actions)``; its rules
and the decisions behind them are in the docstring of :mod:`._machine`.
"""

from typing import TYPE_CHECKING, Any

from ._ab import ab_verdict
from ._actions import (
    Action,
    Alert,
    Command,
    CommandKind,
    EventKind,
    Observation,
    RecordEvent,
    SetRoute,
)
from ._machine import advance, apply_command, start
from ._state import (
    Phase,
    RolloutState,
    ab_step_index,
    current_step,
    initial_state,
    route_for,
    weight_bp,
)

if TYPE_CHECKING:
    from .service import ControllerService

__all__ = [
    "Action",
    "Alert",
    "Command",
    "CommandKind",
    "ControllerService",
    "EventKind",
    "Observation",
    "Phase",
    "RecordEvent",
    "RolloutState",
    "SetRoute",
    "ab_step_index",
    "ab_verdict",
    "advance",
    "apply_command",
    "current_step",
    "initial_state",
    "route_for",
    "start",
    "weight_bp",
]


def __getattr__(name: str) -> Any:
    # The service builds on llm_rollout.operations, which builds on this package: import it
    # on first use so that importing the pure state machine never pulls in the store layer.
    if name == "ControllerService":
        from .service import ControllerService

        return ControllerService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
