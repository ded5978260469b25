"""The shadow report: each shadow call next to the served baseline call of the same request.

The gateway records a shadow copy with role ``shadow`` and the *same* request id as the served
baseline call, so the two can be paired. Paired, per request, the report gives:

- ratios of means (candidate / baseline) of cost, completion tokens, latency and TTFT, with an
  anytime-valid interval that uses the pairing: ``r`` is inside when the confidence sequence
  of the paired differences ``candidate - r x baseline`` (:func:`llm_rollout.stats.mean_cs`)
  contains 0 (Fieller's construction). Same prompt in both arms, so this is much tighter than
  two independent intervals;
- refusal flips both ways (the baseline refused and the candidate did not, and vice versa);
- error rates and finish-reason changes (a matrix of baseline -> candidate);
- with payloads stored (``store_payloads``), a text comparison: the share of identical
  answers, the length change and a lexical similarity (``difflib`` ratio over words).

The spec's shadow alert rules are then judged exactly as the controller judges them
(:func:`llm_rollout.judge.judge_alert`, alpha = rollout alpha / phases / rules) on the window
of the paired calls, so a threshold fires here when it would fire in the rollout.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidDataError
from ..judge import judge_alert
from ..records import ArmWindow, FloatArray, RequestRecord, Status, Window
from ..spec import RolloutSpec
from ..stats import rate_cs
from ..verdict import Outcome, Verdict
from .shadow_pairs import pair_records, payload_texts
from .shadow_stats import PairedRatio, TextDiff, paired_ratio, text_diff

DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class Flips:
    pairs: int  # pairs where both calls succeeded
    both: int
    baseline_only: int  # the baseline refused, the candidate answered
    candidate_only: int  # the candidate refused, the baseline answered


@dataclass(frozen=True)
class ShadowReport:
    rollout: str
    pairs: int
    shadow_calls: int
    unpaired_shadow: int
    served_baseline: int
    start: float | None
    end: float | None
    level: float
    ratios: tuple[PairedRatio, ...]
    latency_quantiles: dict[str, tuple[float, float]]  # "p50"/"p99" -> (baseline, candidate)
    flips: Flips
    errors: dict[str, Any]
    finish_reasons: dict[str, dict[str, int]]  # baseline reason -> candidate reason -> count
    finish_changed: float
    text: TextDiff
    alerts: tuple[Verdict, ...]
    alert_alpha: float
    notes: tuple[str, ...] = field(default=())

    @property
    def fired(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.alerts if v.outcome is Outcome.FAIL)

    def to_dict(self) -> dict[str, Any]:
        def finite(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "kind": "llm-rollout shadow report",
            "rollout": self.rollout,
            "pairs": self.pairs,
            "shadow_calls": self.shadow_calls,
            "unpaired_shadow": self.unpaired_shadow,
            "served_baseline": self.served_baseline,
            "start": self.start,
            "end": self.end,
            "level": self.level,
            "ratios": [
                {
                    "metric": r.metric,
                    "pairs": r.pairs,
                    "baseline_mean": finite(r.baseline_mean),
                    "candidate_mean": finite(r.candidate_mean),
                    "ratio": finite(r.ratio),
                    "lo": finite(r.lo),
                    "hi": finite(r.hi),
                }
                for r in self.ratios
            ],
            "latency_quantiles": {
                k: {"baseline": finite(b), "candidate": finite(c)}
                for k, (b, c) in self.latency_quantiles.items()
            },
            "refusal_flips": {
                "pairs": self.flips.pairs,
                "both": self.flips.both,
                "baseline_only": self.flips.baseline_only,
                "candidate_only": self.flips.candidate_only,
            },
            "errors": self.errors,
            "finish_reasons": self.finish_reasons,
            "finish_changed": self.finish_changed,
            "text": {
                "available": self.text.available,
                "reason": self.text.reason,
                "pairs": self.text.pairs,
                "identical": self.text.identical,
                "length_ratio": finite(self.text.length_ratio),
                "similarity": finite(self.text.similarity),
                "similarity_p10": finite(self.text.similarity_p10),
            },
            "alerts": [v.to_dict() for v in self.alerts],
            "alert_alpha": self.alert_alpha,
            "fired": [f"{v.gate}.{v.statistic}" for v in self.fired],
            "notes": list(self.notes),
        }


def _window(records: Sequence[RequestRecord]) -> ArmWindow:
    return ArmWindow.from_records(records)


def build_report(
    records: Iterable[RequestRecord],
    spec: RolloutSpec,
    *,
    rollout: str,
    level: float = DEFAULT_LEVEL,
    payloads: Path | None = None,
) -> ShadowReport:
    """The shadow report of one rollout's records (any window; pass them pre-filtered)."""
    if not 0 < level < 1:
        raise InvalidDataError(f"level must be within (0, 1), got {level}")
    pairs, shadow_calls, unpaired, served = pair_records(records)
    alpha = 1.0 - level
    notes = []
    if not pairs:
        notes.append("no shadow call could be paired with a served baseline call")
    base = [b for b, _ in pairs]
    cand = [c for _, c in pairs]
    both_ok = [(b, c) for b, c in pairs if b.status is Status.OK and c.status is Status.OK]

    def col(
        rows: Sequence[tuple[RequestRecord, RequestRecord]], attr: str
    ) -> tuple[FloatArray, FloatArray]:
        b = np.array([getattr(x, attr) for x, _ in rows], dtype=np.float64)
        c = np.array([getattr(y, attr) for _, y in rows], dtype=np.float64)
        return b, c

    streamed = [(b, c) for b, c in both_ok if b.ttft_ms is not None and c.ttft_ms is not None]
    ratios = (
        paired_ratio("cost", *col(pairs, "cost_usd"), alpha),
        paired_ratio("completion_tokens", *col(both_ok, "completion_tokens"), alpha),
        paired_ratio("latency", *col(both_ok, "latency_ms"), alpha),
        paired_ratio("ttft", *col(streamed, "ttft_ms"), alpha),
    )
    lat_b, lat_c = col(both_ok, "latency_ms")
    quantiles = {
        q: (
            float(np.quantile(lat_b, p)) if lat_b.size else math.nan,
            float(np.quantile(lat_c, p)) if lat_c.size else math.nan,
        )
        for q, p in (("p50", 0.5), ("p99", 0.99))
    }
    flips = Flips(
        len(both_ok),
        sum(b.refused and c.refused for b, c in both_ok),
        sum(b.refused and not c.refused for b, c in both_ok),
        sum(c.refused and not b.refused for b, c in both_ok),
    )
    n = len(pairs)
    eb = sum(b.status is Status.ERROR for b in base)
    ec = sum(c.status is Status.ERROR for c in cand)
    errors: dict[str, Any] = {"pairs": n, "baseline": eb, "candidate": ec}
    if n:
        for name, k in (("baseline", eb), ("candidate", ec)):
            cs = rate_cs(k, n, alpha)
            errors[f"{name}_rate"] = k / n
            errors[f"{name}_interval"] = [cs.lo, cs.hi]
    matrix: dict[str, dict[str, int]] = {}
    counts = Counter((b.finish_reason or "-", c.finish_reason or "-") for b, c in pairs)
    for (fb, fc), k in sorted(counts.items()):
        matrix.setdefault(fb, {})[fc] = k
    changed = sum(k for (fb, fc), k in counts.items() if fb != fc) / n if n else 0.0
    if payloads is None:
        text = TextDiff(False, "payloads are not stored (gateway option store_payloads is off)")
    else:
        served_t, shadow_t = payload_texts(payloads, {b.request_id for b in base})
        if not shadow_t:
            text = TextDiff(
                False,
                f"no shadow outputs among the payloads in {payloads} (were they logged by "
                "a gateway older than shadow payload logging?): nothing to compare",
            )
        else:
            both = [(served_t[k], shadow_t[k]) for k in shadow_t if k in served_t]
            text = text_diff(both)
    window = Window(_window(base), _window(cand), candidate_weight=0.0)
    a_alpha = spec.alert_alpha()
    alerts = tuple(judge_alert(rule, window, a_alpha) for rule in spec.shadow.alerts)
    times = [r.time for r in base + cand]
    return ShadowReport(
        rollout=rollout,
        pairs=n,
        shadow_calls=shadow_calls,
        unpaired_shadow=unpaired,
        served_baseline=served,
        start=min(times) if times else None,
        end=max(times) if times else None,
        level=level,
        ratios=ratios,
        latency_quantiles=quantiles,
        flips=flips,
        errors=errors,
        finish_reasons=matrix,
        finish_changed=changed,
        text=text,
        alerts=alerts,
        alert_alpha=a_alpha,
        notes=tuple(notes),
    )
