"""Records between Python objects, SQL rows and numpy columns (the SQLite store's hot path).

Writing: :func:`check_record` rejects impossible records before anything is written, then
:func:`record_rows` encodes them as parameter tuples. Reading a window: :data:`WINDOW_SQL`
scans one contiguous range of the ``records_window`` covering index per arm, and
:func:`arm_window` streams the cursor straight into a structured numpy array (``np.fromiter``),
so a million rows never become a list of a million tuples. The SQL folds completion tokens,
error, refused and feedback into one integer per row: fewer Python objects per row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidDataError
from ..records import Arm, ArmWindow, RequestRecord, Role, Status
from .migrations import ARM_CODES, ROLE_CODES, STATUS_CODES

# ttft_ms and sticky_bucket are NULL for most records, but sqlite3 binds None only after an
# adapter lookup that raises and discards an AttributeError per parameter (a bare four-column
# insert took 1.7 us a row with two Nones, 0.8 us with this): they are sent as -1, which
# check_record rules out for both, and turned back into NULL by the statement.
NO_VALUE = -1
INSERT_SQL = """
INSERT INTO records (
    request_id, time, rollout, step, arm, role, model, status, http_status, latency_ms,
    ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cost_usd, refused,
    finish_reason, sticky_bucket, usage_estimated, policy_version
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, -1), ?, ?, ?, ?, ?, ?, nullif(?, -1), ?, ?)
ON CONFLICT (request_id, role) DO NOTHING
"""

# One packed integer per row: completion_tokens * 16 + flags, where the flags are 1 error
# (status 'error' only: client errors are not the model's fault), 2 refused, 4 has feedback,
# 8 negative feedback. One object less per row: measured ~12% faster than separate columns.
# TTFT NULL (not streamed) comes back as -1.
WINDOW_SQL = """
SELECT latency_ms, ifnull(ttft_ms, -1.0), cost_usd,
       completion_tokens * 16 + (status = 1) + 2 * (refused != 0)
           + 4 * (feedback IS NOT NULL) + 8 * ifnull(feedback, 0)
FROM records INDEXED BY records_window
WHERE rollout = ? AND step = ? AND role = ? AND arm = ? AND time >= ? AND time < ?
"""

_WINDOW_DTYPE = np.dtype([("latency", "f8"), ("ttft", "f8"), ("cost", "f8"), ("packed", "i8")])

RECORD_SQL = """
SELECT request_id, time, rollout_id, step, arm, role, model_digest, status, http_status,
       latency_ms, ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cost_usd, refused,
       finish_reason, sticky_bucket, usage_estimated, policy_version
