"""The rollout controller's pure core: the state machine, used alike by the simulator and the
live service (:mod:`llm_rollout.service`), and what one check judges.

The state machine maps ``(state, spec, input, now)`` to ``(new state, actions)``; its rules
and the decisions behind them are in the docstring of :mod:`._machine`. :func:`window_query`
names the window a check reads and :func:`observe` judges it (:mod:`._observe`).
"""

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
from ._observe import judged_phase, observe, window_query
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
    "advance",
    "apply_command",
    "current_step",
    "initial_state",
    "judged_phase",
    "observe",
    "route_for",
    "start",
    "weight_bp",
    "window_query",
]
