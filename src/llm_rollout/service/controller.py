"""The controller service: the live loop around the pure state machine.

Each pass, while holding the leader lease, visits every active rollout whose check is due
(``last_check + check_interval <= now``) and runs one check, the reconcile pass of Argo
Rollouts: load the row, read the window from the window source (by default the records and
feedback in the store), judge it exactly as the simulator does
(:func:`llm_rollout.operations.observe_window`), let
:func:`~llm_rollout.controller.advance` compute the next state, then save state, audit events
and the new route in ONE compare-and-swap transaction. Gateways pick the route up on their
next policy poll.

Why this is crash-safe: nothing is remembered between passes; everything comes from the store.
A controller killed before a save commits loses only that check (the next pass recomputes it
from the same stored state and records); after the commit the check is part of the stored state
(``last_check``, ``phase_started``), so a restarted controller does not run it again and cannot
advance twice. Two controllers never both act: the lease elects one, and should a stale leader
still save, the revision compare-and-swap rejects whichever save comes second.

A rollout left PENDING (a ``start`` that died between creating the row and saving the start)
is started by the controller once it is ``start_grace`` seconds old.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable

from ..controller import Phase, RecordEvent, advance, start
from ..errors import ConflictError, LlmRolloutError
from ..operations import alerts_of, apply_actions, load_rollout, observe_window
from ..sources import RecordStoreSource, WindowSource
from ..spec import Method
from ..store.base import RolloutRow, Store

log = logging.getLogger("llm_rollout.controller")
LEASE_NAME = "controller"
ACTOR = "controller"


def default_holder() -> str:
    """host:pid:random, unique per process start even when a pid is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class ControllerService:
    """One controller. ``judge_every`` overrides every spec's ``check_interval`` (seconds);
    ``method`` overrides every gate's judging method; ``clock`` is injectable for tests;
    ``source`` is where windows are read from (default: the store's records)."""

    def __init__(
        self,
        store: Store,
        *,
        holder: str | None = None,
        lease_ttl: float = 5.0,
        clock: Callable[[], float] = time.time,
        method: Method | None = None,
        judge_every: float | None = None,
        start_grace: float | None = None,
        source: WindowSource | None = None,
    ) -> None:
        if not lease_ttl > 0:
            raise ValueError("lease_ttl must be > 0")
        if judge_every is not None and not judge_every > 0:
            raise ValueError("judge_every must be > 0")
        self.store = store
        self.source = RecordStoreSource(store) if source is None else source
        self.holder = holder or default_holder()
        self.lease_ttl = lease_ttl
        self.clock = clock
        self.method = method
        self.judge_every = judge_every
        self.start_grace = lease_ttl if start_grace is None else start_grace
        self.leader = False

    # --- the lease ----------------------------------------------------------------------
    def renew(self) -> bool:
        """Take or renew the leader lease; logs when leadership changes."""
        held = self.store.acquire_lease(LEASE_NAME, self.holder, self.lease_ttl, self.clock())
        if held != self.leader:
            if held:
                log.info("controller %s is the leader", self.holder)
            else:
                log.warning("controller %s lost the lease; waiting", self.holder)
        self.leader = held
        return held

    def release(self) -> None:
        if self.leader:
            self.store.release_lease(LEASE_NAME, self.holder)
            self.leader = False

    # --- passes -------------------------------------------------------------------------
    def run_pass(self) -> list[str]:
        """One pass over the active rollouts, if this controller holds the lease; returns one
        line per thing that happened (checks, transitions, alerts, skipped saves)."""
        if not self.renew():
            return []
        out: list[str] = []
        for row in self.store.list_rollouts(active_only=True):
            if not self.renew():  # a long pass must not outlive the lease unnoticed
                out.append("lost the lease: pass stopped")
                break
            try:
                out += self.visit(row, self.clock())
            except ConflictError as exc:
                out.append(f"{row.id}: changed while checking, retried next pass ({exc})")
            except LlmRolloutError as exc:
                log.error("rollout %s: check failed: %s", row.id, exc)
                out.append(f"{row.id}: check failed: {exc}")
        return out

    def interval(self, check_interval: float) -> float:
        return check_interval if self.judge_every is None else self.judge_every

    def visit(self, row: RolloutRow, now: float) -> list[str]:
        """Run the check of one rollout if it is due (or finish its start if left PENDING)."""
        spec, state = load_rollout(row)
        if state.terminal:
            return []
        if state.phase is Phase.PENDING:
            if now - row.updated < self.start_grace:
                return []
            new, actions = start(state, spec, now)
            apply_actions(self.store, row, spec, new, actions, actor=ACTOR, now=now)
            return [f"{row.id}: completed an interrupted start -> {new.phase.value}"]
        since = state.phase_started if state.last_check is None else state.last_check
        if max(since, state.phase_started) + self.interval(spec.check_interval) > now:
            return []
        obs = observe_window(self.source, row.id, spec, state, now, self.method)
        new, actions = advance(state, spec, obs, now)
        actions = [
            RecordEvent(a.kind, {**a.data, "controller": self.holder})
            if isinstance(a, RecordEvent)
            else a
            for a in actions
        ]
        apply_actions(self.store, row, spec, new, actions, actor=ACTOR, now=now)
        lines = [
            f"{row.id}: check {new.checks} {state.phase.value} step {state.step}: "
            f"{obs.decision.outcome.value} (n {obs.n_baseline}/{obs.n_candidate})"
        ]
        for action in actions:
            if isinstance(action, RecordEvent):
                lines.append(f"{row.id}: {action.kind}: {action.data.get('reason', '')}")
        for message in alerts_of(actions):
            log.warning("ALERT %s", message)
            lines.append(f"ALERT {message}")
        return lines

    def run(self, stop: threading.Event, poll: float = 0.5) -> None:
        """Pass after pass until ``stop`` is set; store errors are logged and retried. The
        lease is renewed at least three times per lease period and released on the way out."""
        wait = min(poll, self.lease_ttl / 3)
        try:
            while not stop.is_set():
                try:
                    for line in self.run_pass():
                        log.info("%s", line)
                except LlmRolloutError as exc:
                    log.error("controller pass failed: %s", exc)
                stop.wait(wait)
        finally:
            try:
                self.release()
            except LlmRolloutError as exc:
                log.warning("could not release the lease: %s", exc)
