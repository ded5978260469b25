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

import difflib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidDataError
from ..judge import judge_alert
from ..plan.text import num, pct, table
from ..records import Arm, ArmWindow, FloatArray, RequestRecord, Role, Status, Window
from ..sim.engine import alert_alpha
from ..spec import RolloutSpec
from ..stats import mean_cs, rate_cs
from ..verdict import Outcome, Verdict

DEFAULT_LEVEL = 0.95
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
class Flips:
    pairs: int  # pairs where both calls succeeded
    both: int
    baseline_only: int  # the baseline refused, the candidate answered
    candidate_only: int  # the candidate refused, the baseline answered


@dataclass(frozen=True)
class TextDiff:
    available: bool
    reason: str = ""
    pairs: int = 0
    identical: float = 0.0  # share of pairs with the same text
    length_ratio: float = math.nan  # mean candidate length / mean baseline length (characters)
    similarity: float = math.nan  # mean difflib ratio over words
    similarity_p10: float = math.nan


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


# --- pairing ----------------------------------------------------------------------------------


def pair_records(
    records: Iterable[RequestRecord],
) -> tuple[list[tuple[RequestRecord, RequestRecord]], int, int, int]:
    """(pairs of (served baseline, shadow), shadow calls, unpaired shadow calls, served
    baseline calls). Records are matched on request id."""
    served: dict[str, RequestRecord] = {}
    shadows: list[RequestRecord] = []
    for r in records:
        if r.role is Role.SHADOW:
            shadows.append(r)
        elif r.arm is Arm.BASELINE:
            served[r.request_id] = r
    pairs = [(served[s.request_id], s) for s in shadows if s.request_id in served]
    return pairs, len(shadows), len(shadows) - len(pairs), len(served)


# --- statistics -------------------------------------------------------------------------------


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


def _ratio(metric: str, b: FloatArray, c: FloatArray, alpha: float) -> PairedRatio:
    if b.size == 0:
        return PairedRatio(metric, 0, math.nan, math.nan, math.nan, 0.0, math.inf)
    mb, mc = float(b.mean()), float(c.mean())
    ratio = mc / mb if mb > 0 else math.inf
    lo, hi = paired_ratio_interval(b, c, alpha)
    return PairedRatio(metric, int(b.size), mb, mc, ratio, lo, hi)


def _window(records: Sequence[RequestRecord]) -> ArmWindow:
    return ArmWindow.from_records(records)


