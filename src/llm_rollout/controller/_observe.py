"""What one check judges, the same for the live controller and the simulator.

:func:`window_query` says which window the state calls for; a window source reads it;
:func:`observe` judges it: the step decision, the shadow alert rules in the shadow phase, the
A/B rule in the A/B phase, each at its share of the rollout's alpha (``RolloutSpec.gate_alpha``,
``alert_alpha``, ``ab_alpha``). A paused rollout is judged as the phase it paused in.
"""

from __future__ import annotations

from ..judge import ab_verdict, judge_alert, judge_step
from ..records import Role, Window, WindowQuery
from ..spec import Method, RolloutSpec
from ..verdict import Verdict
from ._actions import Observation
from ._state import Phase, RolloutState, route_for

_JUDGED = {Phase.SHADOW: "shadow", Phase.CANARY: "canary", Phase.AB: "ab"}


def judged_phase(state: RolloutState) -> str:
    """The judge's phase for this state: ``shadow``, ``canary`` or ``ab``."""
    return _JUDGED.get(state.effective_phase, "canary")


def window_query(
    rollout_id: str, spec: RolloutSpec, state: RolloutState, now: float
) -> WindowQuery:
    """The window a check at ``now`` judges: the current step from ``phase_started`` to
    ``now``, shadow calls as the candidate in the shadow phase, at the route's weight."""
    role = Role.SHADOW if state.effective_phase is Phase.SHADOW else Role.SERVE
    bp, _ = route_for(state, spec)
    return WindowQuery(rollout_id, state.step, role, state.phase_started, now, bp / 10_000)


def observe(
    spec: RolloutSpec, state: RolloutState, window: Window, method: Method | None = None
) -> Observation:
    """Judge ``window`` for ``state``: what :func:`advance` takes as its input."""
    phase = judged_phase(state)
    decision = judge_step(spec, window, method, phase=phase)
    alerts: tuple[Verdict, ...] = ()
    if phase == "shadow":
        alpha = spec.alert_alpha()
        alerts = tuple(judge_alert(rule, window, alpha) for rule in spec.shadow.alerts)
    ab = None
    if phase == "ab" and spec.ab is not None:
        ab = ab_verdict(spec.ab, window, spec.ab_alpha())
    n_b, n_c = window.baseline.n, window.candidate.n
    return Observation(decision, n_b, n_c, alerts=alerts, ab=ab)
