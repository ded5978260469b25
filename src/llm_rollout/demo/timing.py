"""How long a rollback takes to reach users, from what a client observed. Pure.

The reference time is when the rollback policy was committed (or when ``llm-rollout rollback``
returned). Two numbers, because they answer different questions:

- ``last_answer``: seconds from the reference to the *completion* of the last answer served by
  the candidate. It includes requests that were already in flight at the flip: the gateway
  never moves a request it has started, so they finish on the candidate. This is "the last
  response served by the candidate".
- ``last_start``: seconds from the reference to the *start* of the last request that the
  candidate still served. A request started after the flip and served by the candidate means a
  gateway had not applied the new policy yet: this is the propagation delay itself (None when
  no request started after the reference reached the candidate).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RollbackTiming:
    reference: float  # wall-clock time of the flip
    last_answer: float  # s after the reference; 0 when no candidate answer ended after it
    last_start: float | None  # s after the reference; None when none started after it
    answers_after: int  # candidate answers that completed after the reference
    started_after: int  # candidate-served requests that started after the reference

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "last_candidate_answer_s": self.last_answer,
            "last_candidate_start_s": self.last_start,
            "candidate_answers_after": self.answers_after,
            "candidate_starts_after": self.started_after,
        }


def rollback_timing(answers: Iterable[tuple[float, float]], reference: float) -> RollbackTiming:
    """``answers``: (start, end) wall-clock times of candidate-served answers."""
    pairs = list(answers)
    ends = [end - reference for _, end in pairs if end > reference]
    starts = [start - reference for start, _ in pairs if start > reference]
    return RollbackTiming(
        reference=reference,
        last_answer=max(ends, default=0.0),
        last_start=max(starts) if starts else None,
        answers_after=len(ends),
        started_after=len(starts),
    )
