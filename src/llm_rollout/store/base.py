"""The store protocols: what llm-rollout persists, behind two interfaces.

- :class:`ControlStore`: the registry, policy versions, rollouts with their audit log, and
  leader leases: small, transactional, written by the controller and the operator commands.
- :class:`RecordStore`: one record per upstream call and the users' feedback: append-heavy,
  written by the gateway, read by judging (windows) and by the offline analyses (records).
- :class:`Store`: both, which is what one backend provides.

Implementations: :mod:`.sqlite` (embedded, WAL; a file or ``:memory:``) and :mod:`.postgres`
(a shared PostgreSQL database, for several hosts). Every method is a
complete transaction; none leaves partial state behind on error (errors surface as
:class:`~llm_rollout.errors.StoreError`). ``tests/store/`` is the contract suite a backend
proves itself with: it runs against every backend in ``tests/store/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..records import ArmWindow, Feedback, RequestRecord, Role
from ..registry import ModelVersion


@dataclass(frozen=True)
class PolicyVersion:
    version: int
    doc: dict[str, Any]
    actor: str
    reason: str
    time: float


@dataclass(frozen=True)
class RolloutRow:
    id: str
    model: str  # logical model name
    spec: dict[str, Any]
    state: dict[str, Any]
    revision: int  # bumped by every save; saves compare-and-swap on it
    active: bool
    created: float
    updated: float


@dataclass(frozen=True)
class Event:
    id: int
    rollout_id: str
    time: float
    kind: str
    data: dict[str, Any]


class ControlStore(Protocol):
    """Registry, policy, rollouts and audit, leases."""

    # --- registry -------------------------------------------------------------------------
    def put_model(self, version: ModelVersion) -> bool:
        """Register a version; returns False when that digest was already there (idempotent).

        ``api_key_env`` is not part of the identity: re-registering updates it. A stored
        definition that no longer matches its digest raises RegistryError (damaged store)."""
        ...

    def get_model(self, digest: str) -> ModelVersion:
        """The version with this full digest; RegistryError when unknown."""
        ...

    def list_models(self) -> list[ModelVersion]:
        """Every stored version, oldest registration first."""
        ...

    def resolve_model(self, ref: str) -> ModelVersion:
        """``name`` or ``name@sha256:<prefix>`` among the stored versions of ``name``
        (see :func:`llm_rollout.registry.resolve`); RegistryError when unknown or ambiguous."""
        ...

    # --- policy ---------------------------------------------------------------------------
    def publish_policy(self, doc: dict[str, Any], actor: str, reason: str, now: float) -> int:
        """Append a policy document; returns its version (monotonic, starts at 1)."""
        ...

    def policy_version(self) -> int:
        """The newest version (0 when none): the cheap poll replicas run."""
        ...

    def current_policy(self) -> PolicyVersion | None:
        """The newest version with its document; None before the first publish."""
        ...

    def policy_history(self, limit: int = 50) -> list[PolicyVersion]:
        """The newest ``limit`` versions, newest first."""
        ...

    # --- rollouts and audit log -----------------------------------------------------------
    def create_rollout(
        self, rollout_id: str, model: str, spec: dict[str, Any], state: dict[str, Any], now: float
    ) -> RolloutRow:
        """A new active row at revision 1. ConflictError when the id exists or an active
        rollout already exists for ``model``."""
        ...

    def get_rollout(self, rollout_id: str) -> RolloutRow:
        """StoreError (not ConflictError) when there is no such rollout."""
        ...

    def list_rollouts(self, active_only: bool = False) -> list[RolloutRow]:
        """Every rollout (or only the active ones), oldest first."""
        ...

    def save_rollout(
        self,
        rollout_id: str,
        state: dict[str, Any],
        expected_revision: int,
        active: bool,
        now: float,
        events: Sequence[tuple[str, dict[str, Any]]] = (),
        policy: tuple[dict[str, Any], str, str] | None = None,
        route: tuple[str, dict[str, Any], str, str] | None = None,
    ) -> RolloutRow:
        """Compare-and-swap save of state, its audit events and (optionally) a new policy
        ``(doc, actor, reason)``, all in one transaction. ConflictError on a stale revision,
        or when ``active`` would make a second active rollout of the model; nothing is written
        then. Events and the policy are stamped ``now``.

        ``route=(model, route fields, actor, reason)`` instead publishes the newest policy
        document with that one model's route replaced, read and written inside the same
        transaction, so a concurrent change to another model's route is never overwritten
        (a rollback of one model must not be undone by a step of another). At most one of
        ``policy`` and ``route`` may be given."""
        ...

    def events(self, rollout_id: str | None = None, limit: int = 1000) -> list[Event]:
        """The newest ``limit`` events (of one rollout, or of all), oldest first."""
        ...

    # --- leader lease ---------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        """Take or renew the named lease; False while another holder's lease is unexpired."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up early; a no-op unless ``holder`` has it."""
        ...

    def close(self) -> None:
        """Release the connection; the object is unusable afterwards."""
        ...


class RecordStore(Protocol):
    """Records and feedback, and the windows and record lists read from them."""

    def append_records(self, records: Sequence[RequestRecord]) -> None:
        """All or nothing. InvalidDataError (before any write) when a record is impossible.
        A record whose ``(request_id, role)`` is already stored is skipped, so a writer may
        retry a batch (at-least-once delivery); serve and shadow copies may share an id."""
        ...

    def append_feedback(self, feedback: Feedback) -> bool:
        """Store feedback for a known served request: the rating with the latest ``time`` wins
        (ties: the later write). False, and nothing stored, if no served call has the id."""
        ...

    def read_window(
        self, rollout_id: str, step: int, role: Role, start: float, end: float
    ) -> tuple[ArmWindow, ArmWindow]:
        """(baseline, candidate) columns of the window ``start <= time < end``.

        ``role=SERVE``: both arms' served calls. ``role=SHADOW``: the baseline's served calls
        and the candidate's shadow calls (what shadow mode compares). Feedback counts only
        for served calls."""
        ...

    def read_records(self, rollout_id: str | None = None) -> list[RequestRecord]:
        """Every stored record (of one rollout), in append order, as record objects: what
        the offline analyses (``calibrate``, ``shadow-report``) and exports read.
        Judging reads :meth:`read_window`, which never builds a record object."""
        ...

    def close(self) -> None:
        """Release the connection; the object is unusable afterwards."""
        ...


class Store(ControlStore, RecordStore, Protocol):
    """Both protocols: what one backend (one database) provides."""


class Closeable(Protocol):
    def close(self) -> None: ...


@runtime_checkable
class PolicyPush(Protocol):
    """What a store that can push new policy versions offers besides polling (PostgreSQL)."""

    def listen_policy(self, on_version: Callable[[int], None]) -> Closeable:
        """Start calling ``on_version(version)`` from another thread: at once with the current
        version, after every reconnect, and for every version published; ``close()`` stops.
        A push may be late or lost while reconnecting: keep polling ``policy_version()``."""
        ...
