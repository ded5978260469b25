"""Operator actions over a store: register models, start a rollout, pause / resume / promote /
roll back / abort it, and describe it. The CLI, the controller's admin API and the demo call
these functions; none of them reads a clock (``now`` is passed in) or talks to a gateway.

Invariants every function keeps:

- A rollout's state, its audit events and the policy version its transition implies are
  written by one ``save_rollout`` call: one transaction, compare-and-swap on the revision. A
  failed call writes nothing; a concurrent writer (the controller's pass) makes it retry from
  the newly stored state, never from a stale one.
- The policy is changed by replacing one model's route inside that transaction (see
  ``Store.save_rollout(route=...)``), so a step of one rollout never undoes another's rollback.
- Rollback and abort publish the rollback route themselves (candidate weight 0, shadow off,
  baseline pinned) and return once it is committed; gateways pick it up on their next policy
  poll without waiting for the controller.
- The model references of a spec are pinned to full digests when the rollout starts, and the
  stored spec keeps the pinned references: the rollout judges and routes exactly those versions
  even if more versions of the same names are registered later.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from .controller import (
    Action,
    Alert,
    Command,
    CommandKind,
    EventKind,
    Observation,
    Phase,
    RecordEvent,
    RolloutState,
    SetRoute,
    apply_command,
    initial_state,
    judged_phase,
    observe,
    route_for,
    start,
    window_query,
)
from .errors import ConflictError, LlmRolloutError, RegistryError, StoreError
from .policy import Policy, Route
from .registry import ModelVersion, parse_ref
from .sources import RecordStoreSource, WindowSource
from .spec import Method, RolloutSpec, parse_spec
from .store.base import Event, RolloutRow, Store

__all__ = [
    "COMMAND_RETRIES",
    "RolloutNotFoundError",
    "add_models",
    "apply_actions",
    "command",
    "find_rollout",
    "load_rollout",
    "observe_window",
    "rollback",
    "route_of",
    "start_rollout",
    "status",
]

COMMAND_RETRIES = 5  # CAS retries when a command races the controller's save
_ROLLOUT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")


class RolloutNotFoundError(StoreError):
    """No rollout has that id or logical model name (or none is active to default to)."""


# --- models ---------------------------------------------------------------------------------


def add_models(store: Store, versions: Sequence[ModelVersion]) -> list[tuple[ModelVersion, bool]]:
    """Register versions; each pair says whether the version was new (False: already there)."""
    return [(version, store.put_model(version)) for version in versions]


# --- loading and routing --------------------------------------------------------------------


def load_rollout(row: RolloutRow) -> tuple[RolloutSpec, RolloutState]:
    """The stored spec and state of a row, validated."""
    spec = parse_spec(row.spec, f"stored spec of rollout {row.id}")
    return spec, RolloutState.from_dict(row.state)


def _digest(ref: str) -> str:
    _, digest = parse_ref(ref)
    if digest is None or len(digest) != 64:
        raise RegistryError(f"stored rollout reference {ref!r} is not pinned to a full digest")
    return digest


def route_of(rollout_id: str, spec: RolloutSpec, set_route: SetRoute) -> Route:
    """The policy route a SetRoute action asks for; ``spec`` holds the pinned references.

    The salt is the rollout id, so sticky buckets are stable within a rollout (a user on the
    candidate at 10% stays on it at 25%) and reshuffled by the next rollout of the model."""
    return Route(
        baseline=_digest(spec.baseline),
        candidate=_digest(spec.candidate),
        candidate_bp=set_route.candidate_bp,
        shadow_sample=set_route.shadow_sample,
        shadow_max_concurrency=spec.shadow.max_concurrency,
        shadow_timeout=spec.shadow.timeout,
        rollout_id=rollout_id,
        step=set_route.step,
        phase=set_route.phase,
        salt=rollout_id,
    )


def apply_actions(
    store: Store,
    row: RolloutRow,
    spec: RolloutSpec,
    state: RolloutState,
    actions: Sequence[Action],
    *,
    actor: str,
    now: float,
) -> RolloutRow:
    """Save ``state`` with the audit events and the route the actions carry: one CAS save.

    ConflictError (nothing written) when the row changed since ``row`` was read."""
    events = [(a.kind, a.data) for a in actions if isinstance(a, RecordEvent)]
    routes = [a for a in actions if isinstance(a, SetRoute)]
    route = None
    if routes:
        reasons = [str(data.get("reason", "")) for kind, data in events if kind != "warning"]
        reason = f"{row.id}: {reasons[0] if reasons else routes[-1].phase}"
        route = (row.model, asdict(route_of(row.id, spec, routes[-1])), actor, reason)
    return store.save_rollout(
        row.id,
        state.to_dict(),
        row.revision,
        active=not state.terminal,
        now=now,
        events=events,
        route=route,
    )


def alerts_of(actions: Sequence[Action]) -> list[str]:
    return [a.message for a in actions if isinstance(a, Alert)]


# --- starting -------------------------------------------------------------------------------


def new_rollout_id(spec: RolloutSpec, now: float) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    return f"{spec.name[:96]}-{stamp}-{secrets.token_hex(2)}"


def start_rollout(
    store: Store,
    spec: RolloutSpec,
    *,
    actor: str,
    now: float,
    rollout_id: str | None = None,
) -> RolloutRow:
    """Create the rollout and start it: shadow (if enabled) or the first canary step.

    RegistryError when a model reference is unknown or ambiguous (nothing written);
    ConflictError when the logical model already has an active rollout or the id is taken.
    The started state, the ``started`` event and the first policy version are one save."""
    baseline = store.resolve_model(spec.baseline)
    candidate = store.resolve_model(spec.candidate)
    if baseline.digest == candidate.digest:
        raise RegistryError(
            f"baseline {spec.baseline!r} and candidate {spec.candidate!r} are the same model "
            f"version {baseline.short_ref}"
        )
    pinned = spec.model_copy(update={"baseline": baseline.ref, "candidate": candidate.ref})
    rid = rollout_id or new_rollout_id(spec, now)
    if not _ROLLOUT_ID.match(rid):
        raise ConflictError(f"invalid rollout id {rid!r}: letters, digits, '.', '_', '-' only")
    first = initial_state(now)
    row = store.create_rollout(
        rid, spec.model_name, pinned.model_dump(mode="json"), first.to_dict(), now
    )
    state, actions = start(first, pinned, now)
    who = {"actor": actor, "baseline": baseline.ref, "candidate": candidate.ref}
    actions = [
        RecordEvent(a.kind, {**a.data, **who})
        if isinstance(a, RecordEvent) and a.kind == EventKind.STARTED.value
        else a
        for a in actions
    ]
    try:
        return apply_actions(store, row, pinned, state, actions, actor=actor, now=now)
    except ConflictError:
        # The controller completed this start first (it starts rollouts left PENDING).
        again = store.get_rollout(rid)
        if again.revision != row.revision:
            return again
        raise
    except LlmRolloutError as exc:
        _abandon(store, row, now, exc)
        raise


def _abandon(store: Store, row: RolloutRow, now: float, exc: Exception) -> None:
    """A start that could not be saved must not leave the model blocked by a PENDING row."""
    spec, state = load_rollout(row)
    try:
        new, actions = apply_command(
            state, spec, Command(CommandKind.ABORT, "llm-rollout", f"start failed: {exc}"), now
        )
        store.save_rollout(
            row.id,
            new.to_dict(),
            row.revision,
            active=False,
            now=now,
            events=[(a.kind, a.data) for a in actions if isinstance(a, RecordEvent)],
        )
    except LlmRolloutError:
        pass  # the controller completes or an operator aborts it; the original error says more


# --- finding --------------------------------------------------------------------------------


def find_rollout(store: Store, ident: str | None) -> RolloutRow:
    """By rollout id, else by logical model name (its active rollout, else its newest), else,
    with ``ident=None``, the only active rollout. RolloutNotFoundError otherwise."""
    rows = store.list_rollouts()
    if ident is None:
        active = [r for r in rows if r.active]
        if len(active) == 1:
            return active[0]
        if not active:
            raise RolloutNotFoundError(
                "no active rollout; name one (llm-rollout history lists every rollout)"
            )
        names = ", ".join(r.id for r in active)
        raise RolloutNotFoundError(f"{len(active)} active rollouts ({names}); name one")
    for r in rows:
        if r.id == ident:
            return r
    of_model = [r for r in rows if r.model == ident]
    active = [r for r in of_model if r.active]
    if active:
        return active[0]
    if of_model:
        return max(of_model, key=lambda r: (r.created, r.id))
    raise RolloutNotFoundError(f"no rollout with id or model name {ident!r}")


# --- commands -------------------------------------------------------------------------------


def command(
    store: Store,
    ident: str | None,
    kind: CommandKind,
    *,
    actor: str,
    reason: str = "",
    now: float,
) -> RolloutRow:
    """Apply an operator command and save it (state, event, route) in one transaction.

    ConflictError when the command does not apply (a finished rollout accepts none, only a
    paused one resumes, ...). When the controller saved the rollout in between, the command is
    re-applied to the new state, up to :data:`COMMAND_RETRIES` times."""
    rollout_id = find_rollout(store, ident).id
    for _ in range(COMMAND_RETRIES):
        row = store.get_rollout(rollout_id)
        spec, state = load_rollout(row)
        new, actions = apply_command(state, spec, Command(kind, actor, reason), now)
        try:
            return apply_actions(store, row, spec, new, actions, actor=actor, now=now)
        except ConflictError:
            if store.get_rollout(rollout_id).revision == row.revision:
                raise  # not a lost race: the save itself is refused
    raise ConflictError(
        f"cannot {kind.value} rollout {rollout_id}: it kept changing while saving; retry"
    )


def rollback(
    store: Store, ident: str | None, *, actor: str, reason: str = "", now: float
) -> RolloutRow:
    """Roll back now: the rollback route is committed when this returns."""
    return command(store, ident, CommandKind.ROLLBACK, actor=actor, reason=reason, now=now)


# --- judging the current window -------------------------------------------------------------


def observe_window(
    source: WindowSource,
    rollout_id: str,
    spec: RolloutSpec,
    state: RolloutState,
    now: float,
    method: Method | None = None,
) -> Observation:
    """Read the window the state calls for from ``source`` and judge it exactly as the
    simulator does (:func:`llm_rollout.controller.observe`)."""
    window = source.read_window(window_query(rollout_id, spec, state, now))
    return observe(spec, state, window, method)


# --- status ---------------------------------------------------------------------------------

_EVENT_KEYS = ("actor", "from", "to", "from_step", "step", "weight", "candidate_bp", "reason")


def event_summary(event: Event) -> dict[str, Any]:
    data = event.data
    out: dict[str, Any] = {
        "id": event.id,
        "rollout": event.rollout_id,
        "time": event.time,
        "kind": event.kind,
    }
    out.update({k: data[k] for k in _EVENT_KEYS if k in data})
    if "command" in data:
        out["command"] = data["command"]
    return out


def status(
    store: Store,
    ident: str | None,
    *,
    now: float | None = None,
    method: Method | None = None,
    events: int = 10,
    source: WindowSource | None = None,
) -> dict[str, Any]:
    """A JSON-safe picture of one rollout: where it is, for how long, on how many samples, what
    the gates say about the current window right now, its last events and the live route.

    A finished (or not yet started) rollout is not judged again: ``decision`` is then the
    evidence of its last transition, if it had any."""
    row = find_rollout(store, ident)
    spec, state = load_rollout(row)
    now = time.time() if now is None else now
    bp, shadow = route_for(state, spec)
    history = store.events(row.id, limit=max(events, 1))
    out: dict[str, Any] = {
        "rollout": row.id,
        "model": row.model,
        "name": spec.name,
        "active": row.active,
        "phase": state.phase.value,
        "paused_from": None if state.paused_from is None else state.paused_from.value,
        "step": state.step,
        "steps": [s.weight for s in spec.steps],
        "weight": bp / 100,
        "shadow_sample": shadow,
        "phase_started": state.phase_started,
        "dwell": max(0.0, now - state.phase_started),
        "reason": state.reason,
        "checks": state.checks,
        "last_check": state.last_check,
        "last_outcome": None if state.last_outcome is None else state.last_outcome.value,
        "next_check": None,
        "baseline": spec.baseline,
        "candidate": spec.candidate,
        "revision": row.revision,
        "samples": None,
        "decision": None,
        "alerts": [],
        "ab": None,
        "decision_source": None,
        "events": [event_summary(e) for e in history[-events:]] if events > 0 else [],
        "policy": _policy_info(store, row),
        "time": now,
    }
    if state.terminal or state.phase is Phase.PENDING:
        _final_evidence(out, history)
        return out
    since = state.phase_started if state.last_check is None else state.last_check
    out["next_check"] = max(since, state.phase_started) + spec.check_interval
    source = RecordStoreSource(store) if source is None else source
    obs = observe_window(source, row.id, spec, state, now, method)
    out["samples"] = {
        "baseline": obs.n_baseline,
        "candidate": obs.n_candidate,
        "candidate_role": "shadow" if judged_phase(state) == "shadow" else "serve",
    }
    out["decision"] = obs.decision.to_dict()
    out["alerts"] = [a.to_dict() for a in obs.alerts]
    out["ab"] = None if obs.ab is None else obs.ab.to_dict()
    out["decision_source"] = "current window"
    return out


def _final_evidence(out: dict[str, Any], history: list[Event]) -> None:
    for event in reversed(history):
        evidence = event.data.get("evidence")
        if isinstance(evidence, dict):
            out["samples"] = {
                "baseline": evidence.get("n_baseline"),
                "candidate": evidence.get("n_candidate"),
                "candidate_role": None,
            }
            out["decision"] = evidence.get("decision")
            out["alerts"] = evidence.get("alerts", [])
            out["ab"] = evidence.get("ab")
            out["decision_source"] = f"{event.kind} event {event.id}"
            return


def _policy_info(store: Store, row: RolloutRow) -> dict[str, Any]:
    current = store.current_policy()
    if current is None:
        return {"version": 0, "route": None, "owned": False}
    route = Policy.from_doc(current.version, current.doc).routes.get(row.model)
    return {
        "version": current.version,
        "route": None if route is None else asdict(route),
        "owned": route is not None and route.rollout_id == row.id,
    }
