"""The simulator: a virtual clock, synthetic traffic and model behaviour, injected regressions
and LLM non-determinism, driving the real controller and judge (see :mod:`.engine`).

    simulate(scenario, method=None, seed=None) -> RunResult          one rollout
    monte_carlo(scenario, runs, methods) -> [MonteCarloSummary]       N seeded runs, in parallel
    load_scenario(path) / parse_scenario(doc) -> Scenario             scenario files
    parse_regression("cost=1.25@30m") -> Regression                   injected regressions

Everything is generated column-wise (one numpy array per metric per check interval), so a
million simulated requests take seconds, not minutes.
"""

from .behaviour import FAMILIES, Batch, Prompts, behave, cost_columns, drift_factors
from .engine import Check, RunResult, simulate
from .montecarlo import MonteCarloSummary, Rate, monte_carlo, summarise
from .regression import ALIASES, METRICS, Regression, canonical_metric, parse_regression
from .report import halt_headline, stage_label
from .scenario import (
    PLACEHOLDER_BASELINE,
    PLACEHOLDER_CANDIDATE,
    Scenario,
    default_spec,
    load_scenario,
    parse_scenario,
)
from .traffic import Traffic, UserBuckets, user_key

__all__ = [
    "ALIASES",
    "FAMILIES",
    "METRICS",
    "PLACEHOLDER_BASELINE",
    "PLACEHOLDER_CANDIDATE",
    "Batch",
    "Check",
    "MonteCarloSummary",
    "Prompts",
    "Rate",
    "Regression",
    "RunResult",
    "Scenario",
    "Traffic",
    "UserBuckets",
    "behave",
    "canonical_metric",
    "cost_columns",
    "default_spec",
    "drift_factors",
    "halt_headline",
    "load_scenario",
    "monte_carlo",
    "parse_regression",
    "parse_scenario",
    "simulate",
    "stage_label",
    "summarise",
    "user_key",
]
