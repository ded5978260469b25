"""Shadow alerts: one gate's main statistic confidently above ``rule.above`` stops the rollout.

The main statistic of each gate, candidate / baseline, always judged with the sequential
margin rule (an alert must not fire on noise):

    latency        p99 latency ratio, ok calls
    cost           mean cost ratio, all calls
    errors         error rate ratio, all calls
    refusals       refusal rate ratio, ok calls
    output_length  mean completion-token ratio, ok calls

Rates use their plain ratio here (the alert rule has one number, not ratio + floor); both
rates 0 is NODATA, which never fires. The verdict's FAIL means "the alert fires".
"""

from __future__ import annotations

from ..records import Window
from ..spec import AlertRule, GateName, Method
from ..verdict import Verdict
from . import measure
from ._validate import validate_window
from .decide import Context, Measurement, Rule, Stat, decide
from .measure import ok_values


def _main_statistic(gate: str, window: Window, alpha: float) -> tuple[str, str, Measurement]:
    b, c = window.baseline, window.candidate
    if gate == GateName.LATENCY:
        lb, lc = ok_values(b, "latency_ms"), ok_values(c, "latency_ms")
        m = measure.quantile_ratio(lb, lc, 0.99, alpha, population="ok calls", quantity="latency")
        return "p99_ratio", "p99 latency ratio", m
    if gate == GateName.COST:
        m = measure.mean_ratio(b.cost_usd, c.cost_usd, alpha, population="calls", quantity="cost")
        return "mean_ratio", "cost ratio", m
    if gate == GateName.ERRORS:
        m = measure.rate_ratio(
            measure.errors(b), measure.errors(c), alpha, population="calls", quantity="error rate"
        )
        return "rate_ratio", "error rate ratio", m
    if gate == GateName.REFUSALS:
        m = measure.rate_ratio(
            measure.refusals(b),
            measure.refusals(c),
            alpha,
            population="ok calls",
            quantity="refusal rate",
        )
        return "rate_ratio", "refusal rate ratio", m
    if gate == GateName.OUTPUT_LENGTH:
        tb, tc = ok_values(b, "completion_tokens"), ok_values(c, "completion_tokens")
        m = measure.mean_ratio(tb, tc, alpha, population="ok calls", quantity="completion tokens")
        return "mean_ratio", "mean output length ratio", m
    raise ValueError(f"no shadow alert statistic for gate {gate!r}")


def judge_alert(rule: AlertRule, window: Window, alpha: float) -> Verdict:
    """FAIL = the alert fires: the statistic's whole interval lies above ``rule.above``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    validate_window(window)
    statistic, label, m = _main_statistic(rule.gate, window, alpha)
    ctx = Context(rule.gate, Method.SEQUENTIAL, critical=True, min_samples=1)
    return decide(ctx, Stat(statistic, f"shadow alert: {label}", m, Rule(rule.above), alpha))
