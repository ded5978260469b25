"""Records and feedback as JSON Lines: one object per line, errors named by line number.

A line with an ``arm`` field is a :class:`RequestRecord`; a line with a ``rating`` and no
``arm`` is :class:`Feedback`. Unknown fields are rejected so typos do not pass silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .errors import InvalidDataError
from .records import Arm, ArmWindow, Feedback, RequestRecord, Role, Status, Window

_RECORD_FIELDS = {f.name for f in fields(RequestRecord)}
_FEEDBACK_FIELDS = {f.name for f in fields(Feedback)}
_ENUMS: dict[str, type[Arm] | type[Role] | type[Status]] = {
    "arm": Arm,
    "role": Role,
    "status": Status,
}


def _record(obj: dict[str, Any]) -> RequestRecord:
    unknown = sorted(set(obj) - _RECORD_FIELDS)
    if unknown:
        raise ValueError(f"unknown record field(s): {', '.join(unknown)}")
    missing = sorted(name for name in ("request_id", "arm", "latency_ms") if name not in obj)
    if missing:
        raise ValueError(f"missing record field(s): {', '.join(missing)}")
    values = {
        "time": 0.0,
        "rollout_id": "",
        "step": 0,
        "role": "serve",
        "model_digest": "",
        "status": "ok",
        "http_status": 200,
        **obj,
    }
    for name, enum in _ENUMS.items():
        try:
            values[name] = enum(values[name])
        except ValueError:
            choices = ", ".join(e.value for e in enum)
            raise ValueError(f"{name} must be one of {choices}, got {values[name]!r}") from None
    for name in ("latency_ms", "cost_usd", "time", "ttft_ms"):
        if values.get(name) is not None and not isinstance(values[name], int | float):
            raise ValueError(f"{name} must be a number")
    return RequestRecord(**values).validate()


def _feedback(obj: dict[str, Any]) -> Feedback:
    unknown = sorted(set(obj) - _FEEDBACK_FIELDS)
    if unknown:
        raise ValueError(f"unknown feedback field(s): {', '.join(unknown)}")
    rating = obj["rating"]
    if rating in ("up", "down"):
        rating = 1.0 if rating == "up" else -1.0
    if not isinstance(rating, int | float):
        raise ValueError("rating must be up, down or a number in [-1, 1]")
    return Feedback(
        str(obj.get("request_id", "")), float(obj.get("time", 0.0)), float(rating), obj.get("label")
    ).validate()


def parse_lines(lines: Iterable[str], source: str) -> tuple[list[RequestRecord], list[Feedback]]:
    records: list[RequestRecord] = []
    feedback: list[Feedback] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_constant=lambda c: math.nan)
            if not isinstance(obj, dict):
                raise ValueError("expected a JSON object")
            if "arm" in obj or "rating" not in obj:
                records.append(_record(obj))
            else:
                feedback.append(_feedback(obj))
        except (ValueError, TypeError, InvalidDataError) as exc:
            raise InvalidDataError(f"{source}:{number}: {exc}") from exc
    return records, feedback


def read_jsonl(path: str | Path) -> tuple[list[RequestRecord], list[Feedback]]:
    p = Path(path)
    try:
        with p.open() as handle:
            return parse_lines(handle, str(p))
    except OSError as exc:
        raise InvalidDataError(f"cannot read {p}: {exc.strerror}") from exc


def window_from(
    records: Iterable[RequestRecord],
    feedback: Iterable[Feedback],
    candidate_weight: float,
    role: Role = Role.SERVE,
) -> Window:
    """Build a judging window: served records (or shadow candidate records) split by arm.

    Feedback follows the store's rule: last rating per request wins, and a request counts as
    negative when that rating is below zero.
    """
    last: dict[str, Feedback] = {}
    for fb in sorted(feedback, key=lambda f: f.time):
        last[fb.request_id] = fb
    negative = frozenset(k for k, fb in last.items() if fb.negative)
    recs = list(records)
    base = [r for r in recs if r.arm is Arm.BASELINE and r.role is Role.SERVE]
    cand_role = Role.SHADOW if role is Role.SHADOW else Role.SERVE
    cand = [r for r in recs if r.arm is Arm.CANDIDATE and r.role is cand_role]
    times = [r.time for r in recs]
    return Window(
        baseline=ArmWindow.from_records(base, negative),
        candidate=ArmWindow.from_records(cand, negative if role is Role.SERVE else frozenset()),
        candidate_weight=candidate_weight,
        start=min(times, default=0.0),
        end=max(times, default=0.0),
    )


def dump_records(records: Iterable[RequestRecord]) -> Iterator[str]:
    for r in records:
        yield json.dumps({k: (v.value if hasattr(v, "value") else v) for k, v in asdict(r).items()})
