"""The shadow report as Markdown (its JSON is :meth:`ShadowReport.to_dict`)."""

from __future__ import annotations

from ..plan.text import num, pct, table
from ..verdict import Outcome
from .shadow_report import ShadowReport


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
