"""The statistics of the shadow report: paired ratios of means with an anytime-valid interval
(Fieller's construction on :func:`llm_rollout.stats.mean_cs`) and the comparison of answer texts."""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..records import FloatArray
from ..stats import mean_cs

MAX_WORDS = 2000  # words compared per answer (difflib is quadratic in the worst case)


@dataclass(frozen=True)
class PairedRatio:
    metric: str
    pairs: int
    baseline_mean: float
    candidate_mean: float
    ratio: float
    lo: float
    hi: float


@dataclass(frozen=True)
class TextDiff:
    available: bool
    reason: str = ""
    pairs: int = 0
    identical: float = 0.0  # share of pairs with the same text
    length_ratio: float = math.nan  # mean candidate length / mean baseline length (characters)
    similarity: float = math.nan  # mean difflib ratio over words
    similarity_p10: float = math.nan


def paired_ratio_interval(b: FloatArray, c: FloatArray, alpha: float) -> tuple[float, float]:
    """Anytime-valid interval for ``mean(c) / mean(b)`` from paired observations (Fieller):
    ``{r : 0 in mean_cs(c - r b)}``, its ends found by bisection."""
    if b.size < 2 or float(b.mean()) <= 0:
        return 0.0, math.inf
    ratio = float(c.mean() / b.mean())

    def cs(r: float) -> tuple[float, float]:
        interval = mean_cs(c - r * b, alpha)
        return interval.lo, interval.hi

    lo_r = 0.0
    if cs(0.0)[0] > 0:
        a, z = 0.0, ratio  # cs(a).lo > 0 (a excluded below), cs(ratio) contains 0
        for _ in range(60):
            mid = 0.5 * (a + z)
            if cs(mid)[0] > 0:
                a = mid
            else:
                z = mid
        lo_r = a
    hi_r = math.inf
    top = max(ratio, 1e-12) * 2
    for _ in range(40):
        if cs(top)[1] < 0:
            break
        top *= 2
    else:
        return lo_r, hi_r
    a, z = ratio, top  # cs(ratio) contains 0, cs(top).hi < 0 (excluded above)
    for _ in range(60):
        mid = 0.5 * (a + z)
        if cs(mid)[1] < 0:
            z = mid
        else:
            a = mid
    hi_r = z
    return lo_r, hi_r


def paired_ratio(metric: str, b: FloatArray, c: FloatArray, alpha: float) -> PairedRatio:
    if b.size == 0:
        return PairedRatio(metric, 0, math.nan, math.nan, math.nan, 0.0, math.inf)
    mb, mc = float(b.mean()), float(c.mean())
    ratio = mc / mb if mb > 0 else math.inf
    lo, hi = paired_ratio_interval(b, c, alpha)
    return PairedRatio(metric, int(b.size), mb, mc, ratio, lo, hi)


def text_diff(pairs: Sequence[tuple[str, str]]) -> TextDiff:
    if not pairs:
        return TextDiff(False, "no pair has both texts")
    identical = sum(a == b for a, b in pairs) / len(pairs)
    len_b = float(np.mean([len(a) for a, _ in pairs]))
    len_c = float(np.mean([len(b) for _, b in pairs]))
    sims = []
    for a, b in pairs:
        wa, wb = a.split()[:MAX_WORDS], b.split()[:MAX_WORDS]
        sims.append(1.0 if wa == wb else difflib.SequenceMatcher(None, wa, wb).ratio())
    return TextDiff(
        True,
        "",
        len(pairs),
        identical,
        len_c / len_b if len_b > 0 else math.inf,
        float(np.mean(sims)),
        float(np.quantile(sims, 0.1)),
    )
