"""The calibration report: a noise profile as Markdown (its JSON is ``NoiseProfile.to_dict``)."""

from __future__ import annotations

from ..plan.bounds import MARGIN
from ..plan.noise import METRICS, NoiseProfile
from ..plan.text import pct, table
from .noise_stats import UNRESOLVED


def render_noise_markdown(profile: NoiseProfile) -> str:
    rows = []
    for metric, m in profile.metrics.items():
        rows.append(
            [
                METRICS.get(metric, metric),
                str(m.windows),
                pct(m.sd),
                pct(m.sampling_sd),
                pct(m.drift_sd) + (" (assumed)" if m.assumed else ""),
                pct(m.max_deviation),
                f"{m.multiplier:.2f}",
                pct(m.floor),
                f"{1 + m.floor + MARGIN:.3f}",
            ]
        )
    levels = ", ".join(f"{k} {v:.4g}" for k, v in profile.baseline.items()) or "not measured"
    lines = [
        "# Noise floor calibration",
        "",
        f"- Source: **{profile.source}**; model `{profile.model or 'not tied to a model'}`; "
        f"{profile.description}.",
        f"- Windows of {profile.window_seconds:g} s; false-alarm target {profile.target:g} per "
        f"bound; drift for the simulator +-{profile.drift:.1%} per arm and window, "
        f"+-{profile.run_variation:.1%} per run.",
        f"- Baseline levels: {levels}.",
        "",
        "Per metric, the arm ratio candidate / baseline of each window (identical models: any "
        "deviation is noise). *sd* is the RMS of its log; *sampling* the part a window's sample "
        "size explains (the gates' intervals cover it); *drift* the systematic rest. A gate bound "
        "at `1 + multiplier x drift` is breached by drift alone in a share *target* of the "
        "windows: that is the noise floor. The planner asks bounds to clear it by "
        f"{MARGIN:.0%}. *(assumed)*: sampling explains {UNRESOLVED:.0%} or more of the "
        "variation, so the drift cannot be measured from these windows; the largest drift of "
        "the continuous metrics (cost, p50 latency, mean tokens) stands in for it.",
        "",
        table(
            [
                "metric",
                "windows",
                "sd (log ratio)",
                "sampling",
                "drift",
                "max deviation",
                "bound multiplier",
                "noise floor",
                "smallest bound",
            ],
            rows,
            "lrrrrrrrr",
        ),
        "",
    ]
    return "\n".join(lines)
