"""Injected regressions: one metric of the candidate made worse by a factor, from a time on.

A regression names a metric (``cost``, ``latency``, ``p99_latency``, ``ttft``, ``errors``,
``refusals``, ``thumbs_down``, ``output_length``; a few aliases are accepted), a factor
(finite, > 0; below 1 is an improvement), ``start`` (seconds into the rollout) and ``share``
(the share of prompts it affects, in (0, 1]). On the command line: ``NAME=FACTOR[@START][:SHARE]``
such as ``cost=1.25``, ``p99_latency=2@30m`` or ``refusal=3:0.2``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from ..spec import parse_duration

# What each metric does to the candidate (see behaviour.py for the mechanics).
METRICS: dict[str, str] = {
    "cost": "prices x factor (tokens unchanged), e.g. a pricier provider tier",
    "latency": "the whole total-latency distribution x factor",
    "p99_latency": "tail only: the slowest ~2% x factor, so P99 moves by the factor, P50 not",
    "ttft": "time to first token x factor",
    "errors": "error probability x factor (capped at 1)",
    "refusals": "refusal probability x factor (capped at 1)",
    "thumbs_down": "thumbs-down probability per served request x factor (capped at 1)",
    "output_length": "completion tokens x factor (cost follows)",
}

ALIASES: dict[str, str] = {
    "error": "errors",
    "refusal": "refusals",
    "feedback": "thumbs_down",
    "thumbs-down": "thumbs_down",
    "tokens": "output_length",
    "output-length": "output_length",
    "p99-latency": "p99_latency",
    "p99": "p99_latency",
}


def canonical_metric(name: str) -> str:
    """The canonical metric name, or a SpecError listing the known ones."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in METRICS:
        known = ", ".join(sorted(METRICS))
        raise SpecError([("regression", f"unknown metric {name!r}; known: {known}")], "regression")
    return key


@dataclass(frozen=True)
class Regression:
    metric: str
    factor: float
    start: float = 0.0  # seconds into the rollout
    share: float = 1.0  # share of prompts affected

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        if self.metric not in METRICS:
            problems.append(("metric", f"unknown metric {self.metric!r}"))
        if not (math.isfinite(self.factor) and self.factor > 0):
            problems.append(("factor", f"must be a finite number > 0, got {self.factor!r}"))
        if not (math.isfinite(self.start) and self.start >= 0):
            problems.append(("start", f"must be a finite time >= 0, got {self.start!r}"))
        if not (math.isfinite(self.share) and 0 < self.share <= 1):
            problems.append(("share", f"must be within (0, 1], got {self.share!r}"))
        if problems:
            raise SpecError(problems, f"regression {self.metric}")

    def label(self) -> str:
        text = f"{self.metric} x{self.factor:g}"
        if self.start:
            text += f" from {self.start / 60:g} min"
        if self.share < 1:
            text += f" on {self.share:.0%} of prompts"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "factor": self.factor,
            "start": self.start,
            "share": self.share,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "regression") -> Regression:
        if not isinstance(data, dict):
            raise SpecError([("regression", "expected {metric, factor, start?, share?}")], source)
        unknown = sorted(set(data) - {"metric", "factor", "start", "share"})
        if unknown:
            raise SpecError([(k, "unknown regression field") for k in unknown], source)
        if "metric" not in data or "factor" not in data:
            raise SpecError([("regression", "needs metric and factor")], source)
        try:
            start = parse_duration(data.get("start", 0))
        except ValueError as exc:
            raise SpecError([("start", str(exc))], source) from exc
        return cls(
            metric=canonical_metric(str(data["metric"])),
            factor=_number(data["factor"], "factor", source),
            start=start,
            share=_number(data.get("share", 1.0), "share", source),
        )


_CLI = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=\s*([^@:]+?)\s*(?:@\s*([^:]+?)\s*)?(?::\s*(.+?)\s*)?$")


def parse_regression(text: str) -> Regression:
    """``NAME=FACTOR[@START][:SHARE]`` -> Regression; SHARE as a fraction or a percentage."""
    m = _CLI.match(text)
    if not m:
        raise SpecError(
            [("regression", f"expected NAME=FACTOR[@START][:SHARE], got {text!r}")], "regression"
        )
    name, factor, start, share = m.groups()
    metric = canonical_metric(name)
    try:
        start_s = 0.0 if start is None else parse_duration(start)
    except ValueError as exc:
        raise SpecError([("start", str(exc))], f"regression {text!r}") from exc
    share_v = 1.0
    if share is not None:
        percent = share.endswith("%")
        share_v = _number(share.rstrip("%"), "share", f"regression {text!r}")
        share_v = share_v / 100 if percent else share_v
    return Regression(metric, _number(factor, "factor", f"regression {text!r}"), start_s, share_v)


def _number(value: Any, name: str, source: str) -> float:
    if isinstance(value, bool):
        raise SpecError([(name, f"expected a number, got {value!r}")], source)
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise SpecError([(name, f"expected a number, got {value!r}")], source) from exc
    return number