FROM record_rows
"""


def names_of(records: Sequence[RequestRecord]) -> set[str]:
    """The strings interned in ``names``: rollout ids and model digests."""
    return {r.rollout_id for r in records} | {r.model_digest for r in records}


def _check_code(codes: Mapping[str, int], value: object, field: str, request_id: str) -> None:
    if not isinstance(value, str) or value not in codes:
        raise InvalidDataError(
            f"record {request_id}: {field} must be one of {', '.join(codes)}, got {value!r}"
        )


INF = math.inf


def plainly_valid(r: RequestRecord) -> bool:
    """The common case in one expression: exactly the types the gateway builds, values in
    range. True implies :func:`check_record` passes; False only means "look closer".

    Writes run on the gateway's store thread, which holds the GIL while it checks; this takes
    a fraction of the field-by-field checks' time. (``0.0 <= x < INF`` is False for NaN.)
    """
    ttft, bucket = r.ttft_ms, r.sticky_bucket
    return (
        type(r.request_id) is str
        and r.request_id != ""
        and type(r.rollout_id) is str
        and type(r.model_digest) is str
        and type(r.arm) is Arm
        and type(r.role) is Role
        and type(r.status) is Status
        and type(r.step) is int
        and type(r.http_status) is int
        and type(r.prompt_tokens) is int
        and type(r.completion_tokens) is int
        and type(r.cached_tokens) is int
        and r.prompt_tokens >= 0
        and r.completion_tokens >= 0
        and r.cached_tokens >= 0
        and type(r.time) is float
        and 0.0 <= r.time < INF
        and type(r.latency_ms) is float
        and 0.0 <= r.latency_ms < INF
        and type(r.cost_usd) is float
        and 0.0 <= r.cost_usd < INF
        and (ttft is None or (type(ttft) is float and 0.0 <= ttft < INF))
        and (bucket is None or (type(bucket) is int and bucket >= 0))
    )


def check_record(r: RequestRecord) -> None:
    """Everything :func:`record_rows` relies on; raises InvalidDataError naming the field."""
    if not plainly_valid(r):
        check_record_closely(r)


def check_record_closely(r: RequestRecord) -> None:
    """Field by field, with a message naming the first problem."""
    r.validate()
    if not isinstance(r.request_id, str) or not r.request_id:
        raise InvalidDataError(f"record {r.request_id!r}: request_id must be a non-empty string")
    for name in ("rollout_id", "model_digest"):
        if not isinstance(getattr(r, name), str):
            raise InvalidDataError(f"record {r.request_id}: {name} must be a string")
    for name in ("step", "http_status", "prompt_tokens", "completion_tokens", "cached_tokens"):
        if not isinstance(getattr(r, name), int):
            raise InvalidDataError(f"record {r.request_id}: {name} must be an integer")
    bucket = r.sticky_bucket
    if bucket is not None and (not isinstance(bucket, int) or bucket < 0):
        raise InvalidDataError(
            f"record {r.request_id}: sticky_bucket must be empty or an integer >= 0"
        )
    _check_code(ARM_CODES, r.arm, "arm", r.request_id)
    _check_code(ROLE_CODES, r.role, "role", r.request_id)
    _check_code(STATUS_CODES, r.status, "status", r.request_id)


def record_rows(
    records: Iterable[RequestRecord], ids: Mapping[str, int]
) -> Iterator[tuple[Any, ...]]:
    """Encode checked records (see :func:`check_record`) as :data:`INSERT_SQL` parameters.

    A generator, so ``executemany`` streams a million rows without a list of them."""
    arm, role, status = ARM_CODES, ROLE_CODES, STATUS_CODES
    for r in records:
        yield (
            r.request_id,
            r.time,
            ids[r.rollout_id],
            r.step,
            arm[r.arm],
            role[r.role],
            ids[r.model_digest],
            status[r.status],
            r.http_status,
            r.latency_ms,
            NO_VALUE if r.ttft_ms is None else r.ttft_ms,
            r.prompt_tokens,
            r.completion_tokens,
            r.cached_tokens,
            r.cost_usd,
            1 if r.refused else 0,
            r.finish_reason,
            NO_VALUE if r.sticky_bucket is None else r.sticky_bucket,
            1 if r.usage_estimated else 0,
            r.policy_version,
        )


def arm_window(rows: Iterable[tuple[Any, ...]]) -> ArmWindow:
    """One arm's columns from :data:`WINDOW_SQL` rows, without building a list of tuples."""
    table = np.fromiter(rows, dtype=_WINDOW_DTYPE)
    return arm_window_from(table["latency"], table["ttft"], table["cost"], table["packed"])


def arm_window_from(
    latency: np.ndarray, ttft: np.ndarray, cost: np.ndarray, packed: np.ndarray
) -> ArmWindow:
    """One arm's window from the four window columns (TTFT -1: not streamed; ``packed``:
    completion tokens and flags as in :data:`WINDOW_SQL`). Any backend's rows end here."""
    if latency.size == 0:
        return ArmWindow.empty()
    ttft = np.array(ttft, dtype=np.float64)  # a native-endian, contiguous copy
    ttft[ttft < 0] = math.nan
    packed = packed.astype(np.int64)
    flags = packed & 15
    return ArmWindow(
        latency_ms=np.ascontiguousarray(latency, dtype=np.float64),
        ttft_ms=ttft,
        cost_usd=np.ascontiguousarray(cost, dtype=np.float64),
        completion_tokens=(packed >> 4).astype(np.float64),
        error=(flags & 1) != 0,
        refused=(flags & 2) != 0,
        negative_feedback=int(np.count_nonzero(flags & 8)),
        feedback_count=int(np.count_nonzero(flags & 4)),
    )


def record_from_row(row: Sequence[Any]) -> RequestRecord:
    """A :data:`RECORD_SQL` row back into the record that was appended."""
    (rid, time, rollout_id, step, arm, role, digest, status, http, latency, ttft) = row[:11]
    (prompt, completion, cached, cost, refused, finish, bucket, estimated, version) = row[11:]
    return RequestRecord(
        request_id=rid,
        time=time,
        rollout_id=rollout_id,
        step=step,
        arm=Arm(arm),
        role=Role(role),
        model_digest=digest,
        status=Status(status),
        http_status=http,
        latency_ms=latency,
        ttft_ms=ttft,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
        cost_usd=cost,
        refused=bool(refused),
        finish_reason=finish,
        sticky_bucket=bucket,
        usage_estimated=bool(estimated),
        policy_version=version,
    )
