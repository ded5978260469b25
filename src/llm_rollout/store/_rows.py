"""Rows <-> values for the SQLite store: JSON columns, dataclasses, shared statements."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from ..errors import ConflictError, InvalidDataError, RegistryError, StoreError
from ..records import Arm, Role
from ..registry import ModelVersion
from .base import Event, PolicyVersion, RolloutRow
from .migrations import ARM_CODES, ROLE_CODES

ROLLOUT_COLUMNS = "id, model, spec, state, revision, active, created, updated"
POLICY_COLUMNS = "version, doc, actor, reason, time"


def dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{what} cannot be stored as JSON: {exc}") from exc


def loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"stored {what} is not valid JSON: the store is damaged") from exc


def publish(db: sqlite3.Connection, doc: str, actor: str, reason: str, now: float) -> int:
    cur = db.execute(
        "INSERT INTO policy (doc, actor, reason, time) VALUES (?, ?, ?, ?)",
        (doc, actor, reason, now),
    )
    assert cur.lastrowid is not None  # an INSERT into a rowid table always sets it
    return cur.lastrowid


def newest_doc(db: sqlite3.Connection) -> dict[str, Any]:
    """The newest policy document (an empty one before the first), inside a transaction."""
    row = db.execute("SELECT version, doc FROM policy ORDER BY version DESC LIMIT 1").fetchone()
    return doc_from(row)


def doc_from(row: Sequence[Any] | None) -> dict[str, Any]:
    """The document of a ``(version, doc)`` row; an empty one for no row (no policy yet)."""
    if row is None:
        return {"routes": {}}
    doc = loads(row[1], f"policy version {row[0]}")
    if not isinstance(doc, dict):
        raise StoreError(f"stored policy version {row[0]} is not a document: the store is damaged")
    return doc


def check_no_other_active(db: sqlite3.Connection, model: str, rollout_id: str) -> None:
    row = db.execute(
        "SELECT id FROM rollouts WHERE model = ? AND active = 1 AND id != ?", (model, rollout_id)
    ).fetchone()
    if row is not None:
        raise other_active(model, row[0])


def other_active(model: str, other_id: str) -> ConflictError:
    return ConflictError(
        f"model {model!r} already has an active rollout {other_id!r}; finish or roll it back first"
    )


def stale(rollout_id: str, revision: int, expected: int) -> ConflictError:
    return ConflictError(
        f"rollout {rollout_id!r} changed since it was read (revision {revision}, expected "
        f"{expected}); reload it and retry"
    )


def damaged_model(short_ref: str) -> RegistryError:
    return RegistryError(
        f"stored model {short_ref} does not match its digest: the store is damaged (restore it "
        "from a backup)"
    )


def model_from(row: Sequence[Any]) -> ModelVersion:
    digest, text, api_key_env = row
    data = loads(text, f"definition of model {digest[:12]}")
    try:
        version = ModelVersion.model_validate({**data, "api_key_env": api_key_env})
    except ValidationError as exc:
        raise RegistryError(f"stored model {digest[:12]} is no longer valid: {exc}") from exc
    if version.digest != digest:
        raise RegistryError(
            f"stored model {digest[:12]} does not match its digest: the store is damaged"
        )
    return version


def policy_from(row: Sequence[Any]) -> PolicyVersion:
    version, doc, actor, reason, when = row
    return PolicyVersion(version, loads(doc, f"policy version {version}"), actor, reason, when)


def rollout_from(row: Sequence[Any]) -> RolloutRow:
    rid, model, spec, state, revision, active, created, updated = row
    return RolloutRow(
        rid,
        model,
        loads(spec, f"spec of rollout {rid!r}"),
        loads(state, f"state of rollout {rid!r}"),
        revision,
        bool(active),
        created,
        updated,
    )


def save_texts(
    state: dict[str, Any],
    events: Sequence[tuple[str, dict[str, Any]]],
    policy: tuple[dict[str, Any], str, str] | None,
    route: tuple[str, dict[str, Any], str, str] | None,
) -> tuple[str, list[tuple[str, str]], str | None]:
    """What ``save_rollout`` writes, as JSON text, checked before its transaction starts:
    ``(state, [(event kind, data)], policy document or None)``."""
    if policy is not None and route is not None:
        raise InvalidDataError("save_rollout takes a policy document or a route, not both")
    state_text = dumps(state, "rollout state")
    event_rows = [(kind, dumps(data, f"event {kind!r}")) for kind, data in events]
    policy_text = None if policy is None else dumps(policy[0], "policy document")
    return state_text, event_rows, policy_text


def check_lease(ttl: float, now: float) -> None:
    if not (math.isfinite(ttl) and ttl > 0 and math.isfinite(now)):
        raise InvalidDataError("a lease needs a finite ttl > 0 and a finite time")


def window_arms(role: Role | str) -> list[tuple[int, int]]:
    """``(role code, arm code)`` of the baseline's and the candidate's rows of a window:
    the baseline always as served, the candidate in ``role`` (see ``read_window``)."""
    candidate_role = as_role(role)
    return [
        (ROLE_CODES[Role.SERVE], ARM_CODES[Arm.BASELINE]),
        (ROLE_CODES[candidate_role], ARM_CODES[Arm.CANDIDATE]),
    ]


def as_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidDataError(f"role must be one of {', '.join(Role)}, got {role!r}") from None


def event_from(row: Sequence[Any]) -> Event:
    event_id, rollout_id, when, kind, data = row
    return Event(event_id, rollout_id, when, kind, loads(data, f"event {event_id}"))
