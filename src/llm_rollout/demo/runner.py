"""Run the demo end to end on loopback: mock models, gateway, controller, traffic, live view.

What runs where:

- two mock model servers (baseline and candidate) and the gateway are child processes
  (:mod:`.procs`), each in its own process group, all stopped on the way out;
- the controller (:class:`~llm_rollout.service.ControllerService`) runs in a thread
  of this process against the same SQLite store as the gateway;
- the traffic generator (:mod:`.traffic`) runs its own event loop in another thread.

The main thread reads the rollout's state and events from the store four times a second,
judges the current window for the view (the controller judges it independently; the judge is
pure, so both see the same verdicts on the same records), and after a rollback keeps traffic
flowing for a moment to measure when the candidate served its last answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..controller import Phase, RolloutState, route_for
from ..errors import LlmRolloutError
from ..sim.report import halt_headline, stage_label
from ..spec import RolloutSpec
from ..store import Event, Store, open_store
from ..verdict import StepDecision, Verdict
from . import scenario as sc
from .procs import Children, cli_argv, free_port, wait_http
from .timing import RollbackTiming, rollback_timing
from .traffic import TrafficGenerator
from .view import EventLine, Frame, Reporter


class DemoError(LlmRolloutError):
    """The demo could not run (a process died, the traffic generator failed)."""


@dataclass(frozen=True)
class DemoOptions:
    regression: str = "cost"
    rate: float = 200.0  # requests per second
    seed: int | None = None
    max_seconds: float = 110.0  # the rollout is stopped after this long, whatever its state
    users: int = 100_000
    settle: float = 1.5  # seconds of traffic after a rollback, to see the flip reach users
    keep_home: bool = False


@dataclass
class DemoResult:
    regression: str
    description: str
    outcome: str  # promoted, rolled_back, paused, timeout, interrupted
    stage: str
    seconds: float  # from the rollout's start to its end
    wall_seconds: float = 0.0  # the whole demo: start-up, rollout, shutdown
    headline: str = ""
    reason: str = ""
    fired: list[dict[str, Any]] = field(default_factory=list)
    rollback: dict[str, Any] | None = None
    traffic: dict[str, Any] = field(default_factory=dict)
    processes: dict[str, int] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    home: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evidence_decision(event: Event | None) -> StepDecision | None:
    """The step decision a transition recorded as its evidence (None without one)."""
    evidence = None if event is None else event.data.get("evidence")
    data = evidence.get("decision") if isinstance(evidence, dict) else None
    if not isinstance(data, dict):
        return None
    return StepDecision.from_dict(data)


def fired_verdicts(event: Event | None) -> list[Verdict]:
    """The failing critical gates and fired alerts recorded as a rollback's evidence."""
    if event is None:
        return []
    evidence = event.data.get("evidence") or {}
    alerts = [a for a in evidence.get("alerts", []) if a.get("outcome") == "FAIL"]
    return [Verdict.from_dict(v) for v in [*evidence.get("failing", []), *alerts]]


def rollback_clause(timing: RollbackTiming | None, stage: str) -> str:
    if stage == "shadow" or timing is None:
        return "no user was served by the candidate, so there was no flip to time"
    if timing.answers_after == 0:
        return "rollback applied at once: no candidate answer completed after the flip"
    late = ""
    if timing.last_start is not None:
        late = f"; last request routed to it started {timing.last_start:.2f} s after the flip"
    return (
        f"rollback applied by the gateway in {timing.last_answer:.2f} s "
        f"(last candidate answer after the flip{late})"
    )


