"""Offline analysis of recorded traffic: the noise floor of an A/A split and the shadow report.

    calibrate_store(store, rollout_id) -> NoiseProfile          an A/A split in the store
    calibrate_simulation(profile, rate=600) -> NoiseProfile     a simulated A/A split
    render_noise_markdown(profile)                               the calibration report
    build_report(records, spec, rollout=...) -> ShadowReport    shadow calls paired per request
    render_shadow_markdown(report); report.to_dict()             the shadow report

The noise profile is what ``llm-rollout plan --noise`` reads
(:class:`~llm_rollout.plan.noise.NoiseProfile`); the commands are ``llm-rollout calibrate`` and
``llm-rollout shadow-report``.

Modules: :mod:`.calibrate` (the A/A data from the store or a simulation), :mod:`.noise_stats`
(per-window arm ratios, sampling removed: drift and noise floor), :mod:`.noise_markdown`;
:mod:`.shadow_pairs` (shadow calls paired with served ones, answer texts from the payload log),
:mod:`.shadow_stats` (paired ratio intervals, text comparison), :mod:`.shadow_report` (the
report and its JSON), :mod:`.shadow_markdown`.
"""

from .calibrate import calibrate_simulation, calibrate_store
from .noise_markdown import render_noise_markdown
from .noise_stats import MIN_WINDOW_SAMPLES, UNRESOLVED, WindowStat, summarise, window_stats
from .shadow_markdown import render_shadow_markdown
from .shadow_pairs import pair_records, response_text
from .shadow_report import DEFAULT_LEVEL, Flips, ShadowReport, build_report
from .shadow_stats import MAX_WORDS, PairedRatio, TextDiff, paired_ratio_interval, text_diff

__all__ = [
    "DEFAULT_LEVEL",
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
