"""What the mock model answers, drawn from a ModelProfile. Pure: a seeded RNG in, a plan out.

A :class:`Plan` fixes one response before it is sent: error or not, latency and TTFT (log-normal
around the profile's medians), token counts, whether it refuses, and its text. The ASGI app in
:mod:`.app` only times and serialises a plan.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..profile import ModelProfile

REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
WORDS = (" The", " model", " answers", " with", " a", " short", " and", " useful", " reply.")


@dataclass(frozen=True, slots=True)
class Plan:
    error: bool
    latency_s: float
    ttft_s: float
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    refused: bool
    finish_reason: str

    def pieces(self) -> list[str]:
        """The output, one piece per token (a refusal is one sentence, one piece per word)."""
        if self.refused:
            words = REFUSAL_TEXT.split(" ")
            return [w if i == 0 else " " + w for i, w in enumerate(words)]
        pieces = [WORDS[i % len(WORDS)] for i in range(self.completion_tokens)]
        pieces[0] = pieces[0].lstrip()
        return pieces


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(sigma * rng.gauss(0.0, 1.0)) if sigma > 0 else median


def draw(profile: ModelProfile, rng: random.Random, max_tokens: int | None = None) -> Plan:
    error = rng.random() < profile.error_rate
    latency = _lognormal(rng, profile.latency_ms, profile.latency_sigma) / 1000
    ttft = min(_lognormal(rng, profile.ttft_ms, profile.ttft_sigma) / 1000, latency)
    prompt = max(1, round(rng.gauss(profile.prompt_tokens, profile.prompt_tokens * 0.1)))
    cached = min(prompt, round(prompt * profile.cached_fraction))
    refused = not error and rng.random() < profile.refusal_rate
    completion = max(1, round(_lognormal(rng, profile.completion_tokens, profile.completion_sigma)))
    finish = "stop"
    if refused:
        completion = len(REFUSAL_TEXT.split(" "))
    elif max_tokens is not None and 0 < max_tokens < completion:
        completion, finish = max_tokens, "length"
    return Plan(error, latency, ttft, prompt, completion, cached, refused, finish)