def _texts(payloads: Path | None, ids: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    served: dict[str, str] = {}
    shadow: dict[str, str] = {}
    if payloads is None or not payloads.is_dir():
        return served, shadow
    for path in sorted(payloads.glob("*.jsonl")):
        with path.open() as f:
            for line in f:
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError:
                    continue
                rid = doc.get("request_id")
                if rid not in ids:
                    continue
                text = response_text(str(doc.get("response", "")))
                target = shadow if doc.get("role") == Role.SHADOW.value else served
                target[rid] = text
    return served, shadow


def response_text(body: str) -> str:
    """The answer's text from a stored response: an OpenAI JSON body or plain streamed text."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        return body
    if not isinstance(doc, dict):
        return body
    parts = []
    for choice in doc.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") or choice.get("delta") or {}
        content = message.get("content") if isinstance(message, dict) else None
        parts.append(str(content if content is not None else choice.get("text") or ""))
    return "".join(parts)


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
        _ratio("cost", *col(pairs, "cost_usd"), alpha),
        _ratio("completion_tokens", *col(both_ok, "completion_tokens"), alpha),
        _ratio("latency", *col(both_ok, "latency_ms"), alpha),
        _ratio("ttft", *col(streamed, "ttft_ms"), alpha),
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
        served_t, shadow_t = _texts(payloads, {b.request_id for b in base})
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
    a_alpha = alert_alpha(spec)
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


# --- Markdown ---------------------------------------------------------------------------------


def _share(k: int, n: int) -> float | None:
    return k / n if n else None


def render_shadow_markdown(report: ShadowReport) -> str:
    level = f"{report.level:.0%}"
    fired = report.fired
    headline = (
        "**ALERT: " + "; ".join(v.explanation.removeprefix("shadow alert: ") for v in fired) + "**"
        if fired
        else "No alert fired."
    )
    ratio_rows = [
        [
            r.metric,
            f"{r.pairs:,}",
            num(r.baseline_mean, 4),
            num(r.candidate_mean, 4),
            num(r.ratio, 4),
            f"[{num(r.lo, 4)}, {num(r.hi, 4)}]",
        ]
        for r in report.ratios
    ]
    alert_rows = [
        [
            v.gate,
            v.outcome.value + (" (fires)" if v.outcome is Outcome.FAIL else ""),
            num(v.estimate, 4),
            f"[{num(v.lo, 4)}, {num(v.hi, 4)}]",
            f"> {num(v.bound, 4)}",
            v.explanation.removeprefix("shadow alert: "),
        ]
        for v in report.alerts
    ]
    f = report.flips
    reasons = sorted({k for row in report.finish_reasons.values() for k in row})
    finish_rows = [
        [b, *(str(report.finish_reasons[b].get(c, 0)) for c in reasons)]
        for b in sorted(report.finish_reasons)
    ]
    e = report.errors
    lines = [
        f"# Shadow report: {report.rollout}",
        "",
        headline,
        "",
        f"- {report.pairs:,} shadow calls paired with the served baseline call of the same "
        f"request ({report.shadow_calls:,} shadow calls, {report.unpaired_shadow:,} unpaired; "
        f"{report.served_baseline:,} served baseline calls in all).",
        f"- Intervals: {level} anytime-valid (paired, Fieller on the mean CS of the differences).",
        "",
        "## Paired ratios (candidate / baseline)",
        "",
        table(
            ["metric", "pairs", "baseline mean", "candidate mean", "ratio", f"{level} interval"],
            ratio_rows,
            "lrrrrl",
        ),
        "",
        f"Latency p50 {num(report.latency_quantiles['p50'][0], 4)} -> "
        f"{num(report.latency_quantiles['p50'][1], 4)} ms, p99 "
        f"{num(report.latency_quantiles['p99'][0], 4)} -> "
        f"{num(report.latency_quantiles['p99'][1], 4)} ms (both calls ok).",
        "",
        "## Alert rules of the spec",
        "",
        f"Judged as the controller judges them (sequential margin rule, alpha "
        f"{report.alert_alpha:.3g} per rule) on the paired calls.",
        "",
        table(["gate", "verdict", "estimate", "interval", "fires when", "evidence"], alert_rows)
        if alert_rows
        else "The spec has no shadow alert rules.",
        "",
        "## Refusals, errors, finish reasons",
        "",
        f"- Refusal flips over {f.pairs:,} pairs where both calls succeeded: baseline refused and "
        f"candidate answered **{f.baseline_only:,}** ({pct(_share(f.baseline_only, f.pairs))}), "
        f"candidate refused and baseline answered **{f.candidate_only:,}** "
        f"({pct(_share(f.candidate_only, f.pairs))}), both refused {f.both:,}.",
        f"- Errors: baseline {e.get('baseline', 0):,}, candidate {e.get('candidate', 0):,} of "
        f"{e.get('pairs', 0):,} pairs"
        + (
            f" ({pct(e['baseline_rate'], 2)} vs {pct(e['candidate_rate'], 2)})"
            if "baseline_rate" in e
            else ""
        )
        + ".",
        f"- Finish reason changed in {pct(report.finish_changed)} of the pairs "
        "(rows: baseline, columns: candidate):",
        "",
        table(["baseline / candidate", *reasons], finish_rows) if finish_rows else "(no pairs)",
        "",
        "## Text",
        "",
    ]
    t = report.text
    if t.available:
        lines.append(
            f"{t.pairs:,} pairs with both outputs: identical {pct(t.identical)}, length "
            f"{num(t.length_ratio, 3)}x, lexical similarity {num(t.similarity, 3)} (mean difflib "
            f"ratio over words; 10% of pairs below {num(t.similarity_p10, 3)})."
        )
    else:
        lines.append(f"Not available: {t.reason}.")
    lines += [""] + [f"- {n}" for n in report.notes]
    return "\n".join(lines).rstrip() + "\n"