class _Demo:
    def __init__(self, options: DemoOptions, reporter: Reporter) -> None:
        self.options = options
        self.reporter = reporter
        self.scenario = sc.make_scenario(options.regression)
        self.tmp = Path(tempfile.mkdtemp(prefix="llm-rollout-demo-"))
        self.home = self.tmp / "home"
        (self.tmp / "logs").mkdir()
        self.children = Children(self.tmp / "logs")
        self.store: Store | None = None
        self.traffic: TrafficGenerator | None = None
        self.control_stop = threading.Event()
        self.control_thread: threading.Thread | None = None
        self.control_error: BaseException | None = None
        self.spec: RolloutSpec | None = None
        self.rollout_id = ""
        self.t0 = 0.0
        self.gateway_url = ""
        self.endpoints: dict[str, str] = {}
        self.log_handler: logging.Handler | None = None
        self.control_store: Store | None = None

    # --- start-up -----------------------------------------------------------------------
    def start_processes(self) -> None:
        seed = self.options.seed if self.options.seed is not None else 0
        ports = {name: free_port() for name in ("mock-baseline", "mock-candidate", "gateway")}
        for i, (name, profile) in enumerate(
            (("mock-baseline", self.scenario.baseline), ("mock-candidate", self.scenario.candidate))
        ):
            argv = cli_argv(
                "mock-model",
                "--profile",
                json.dumps(asdict(profile)),
                "--port",
                str(ports[name]),
                "--speed",
                str(sc.SPEED),
                "--seed",
                str(seed * 10 + i),
            )
            self.children.spawn(name, argv)
        gateway = ["serve", "--home", str(self.home), "--host", "127.0.0.1"]
        self.children.spawn("gateway", cli_argv(*gateway, "--port", str(ports["gateway"])))
        self.reporter.processes(self.children.pids(), str(self.home))
        self.endpoints = {
            name: f"http://127.0.0.1:{ports[name]}/v1"
            for name in ("mock-baseline", "mock-candidate")
        }
        self.gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        for name in ("mock-baseline", "mock-candidate"):
            wait_http(self.endpoints[name] + "/models", self.children[name])
        wait_http(self.gateway_url + "/readyz", self.children["gateway"])

    def start_rollout(self) -> None:
        from .. import operations as ops

        self.store = store = open_store(self.home)
        baseline, candidate = sc.model_versions(
            self.scenario, self.endpoints["mock-baseline"], self.endpoints["mock-candidate"]
        )
        ops.add_models(store, [baseline, candidate])
        name = f"demo-{self.options.regression}"
        self.spec = sc.demo_spec(name, baseline.ref, candidate.ref, self.options.rate)
        row = ops.start_rollout(store, self.spec, actor="demo", now=time.time())
        self.rollout_id = row.id
        self.t0 = row.created
        version = store.policy_version()
        deadline = time.monotonic() + 10
        while self._gateway_policy() < version:
            self.children.check()
            if time.monotonic() > deadline:
                raise DemoError(f"the gateway did not load policy version {version} in 10 s")
            time.sleep(0.02)

    def _gateway_policy(self) -> int:
        import urllib.request

        try:
            with urllib.request.urlopen(self.gateway_url + "/readyz", timeout=2) as resp:
                return int(json.loads(resp.read()).get("policy_version", -1))
        except (OSError, ValueError):
            return -1

    def start_controller(self) -> None:
        from ..service import ControllerService

        # The controller logs its checks and alerts; on a live view they would tear the screen,
        # so they go to logs/controller.log (the view shows the same events from the store).
        self.log_handler = logging.FileHandler(self.tmp / "logs" / "controller.log")
        self.log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger = logging.getLogger("llm_rollout.controller")
        logger.addHandler(self.log_handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        self.control_store = open_store(self.home)  # its own connection, as a service has
        service = ControllerService(self.control_store, holder="demo-controller")

        def run() -> None:
            try:
                service.run(self.control_stop, poll=0.2)
            except BaseException as exc:  # reported by the main loop
                self.control_error = exc

        self.control_thread = threading.Thread(target=run, name="demo-controller", daemon=True)
        self.control_thread.start()

    def start_traffic(self) -> None:
        self.traffic = TrafficGenerator(
            [self.gateway_url],
            sc.MODEL,
            rate=self.options.rate,
            users=self.options.users,
            thumbs_down=self.scenario.thumbs_down(),
            seed=self.options.seed,
        )
        self.traffic.start()

    # --- watching -----------------------------------------------------------------------
    def _check_health(self) -> None:
        self.children.check()
        if self.traffic is not None and self.traffic.error is not None:
            raise DemoError(f"the traffic generator stopped: {self.traffic.error!r}")
        if self.control_error is not None:
            raise DemoError(f"the controller stopped: {self.control_error}")

    def _judge(self, state: RolloutState, now: float) -> StepDecision | None:
        """What the gates say about the current window (the controller's own judgment, made
        on the same records: the judge is pure)."""
        from ..operations import observe_window
        from ..sources import RecordStoreSource

        assert self.store is not None
        assert self.spec is not None
        if not state.effective_phase.active:
            return None
        source = RecordStoreSource(self.store)
        obs = observe_window(source, self.rollout_id, self.spec, state, now)
        return obs.decision

    def _frame(
        self,
        state: RolloutState,
        decision: StepDecision | None,
        events: list[Event],
        note: str,
        decision_title: str = "",
    ) -> Frame:
        assert self.spec is not None
        assert self.traffic is not None
        now = time.time()
        bp, shadow = route_for(state, self.spec)
        outcome = state.phase.value
        return Frame(
            title=f"llm-rollout demo: {self.scenario.description}",
            elapsed=now - self.t0,
            phase=state.phase.value,
            stage=stage_label(self.spec, state.step, outcome),
            weight=bp / 100,
            shadow_sample=shadow,
            step_elapsed=now - state.phase_started,
            traffic=self.traffic.snapshot(),
            decision=decision,
            decision_title=decision_title,
            events=tuple(
                EventLine(e.time - self.t0, e.kind, str(e.data.get("reason", ""))) for e in events
            ),
            note=note,
        )

    def watch(self) -> tuple[RolloutState, list[Event], bool]:
        """Follow the rollout until it ends, pauses or runs out of time (third value)."""
        assert self.store is not None
        decision: StepDecision | None = None
        judged_at = 0.0
        while True:
            self._check_health()
            state = RolloutState.from_dict(self.store.get_rollout(self.rollout_id).state)
            events = self.store.events(self.rollout_id)
            now = time.time()
            if state.terminal or state.phase is Phase.PAUSED:
                last = events[-1] if events else None
                final = evidence_decision(last) or decision
                title = "" if last is None else f"gates at the check that {last.kind}"
                self.reporter.frame(self._frame(state, final, events, "", title))
                return state, events, False
            if now - judged_at >= 1.0:
                decision, judged_at = self._judge(state, now), now
            self.reporter.frame(self._frame(state, decision, events, ""))
            if now - self.t0 >= self.options.max_seconds:
                return state, events, True
            time.sleep(0.25)

    def settle(self, state: RolloutState, flip: float, events: list[Event]) -> None:
        """Keep traffic flowing ``settle`` seconds past the flip so late answers are seen."""
        note = "rolled back: traffic continues for a moment to time the flip"
        decision = evidence_decision(events[-1] if events else None)
        title = "gates at the check that rolled back"
        while time.time() < flip + self.options.settle:
            self._check_health()
            self.reporter.frame(self._frame(state, decision, events, note, title))
            time.sleep(0.25)

    # --- the end ------------------------------------------------------------------------
    def result(self, state: RolloutState, events: list[Event], timed_out: bool) -> DemoResult:
        assert self.spec is not None
        assert self.traffic is not None
        outcome = "timeout" if timed_out else state.phase.value
        end_event = next((e for e in reversed(events) if e.kind == state.phase.value), None)
        end = end_event.time if end_event is not None and not timed_out else time.time()
        seconds = end - self.t0
        stage = stage_label(self.spec, state.step, outcome)
        timing = None
        if state.phase is Phase.ROLLED_BACK and end_event is not None:
            self.settle(state, end_event.time, events)
            self.traffic.stop()
            if stage != "shadow":
                timing = rollback_timing(self.traffic.candidate_answers(), end_event.time)
        fired = fired_verdicts(end_event) if state.phase is Phase.ROLLED_BACK else []
        headline = halt_headline(outcome, stage, seconds, fired, state.reason)
        if state.phase is Phase.ROLLED_BACK:
            headline += "; " + rollback_clause(timing, stage)
        return DemoResult(
            regression=self.options.regression,
            description=self.scenario.description,
            outcome=outcome,
            stage=stage,
            seconds=round(seconds, 3),
            headline=headline,
            reason=state.reason,
            fired=[v.to_dict() for v in fired],
            rollback=None if timing is None else timing.to_dict(),
            events=[
                {"at": round(e.time - self.t0, 3), "kind": e.kind, "reason": e.data.get("reason")}
                for e in events
            ],
        )

    def shutdown(self) -> None:
        """Stop everything this demo started: traffic, controller, processes, stores. Every
        step runs even when an earlier one fails (ExitStack calls them last-registered first)."""
        with contextlib.ExitStack() as steps:
            steps.callback(self._restore_logging)
            for store in (self.store, self.control_store):
                if store is not None:
                    steps.callback(store.close)
            steps.callback(self.children.stop_all)
            steps.callback(self._stop_controller)
            if self.traffic is not None:
                steps.callback(self.traffic.stop, timeout=3.0)

    def _stop_controller(self) -> None:
        self.control_stop.set()
        if self.control_thread is not None:
            self.control_thread.join(10.0)

    def _restore_logging(self) -> None:
        if self.log_handler is not None:
            logger = logging.getLogger("llm_rollout.controller")
            logger.removeHandler(self.log_handler)
            logger.propagate = True
            self.log_handler.close()


def run_demo(options: DemoOptions, reporter: Reporter) -> DemoResult:
    """Run one demo; KeyboardInterrupt (Ctrl-C, or SIGTERM mapped to it by the CLI) ends it
    early with outcome ``interrupted``. Everything started is stopped before returning."""
    import atexit
    import importlib.util

    if importlib.util.find_spec("openai") is None:
        raise DemoError("the demo sends its traffic with the openai client: pip install openai")
    began = time.monotonic()
    demo = _Demo(options, reporter)
    atexit.register(demo.children.stop_all)
    result: DemoResult | None = None
    failed = True
    try:
        demo.start_processes()
        demo.start_rollout()
        demo.start_controller()
        demo.start_traffic()
        state, events, timed_out = demo.watch()
        result = demo.result(state, events, timed_out)
        failed = False
    except KeyboardInterrupt:
        failed = False
        result = DemoResult(
            options.regression,
            demo.scenario.description,
            "interrupted",
            "",
            round(time.time() - demo.t0, 3) if demo.t0 else 0.0,
            headline="interrupted: every process the demo started was stopped",
        )
    finally:
        with contextlib.ExitStack() as cleanup:  # last registered runs first
            cleanup.callback(_tidy, demo, keep=options.keep_home, failed=failed)
            cleanup.callback(atexit.unregister, demo.children.stop_all)
            cleanup.callback(demo.shutdown)
            cleanup.callback(reporter.close)
    result.processes = demo.children.pids()
    if demo.traffic is not None:
        result.traffic = demo.traffic.snapshot().to_dict()
    result.home = str(demo.home) if options.keep_home else None
    result.wall_seconds = round(time.monotonic() - began, 3)
    return result


def _tidy(demo: _Demo, *, keep: bool, failed: bool) -> None:
    """Remove the demo's temporary directory, unless asked to keep it or the demo failed (its
    logs then say why)."""
    if failed:
        demo.reporter.message(f"logs and store kept in {demo.tmp}")
    elif not keep:
        shutil.rmtree(demo.tmp, ignore_errors=True)
