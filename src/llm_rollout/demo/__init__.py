"""``llm-rollout demo``: a whole rollout on loopback, live, in under two minutes.

    result = run_demo(DemoOptions(regression="cost"), reporter_for(sys.stdout, json_mode=False))

Modules: :mod:`.scenario` (the arms, the regressions and the compressed spec; pure),
:mod:`.procs` (child processes that are always stopped), :mod:`.traffic` (OpenAI-client load
with sticky users and thumbs-down), :mod:`.timing` (rollback timing from what clients saw;
pure), :mod:`.view` (live view and plain lines), :mod:`.runner` (the orchestration).
"""

from .runner import DemoError, DemoOptions, DemoResult, run_demo
from .scenario import REGRESSIONS, DemoScenario, demo_spec, make_scenario
from .timing import RollbackTiming, rollback_timing
from .traffic import TrafficGenerator, TrafficSnapshot
from .view import Frame, LiveReporter, PlainReporter, Reporter, reporter_for

__all__ = [
    "REGRESSIONS",
    "DemoError",
    "DemoOptions",
    "DemoResult",
    "DemoScenario",
    "Frame",
    "LiveReporter",
    "PlainReporter",
    "Reporter",
    "RollbackTiming",
    "TrafficGenerator",
    "TrafficSnapshot",
    "demo_spec",
    "make_scenario",
    "reporter_for",
    "rollback_timing",
    "run_demo",
]
