"""The rollout controller: the pure state machine (used alike by the simulator and the live
service) and, later, the service loop that feeds it.

The state machine maps ``(state, spec, input, now)`` to ``(new state, actions)``; its rules
and the decisions behind them are in the docstring of :mod:`._machine`.
"""

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

__all__ = [
    "Action",
    "Alert",
    "Command",
    "CommandKind",
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
