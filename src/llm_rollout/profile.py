"""How a simulated model behaves: shared by the simulator and the mock model server.

One :class:`ModelProfile` describes a model's latency and TTFT (log-normal: heavy right tail),
token counts, prices and the probabilities of errors, refusals and thumbs-down. LLM
non-determinism enters as a multiplicative drift per time window (``drift``): the same model
measured in two windows differs by up to that much even on identical traffic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from .errors import SpecError
from .records import Prices


@dataclass(frozen=True)
class ModelProfile:
    latency_ms: float = 800.0  # median total latency
    latency_sigma: float = 0.5  # log-normal shape: P99 ~ median * exp(2.33 sigma)
    ttft_ms: float = 250.0  # median time to first token (streams)
    ttft_sigma: float = 0.4
    prompt_tokens: float = 400.0  # mean
    completion_tokens: float = 200.0  # median
    completion_sigma: float = 0.6
    cached_fraction: float = 0.0  # share of prompt tokens served from the provider cache
    error_rate: float = 0.005
    refusal_rate: float = 0.01
    thumbs_down_rate: float = 0.05  # per served request
    feedback_rate: float = 1.0  # share of served requests that get any rating
    price_input: float = 0.15  # USD per 1M tokens
    price_output: float = 0.60
    price_cached_input: float | None = None
    drift: float = 0.07  # max multiplicative window-to-window drift per arm (+-7% => ratio 15%)

    def __post_init__(self) -> None:
        problems = [
            (name, "must be a finite number >= 0")
            for name, value in asdict(self).items()
            if value is not None and (not math.isfinite(value) or value < 0)
        ]
        for name in (
            "error_rate",
            "refusal_rate",
            "thumbs_down_rate",
            "feedback_rate",
            "cached_fraction",
            "drift",
        ):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                problems.append((name, "must be within [0, 1]"))
        if problems:
            raise SpecError(problems, "model profile")

    @property
    def prices(self) -> Prices:
        return Prices(self.price_input, self.price_output, self.price_cached_input)

    def scaled(self, **factors: float) -> ModelProfile:
        """A copy with fields multiplied, e.g. ``scaled(latency_ms=2.0)``."""
        return replace(self, **{k: getattr(self, k) * f for k, f in factors.items()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelProfile:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise SpecError([(k, "unknown profile field") for k in unknown], "model profile")
        return cls(**data)
