"""The PostgreSQL store's statements and its binary window reader.

Reading a window: :data:`WINDOW_COPY` streams one arm's four columns as ``COPY ... (FORMAT
BINARY)``; every field is fixed-width and never NULL, so each row is exactly 50 bytes and
:func:`window_from_copy` views the whole buffer as one numpy record array: no Python object
per row (a cursor would build a tuple and four numbers for each).
"""

from __future__ import annotations

import numpy as np

from ..errors import StoreError
from ..records import ArmWindow
from ._records import arm_window_from

# The SQLite statement's -1 encoding of "no value" (see _records.NO_VALUE) is kept so both
# backends share one row encoder; the casts give each parameter one type whichever Python
# type a row carries.
INSERT_SQL = """
INSERT INTO records (
    request_id, time, rollout, step, arm, role, model, status, http_status, latency_ms,
    ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cost_usd, refused,
    finish_reason, sticky_bucket, usage_estimated, policy_version
) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, nullif(%s::float8, -1), %s, %s, %s, %s, %s,
          %s, nullif(%s::int8, -1), %s, %s)
ON CONFLICT (request_id, role) DO NOTHING
"""

# The packed column is the one of _records.WINDOW_SQL: completion_tokens * 16 + flags.
WINDOW_COPY = """
COPY (
    SELECT latency_ms, coalesce(ttft_ms, -1.0)::float8, cost_usd,
           (completion_tokens * 16 + (status = 1)::int + 2 * (refused <> 0)::int
            + 4 * (feedback IS NOT NULL)::int + 8 * coalesce(feedback, 0))::int8
    FROM records
    WHERE rollout = %s AND step = %s AND role = %s AND arm = %s AND time >= %s AND time < %s
) TO STDOUT (FORMAT BINARY)
"""

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("n0", ">i4"),
        ("latency", ">f8"),
        ("n1", ">i4"),
        ("ttft", ">f8"),
        ("n2", ">i4"),
        ("cost", ">f8"),
        ("n3", ">i4"),
        ("packed", ">i8"),
    ]
)


def window_from_copy(data: bytes) -> ArmWindow:
    """One arm's window from the bytes of :data:`WINDOW_COPY` (header, rows, trailer)."""
    if not data.startswith(_SIGNATURE) or len(data) < 21:
        raise StoreError("the server sent a window in an unexpected COPY format")
    start = 19 + int.from_bytes(data[15:19], "big")  # signature, flags, header extension
    body = len(data) - start - 2  # the trailer is one int16, -1
    if body % _ROW.itemsize:
        raise StoreError("the server sent a window in an unexpected COPY format")
    table = np.frombuffer(data, dtype=_ROW, offset=start, count=body // _ROW.itemsize)
    if table.size and not (np.all(table["fields"] == 4) and np.all(table["n0"] == 8)):
        raise StoreError("the server sent a window in an unexpected COPY format")
    return arm_window_from(table["latency"], table["ttft"], table["cost"], table["packed"])
