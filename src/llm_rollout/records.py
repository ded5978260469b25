"""What the gateway (or the simulator) records per upstream call, and per piece of feedback.

Records are plain frozen dataclasses (cheap to build on the request path). Judging reads them
column-wise: :class:`ArmWindow` holds one arm's window as numpy arrays, which is what the store
returns and what the judge consumes, so a pass over a million records never builds a million
Python objects.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from .errors import InvalidDataError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class Arm(StrEnum):
    BASELINE = "baseline"
    CANDIDATE = "candidate"


class Role(StrEnum):
    SERVE = "serve"  # the response went back to the user
    SHADOW = "shadow"  # a mirrored copy; recorded, never returned


class Status(StrEnum):
    OK = "ok"
    ERROR = "error"  # upstream 5xx, timeout or connection error
    CLIENT_ERROR = "client_error"  # 4xx caused by the request itself; not counted against a model


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per one million tokens."""

    input: float
    output: float
    cached_input: float | None = None  # None: cached tokens are billed as plain input


def cost_usd(
    prices: Prices, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
) -> float:
    """The one place cost is computed: provider-reported usage times registry prices.

    ``cached_tokens`` is the part of ``prompt_tokens`` served from the provider's prompt cache
    (OpenAI's ``usage.prompt_tokens_details.cached_tokens``), billed at the cached price.
    """
    if prompt_tokens < 0 or completion_tokens < 0 or cached_tokens < 0:
        raise InvalidDataError("token counts must be >= 0")
    cached = min(cached_tokens, prompt_tokens)
    cached_price = prices.input if prices.cached_input is None else prices.cached_input
    usd = (prompt_tokens - cached) * prices.input
    usd += cached * cached_price + completion_tokens * prices.output
    return usd / 1_000_000


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One upstream call. Latencies in milliseconds; ``ttft_ms`` only for streams."""

    request_id: str
    time: float  # unix seconds when the call started
    rollout_id: str
    step: int  # index of the rollout step (-1: shadow phase / no rollout step)
    arm: Arm
    role: Role
    model_digest: str
    status: Status
    http_status: int
    latency_ms: float
    ttft_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    refused: bool = False
    finish_reason: str | None = None
    sticky_bucket: int | None = None
    usage_estimated: bool = False
    policy_version: int = 0

    def validate(self) -> RequestRecord:
        """Reject impossible values with a message naming the field; returns self."""
        for name in ("latency_ms", "cost_usd", "time"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InvalidDataError(f"record {self.request_id}: {name} must be finite and >= 0")
        if self.ttft_ms is not None and (not math.isfinite(self.ttft_ms) or self.ttft_ms < 0):
            raise InvalidDataError(f"record {self.request_id}: ttft_ms must be finite and >= 0")
        for name in ("prompt_tokens", "completion_tokens", "cached_tokens"):
            if getattr(self, name) < 0:
                raise InvalidDataError(f"record {self.request_id}: {name} must be >= 0")
        return self


@dataclass(frozen=True, slots=True)
class Feedback:
    """User feedback on one served request. ``rating`` in [-1, 1]; below 0 counts as negative."""

    request_id: str
    time: float
    rating: float
    label: str | None = None

    def validate(self) -> Feedback:
        if not math.isfinite(self.rating) or not -1.0 <= self.rating <= 1.0:
            raise InvalidDataError(f"feedback {self.request_id}: rating must be in [-1, 1]")
        return self

    @property
    def negative(self) -> bool:
        return self.rating < 0


def _floats(values: Iterable[float]) -> FloatArray:
    return np.fromiter(values, dtype=np.float64)


@dataclass(frozen=True)
class ArmWindow:
    """One arm's records in a judging window, column-wise (served calls only unless shadow).

    ``ttft_ms`` holds NaN for non-streamed calls. ``negative_feedback`` counts served requests
    with at least one negative rating (last rating wins), so the feedback rate is per served
    request, not per rating. ``unit``, when the source knows it, holds each observation's
    assignment unit (its sticky bucket; -1 for a request without a sticky key).
    """

    latency_ms: FloatArray
    ttft_ms: FloatArray
    cost_usd: FloatArray
    completion_tokens: FloatArray
    error: BoolArray
    refused: BoolArray
    negative_feedback: int = 0
    feedback_count: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    unit: IntArray | None = None

    @property
    def n(self) -> int:
        return int(self.latency_ms.shape[0])

    @property
    def ok(self) -> BoolArray:
        return ~self.error

    @classmethod
    def empty(cls) -> ArmWindow:
        z = np.zeros(0)
        b = np.zeros(0, dtype=np.bool_)
        return cls(z, z, z, z, b, b)

    @classmethod
    def from_records(
        cls, records: Sequence[RequestRecord], negative_ids: frozenset[str] = frozenset()
    ) -> ArmWindow:
        """Build a window from record objects (tests, JSONL files). Validates every record."""
        for r in records:
            r.validate()
        neg = sum(1 for r in records if r.request_id in negative_ids)
        return cls(
            latency_ms=_floats(r.latency_ms for r in records),
            ttft_ms=_floats(math.nan if r.ttft_ms is None else r.ttft_ms for r in records),
            cost_usd=_floats(r.cost_usd for r in records),
            completion_tokens=_floats(float(r.completion_tokens) for r in records),
            error=np.fromiter((r.status == Status.ERROR for r in records), dtype=np.bool_),
            refused=np.fromiter((r.refused for r in records), dtype=np.bool_),
            negative_feedback=neg,
            feedback_count=neg,
        )

    def validate(self) -> ArmWindow:
        """Reject NaN / negative values in the columns (TTFT may be NaN: not streamed)."""
        for name in ("latency_ms", "cost_usd", "completion_tokens"):
            col: FloatArray = getattr(self, name)
            if col.size and (not np.all(np.isfinite(col)) or float(col.min()) < 0):
                raise InvalidDataError(f"{name} holds NaN, infinite or negative values")
        ttft = self.ttft_ms[~np.isnan(self.ttft_ms)]
        if ttft.size and (not np.all(np.isfinite(ttft)) or float(ttft.min()) < 0):
            raise InvalidDataError("ttft_ms holds infinite or negative values")
        if not 0 <= self.negative_feedback <= self.n:
            raise InvalidDataError("negative_feedback must be between 0 and the served count")
        return self


@dataclass(frozen=True)
class Window:
    """Both arms of one judging window, plus what the policy intended."""

    baseline: ArmWindow
    candidate: ArmWindow
    candidate_weight: float  # intended share of served traffic, 0..1
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class WindowQuery:
    """Which observations a judging window holds: one rollout's step and role, over
    ``start <= time < end``, and the candidate share of served traffic the policy intended.

    ``role=SERVE``: both arms' served calls. ``role=SHADOW``: the baseline's served calls and
    the candidate's shadow calls (what shadow mode compares). Feedback counts only for served
    calls. The controller says which window a check judges
    (:func:`llm_rollout.controller.window_query`); a window source answers it."""

    rollout_id: str
    step: int
    role: Role
    start: float
    end: float
    candidate_weight: float  # 0..1
