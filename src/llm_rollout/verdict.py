"""Verdicts: what the judge says about one gate statistic, and about a whole step.

Outcomes are ranked so that combining is "the worst of the parts" (as in Argo Rollouts'
analysis phases): FAIL > INCONCLUSIVE > NODATA > PASS. Every verdict carries its evidence
(estimate, interval, bound, counts, method) so a transition can be audited.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASS = "PASS"
    NODATA = "NODATA"
    INCONCLUSIVE = "INCONCLUSIVE"
    FAIL = "FAIL"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Outcome.PASS: 0, Outcome.NODATA: 1, Outcome.INCONCLUSIVE: 2, Outcome.FAIL: 3}


def _number(value: Any, null: float) -> float:
    """A float from JSON, where ``null`` stood for a non-finite value."""
    return null if value is None else float(value)


@dataclass(frozen=True)
class Verdict:
    """One statistic of one gate, e.g. gate ``latency``, statistic ``p99_ratio``.

    ``bound`` is the breach bound on ``estimate``'s scale; ``direction`` says which side of it
    is a breach: ``above`` (ratio > bound), ``below`` or ``outside`` (a band ``[lo, hi]`` given
    by ``bound`` and ``bound_hi``).
    """

    gate: str
    statistic: str
    outcome: Outcome
    method: str
    estimate: float
    lo: float
    hi: float
    bound: float
    n_baseline: int
    n_candidate: int
    explanation: str
    critical: bool = True
    bound_hi: float | None = None
    direction: str = "above"
    alpha: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        # JSON has no NaN/inf: an unbounded side becomes null.
        for key in ("estimate", "lo", "hi", "bound", "bound_hi"):
            v = d[key]
            if isinstance(v, float) and not math.isfinite(v):
                d[key] = None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Verdict:
        """The verdict :meth:`to_dict` wrote. A null is read as the value it stands for on
        its side: ``estimate`` NaN (no data), ``lo`` -inf, ``hi`` and ``bound`` +inf
        (unbounded); ``bound_hi`` stays None (no band). JSON cannot tell the rarer non-finite
        values apart from these (an infinite estimate, or ``lo = +inf`` when a free baseline
        makes a ratio surely infinite): they come back as NaN and -inf."""
        return cls(
            gate=d["gate"],
            statistic=d["statistic"],
            outcome=Outcome(d["outcome"]),
            method=d["method"],
            estimate=_number(d["estimate"], math.nan),
            lo=_number(d["lo"], -math.inf),
            hi=_number(d["hi"], math.inf),
            bound=_number(d["bound"], math.inf),
            n_baseline=int(d["n_baseline"]),
            n_candidate=int(d["n_candidate"]),
            explanation=d["explanation"],
            critical=bool(d.get("critical", True)),
            bound_hi=None if d.get("bound_hi") is None else float(d["bound_hi"]),
            direction=d.get("direction", "above"),
            alpha=float(d.get("alpha", 0.0)),
        )


@dataclass(frozen=True)
class StepDecision:
    """The combined judgment of one check: the worst outcome, critical gates first."""

    outcome: Outcome
    verdicts: tuple[Verdict, ...]
    srm: Verdict | None = None
    reasons: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.outcome is Outcome.FAIL)

    @property
    def critical_failed(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.failed if v.critical)

    @property
    def srm_mismatch(self) -> bool:
        return self.srm is not None and self.srm.outcome is Outcome.FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "srm": None if self.srm is None else self.srm.to_dict(),
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StepDecision:
        """The decision :meth:`to_dict` wrote (each verdict by :meth:`Verdict.from_dict`)."""
        srm = d.get("srm")
        return cls(
            outcome=Outcome(d["outcome"]),
            verdicts=tuple(Verdict.from_dict(v) for v in d["verdicts"]),
            srm=None if srm is None else Verdict.from_dict(srm),
            reasons=tuple(d.get("reasons", ())),
        )


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=lambda o: o.rank, default=Outcome.NODATA)
