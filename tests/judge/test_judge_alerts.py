"""Shadow alerts: the gate's main statistic against ``above``; FAIL means the alert fires."""

from __future__ import annotations

import pytest
from judge_helpers import arm, lognormal_arm, pair

from llm_rollout.judge import judge_alert
from llm_rollout.spec import AlertRule
from llm_rollout.verdict import Outcome

ALPHA = 0.001


def test_cost_alert_fires_on_a_confident_breach() -> None:
    w = pair(lognormal_arm(3000, 1), lognormal_arm(3000, 2, cost=0.004))
    v = judge_alert(AlertRule(gate="cost", above=1.4), w, ALPHA)
    assert v.outcome is Outcome.FAIL
    assert (v.gate, v.statistic, v.bound, v.method) == ("cost", "mean_ratio", 1.4, "sequential")
    assert v.explanation.startswith("shadow alert: cost ratio ")
    assert v.alpha == ALPHA


def test_cost_alert_stays_quiet_on_aa() -> None:
    w = pair(lognormal_arm(3000, 1), lognormal_arm(3000, 2))
    assert judge_alert(AlertRule(gate="cost", above=1.4), w, ALPHA).outcome is Outcome.PASS


def test_alert_on_small_samples_is_inconclusive_not_fired() -> None:
    w = pair(lognormal_arm(5, 1), lognormal_arm(5, 2, cost=0.004))
    assert judge_alert(AlertRule(gate="cost", above=1.4), w, ALPHA).outcome is Outcome.INCONCLUSIVE


@pytest.mark.parametrize(
    ("gate", "statistic"),
    [
        ("latency", "p99_ratio"),
        ("cost", "mean_ratio"),
        ("errors", "rate_ratio"),
        ("refusals", "rate_ratio"),
        ("output_length", "mean_ratio"),
    ],
)
def test_each_gate_has_a_main_statistic(gate: str, statistic: str) -> None:
    base, cand = (lognormal_arm(500, s, error_rate=0.02, refusal_rate=0.02) for s in (1, 2))
    rule = AlertRule.model_validate({"gate": gate, "above": 3.0})
    v = judge_alert(rule, pair(base, cand), ALPHA)
    assert v.statistic == statistic
    assert v.outcome is not Outcome.FAIL


def test_error_alert_without_errors_is_nodata() -> None:
    w = pair(arm([1.0] * 100), arm([1.0] * 100))
    v = judge_alert(AlertRule(gate="errors", above=2.0), w, ALPHA)
    assert v.outcome is Outcome.NODATA
    assert "0/0" in v.explanation


def test_latency_alert_uses_ok_calls() -> None:
    lat = [100.0 + i for i in range(200)]
    w = pair(arm(lat), arm(lat + [60_000.0] * 100, error=[False] * 200 + [True] * 100))
    v = judge_alert(AlertRule(gate="latency", above=1.5), w, ALPHA)
    assert v.estimate == 1.0
    assert v.n_candidate == 200
