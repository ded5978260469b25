"""The five gates: which statistics each one measures, on which calls.

Each gate's alpha is split evenly over its *configured* statistics (a bound set to None is not
configured), so a verdict's ``alpha`` never depends on the data. A configured TTFT statistic on
a window where neither arm streamed is omitted (non-streaming traffic has no TTFT to judge), but
it keeps its alpha share: the split stays what the spec says.
"""

from __future__ import annotations

import numpy as np

from ..records import Window
from ..spec import (
    CostGate,
    FeedbackGate,
    GateBase,
    GateName,
    LatencyGate,
    Method,
    OutputLengthGate,
    RateGate,
)
from ..verdict import Verdict
from . import measure
from ._validate import validate_window
from .decide import Context, Rule, Stat, decide
from .measure import ok_values

GATE_TYPES: dict[GateName, type[GateBase]] = {
    GateName.LATENCY: LatencyGate,
    GateName.COST: CostGate,
    GateName.ERRORS: RateGate,
    GateName.REFUSALS: RateGate,
    GateName.OUTPUT_LENGTH: OutputLengthGate,
    GateName.FEEDBACK: FeedbackGate,
}


def _latency(gate: LatencyGate, window: Window, alpha: float) -> list[Stat]:
    # Only ok calls: an errored call's latency is how long the failure took (a timeout, or an
    # instant 5xx), not how fast the model answers. Counting it would let a failing candidate
    # look fast, and a timing-out one be punished twice; errors have their own gate.
    b, c = ok_values(window.baseline, "latency_ms"), ok_values(window.candidate, "latency_ms")
    wanted = [
        (f"p{pct}_ratio", pct, bound)
        for pct, bound in ((50, gate.p50), (95, gate.p95), (99, gate.p99))
        if bound is not None
    ]
    count = len(wanted) + (gate.ttft_p99 is not None)
    if count == 0:
        return []
    a = alpha / count
    stats = [
        Stat(
            name,
            f"p{pct} latency ratio",
            measure.quantile_ratio(b, c, pct / 100, a, population="ok calls", quantity="latency"),
            Rule(bound),
            a,
        )
        for name, pct, bound in wanted
    ]
    if gate.ttft_p99 is not None:
        tb = ok_values(window.baseline, "ttft_ms")
        tc = ok_values(window.candidate, "ttft_ms")
        tb, tc = tb[~np.isnan(tb)], tc[~np.isnan(tc)]
        if tb.size or tc.size:
            m = measure.quantile_ratio(
                tb, tc, 0.99, a, population="streamed ok calls", quantity="TTFT"
            )
            stats.append(Stat("ttft_p99_ratio", "p99 TTFT ratio", m, Rule(gate.ttft_p99), a))
    return stats


def _cost(gate: CostGate, window: Window, alpha: float) -> list[Stat]:
    # All served calls: the bill per request, as the design states. An errored call usually
    # costs 0, so a failing candidate looks cheaper; the errors gate is what catches that.
    b, c = window.baseline.cost_usd, window.candidate.cost_usd
    m = measure.mean_ratio(b, c, alpha, population="calls", quantity="cost")
    return [Stat("mean_ratio", "cost ratio", m, Rule(gate.bound), alpha)]


def _errors(gate: RateGate, window: Window, alpha: float) -> list[Stat]:
    b, c = window.baseline, window.candidate
    m = measure.rate_excess(
        measure.errors(b), measure.errors(c), gate.ratio, alpha, population="calls"
    )
    return [Stat("rate_excess", "error rate excess", m, Rule(gate.floor), alpha)]


def _refusals(gate: RateGate, window: Window, alpha: float) -> list[Stat]:
    # Over ok calls: an errored call had no chance to refuse.
    b, c = window.baseline, window.candidate
    m = measure.rate_excess(
        measure.refusals(b), measure.refusals(c), gate.ratio, alpha, population="ok calls"
    )
    return [Stat("rate_excess", "refusal rate excess", m, Rule(gate.floor), alpha)]


def _feedback(gate: RateGate, window: Window, alpha: float) -> list[Stat]:
    # Per served request (errored ones too: a user who got an error may well thumb it down).
    b, c = window.baseline, window.candidate
    m = measure.rate_excess(
        measure.Count(b.negative_feedback, b.n),
        measure.Count(c.negative_feedback, c.n),
        gate.ratio,
        alpha,
        population="served requests",
    )
    return [Stat("rate_excess", "negative feedback rate excess", m, Rule(gate.floor), alpha)]


def _output_length(gate: OutputLengthGate, window: Window, alpha: float) -> list[Stat]:
    # Over ok calls: an errored call has no completion, its 0 tokens would fake a shift.
    b = ok_values(window.baseline, "completion_tokens")
    c = ok_values(window.candidate, "completion_tokens")
    count = sum(x is not None for x in (gate.mean, gate.p99, gate.ks))
    if count == 0:
        return []
    a = alpha / count
    stats = []
    if gate.mean is not None:
        lo, hi = gate.mean
        m = measure.mean_ratio(b, c, a, population="ok calls", quantity="completion tokens")
        stats.append(Stat("mean_ratio", "mean output length ratio", m, Rule(lo, "outside", hi), a))
    if gate.p99 is not None:
        m = measure.quantile_ratio(
            b, c, 0.99, a, population="ok calls", quantity="completion tokens"
        )
        stats.append(Stat("p99_ratio", "p99 output length ratio", m, Rule(gate.p99), a))
    if gate.ks is not None:
        m = measure.ks_distance(b, c, a, population="ok calls")
        stats.append(Stat("ks_distance", "output length KS distance", m, Rule(gate.ks), a))
    return stats


_RATE_GATES = {GateName.ERRORS: _errors, GateName.REFUSALS: _refusals, GateName.FEEDBACK: _feedback}


def measure_gate(name: str, gate: GateBase, window: Window, alpha: float) -> list[Stat]:
    """The statistics of one gate, measured but not yet decided. Assumes a validated window."""
    if name not in GATE_TYPES:
        raise ValueError(f"unknown gate {name!r}; expected one of {', '.join(GATE_TYPES)}")
    key = GateName(name)
    expected = GATE_TYPES[key]
    if not isinstance(gate, expected):
        raise TypeError(f"gate {name!r} needs a {expected.__name__}, got {type(gate).__name__}")
    if isinstance(gate, LatencyGate):
        return _latency(gate, window, alpha)
    if isinstance(gate, CostGate):
        return _cost(gate, window, alpha)
    if isinstance(gate, OutputLengthGate):
        return _output_length(gate, window, alpha)
    if isinstance(gate, RateGate):
        return _RATE_GATES[key](gate, window, alpha)
    raise TypeError(f"gate {name!r}: unsupported config {type(gate).__name__}")


def judge_validated(
    name: str, gate: GateBase, window: Window, alpha: float, method: Method | None
) -> list[Verdict]:
    ctx = Context(name, method or gate.method, gate.critical, gate.min_samples)
    return [decide(ctx, s) for s in measure_gate(name, gate, window, alpha)]


def judge_gate(
    name: str, gate: GateBase, window: Window, alpha: float, method: Method | None = None
) -> list[Verdict]:
    """Judge one gate: one verdict per configured statistic, each at ``alpha / count``.

    ``method`` overrides the gate's own method (for side-by-side comparison). ``gate.enabled``
    is not consulted here (``judge_step`` skips disabled gates). Raises
    :class:`~llm_rollout.errors.InvalidDataError` on NaN / negative / malformed data.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    validate_window(window)
    return judge_validated(name, gate, window, alpha, method)
