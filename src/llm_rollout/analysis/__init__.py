"""Offline analysis of recorded traffic: the noise floor of an A/A split and the shadow report.

    calibrate_store(store, rollout_id) -> NoiseProfile          an A/A split in the store
    calibrate_simulation(profile, rate=600) -> NoiseProfile     a simulated A/A split
    render_noise_markdown(profile)                               the calibration report
    build_report(records, spec, rollout=...) -> ShadowReport    shadow calls paired per request
    render_shadow_markdown(report); report.to_dict()             the shadow report

The noise profile is what ``llm-rollout plan --noise`` reads
(:class:`~llm_rollout.plan.noise.NoiseProfile`); the commands are ``llm-rollout calibrate`` and
``llm-rollout shadow-report``.
"""

from .calibrate import calibrate_simulation, calibrate_store
from .noise_markdown import MARGIN, render_noise_markdown
from .noise_stats import MIN_WINDOW_SAMPLES, UNRESOLVED, WindowStat, summarise, window_stats
from .shadow_report import (
    DEFAULT_LEVEL,
    MAX_WORDS,
    Flips,
    PairedRatio,
    ShadowReport,
    TextDiff,
    build_report,
    pair_records,
    paired_ratio_interval,
    render_shadow_markdown,
    response_text,
    text_diff,
)

__all__ = [
    "DEFAULT_LEVEL",
    "MARGIN",
    "MAX_WORDS",
    "MIN_WINDOW_SAMPLES",
    "UNRESOLVED",
    "Flips",
    "PairedRatio",
    "ShadowReport",
    "TextDiff",
    "WindowStat",
    "build_report",
    "calibrate_simulation",
    "calibrate_store",
    "pair_records",
    "paired_ratio_interval",
    "render_noise_markdown",
    "render_shadow_markdown",
    "response_text",
    "summarise",
    "text_diff",
    "window_stats",
]
