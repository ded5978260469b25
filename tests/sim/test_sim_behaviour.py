"""Model behaviour drawn column-wise matches the profile; regressions move what they name."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_rollout.profile import ModelProfile
from llm_rollout.records import Prices, cost_usd
from llm_rollout.sim.behaviour import (
    FAMILIES,
    Prompts,
    behave,
    cost_columns,
    drift_factors,
)
from llm_rollout.sim.regression import Regression

N = 200_000
NO_DRIFT = np.ones(len(FAMILIES))


DEFAULT = ModelProfile()


def draw(
    profile: ModelProfile = DEFAULT,
    *,
    regressions: tuple[Regression, ...] = (),
    seed: int = 0,
    n: int = N,
    drift: np.ndarray = NO_DRIFT,
    served: bool = True,
):
    rng = np.random.default_rng(seed)
    prompts = Prompts.draw(rng, np.sort(rng.uniform(0, 3600, n)))
    return behave(
        profile,
        prompts,
        rng,
        drift,
        prompt_tokens_mean=profile.prompt_tokens,
        regressions=regressions,
        served=served,
    )


def test_latency_and_ttft_are_log_normal_around_the_profile_medians() -> None:
    p = ModelProfile(latency_ms=900, latency_sigma=0.5, ttft_ms=200, ttft_sigma=0.4)
    b = draw(p)
    ok = ~b.error
    assert np.median(b.latency_ms) == pytest.approx(900, rel=0.02)
    # log-normal P99 = median * exp(z99 * sigma): a heavy right tail
    assert np.quantile(b.latency_ms, 0.99) == pytest.approx(900 * math.exp(2.3263 * 0.5), rel=0.03)
    ttft = b.ttft_ms[ok]
    assert np.median(ttft) == pytest.approx(200, rel=0.02)
    assert np.all(ttft <= b.latency_ms[ok])  # the first token never comes after the last


def test_tokens_rates_and_cost_match_the_profile() -> None:
    p = ModelProfile(
        prompt_tokens=500,
        completion_tokens=150,
        error_rate=0.02,
        refusal_rate=0.03,
        thumbs_down_rate=0.06,
        feedback_rate=0.3,
    )
    b = draw(p)
    ok = ~b.error
    assert b.prompt_tokens.mean() == pytest.approx(500, rel=0.02)
    assert np.median(b.completion_tokens[ok]) == pytest.approx(150, rel=0.02)
    assert b.error.mean() == pytest.approx(0.02, rel=0.08)
    assert b.refused[ok].mean() == pytest.approx(0.03, rel=0.08)
    assert b.negative.mean() == pytest.approx(0.06, rel=0.06)  # per served request
    assert b.rated.mean() == pytest.approx(0.3, rel=0.03)
    assert not np.any(b.negative & ~b.rated)
    # a failed call has no completion and costs nothing
    assert np.all(b.completion_tokens[b.error] == 0)
    assert np.all(b.cost_usd[b.error] == 0)
    assert np.all(np.isnan(b.ttft_ms[b.error]))


def test_shadow_calls_get_no_feedback() -> None:
    b = draw(served=False, n=5000)
    assert not b.rated.any()
    assert not b.negative.any()


@pytest.mark.parametrize("cached_input", [None, 0.075])
def test_cost_columns_equal_the_scalar_cost_formula_exactly(cached_input: float | None) -> None:
    prices = Prices(0.15, 0.6, cached_input)
    p = ModelProfile(cached_fraction=0.3, price_cached_input=cached_input)
    b = draw(p, n=3000)
    ok = ~b.error
    expected = [
        cost_usd(prices, int(pt), int(ct), int(cached))
        for pt, ct, cached in zip(
            b.prompt_tokens[ok], b.completion_tokens[ok], b.cached_tokens[ok], strict=True
        )
    ]
    assert b.cost_usd[ok].tolist() == expected  # bit for bit, not approximately
    got = cost_columns(prices, b.prompt_tokens, b.completion_tokens, b.cached_tokens)
    assert got[ok].tolist() == expected


def test_cost_regression_scales_prices_not_tokens() -> None:
    base, worse = draw(), draw(regressions=(Regression("cost", 1.25),))
    np.testing.assert_array_equal(base.completion_tokens, worse.completion_tokens)
    assert worse.cost_usd.sum() / base.cost_usd.sum() == pytest.approx(1.25, rel=1e-9)


def test_p99_latency_regression_moves_the_tail_only() -> None:
    base, worse = draw(), draw(regressions=(Regression("p99_latency", 2.0),))
    p99 = np.quantile(worse.latency_ms, 0.99) / np.quantile(base.latency_ms, 0.99)
    p50 = np.quantile(worse.latency_ms, 0.5) / np.quantile(base.latency_ms, 0.5)
    p95 = np.quantile(worse.latency_ms, 0.95) / np.quantile(base.latency_ms, 0.95)
    assert p99 == pytest.approx(2.0, rel=0.02)
    assert p50 == pytest.approx(1.0, abs=1e-9)
    assert p95 == pytest.approx(1.0, abs=1e-9)


def test_latency_regression_moves_the_whole_distribution() -> None:
    base, worse = draw(), draw(regressions=(Regression("latency", 1.5),))
    for q in (0.1, 0.5, 0.99):
        ratio = np.quantile(worse.latency_ms, q) / np.quantile(base.latency_ms, q)
        assert ratio == pytest.approx(1.5, rel=1e-9)


@pytest.mark.parametrize(
    ("metric", "column"),
    [("errors", "error"), ("refusals", "refused"), ("thumbs_down", "negative")],
)
def test_rate_regressions_multiply_the_rate(metric: str, column: str) -> None:
    base, worse = draw(), draw(regressions=(Regression(metric, 3.0),), seed=1)
    ratio = getattr(worse, column).mean() / getattr(base, column).mean()
    assert ratio == pytest.approx(3.0, rel=0.1)


def test_output_length_regression_scales_completions_and_cost_follows() -> None:
    base, worse = draw(), draw(regressions=(Regression("output_length", 1.5),))
    ok = ~base.error
    ratio = worse.completion_tokens[ok].mean() / base.completion_tokens[ok].mean()
    assert ratio == pytest.approx(1.5, rel=0.01)
    assert 1.2 < worse.cost_usd.sum() / base.cost_usd.sum() < 1.5


def test_ttft_regression() -> None:
    p = ModelProfile(ttft_ms=100, latency_ms=2000)
    base, worse = draw(p), draw(p, regressions=(Regression("ttft", 2.0),))
    ratio = np.nanmedian(worse.ttft_ms) / np.nanmedian(base.ttft_ms)
    assert ratio == pytest.approx(2.0, rel=0.01)


def test_regression_starts_at_its_time_and_hits_only_its_share_of_prompts() -> None:
    reg = Regression("latency", 2.0, start=1800.0, share=0.25)
    base, worse = draw(), draw(regressions=(reg,))
    changed = worse.latency_ms != base.latency_ms
    assert not changed[base.time < 1800].any()
    assert changed[base.time >= 1800].mean() == pytest.approx(0.25, abs=0.01)


def test_drift_factors_stay_within_the_band_and_move_the_metrics() -> None:
    rng = np.random.default_rng(3)
    factors = np.array([drift_factors(rng, 0.07) for _ in range(2000)])
    assert factors.min() >= 0.93
    assert factors.max() <= 1.07
    assert factors.max() > 1.06  # uniform over the band, not clustered at 1
    up = np.full(len(FAMILIES), 1.07)
    base, drifted = draw(n=50_000), draw(n=50_000, drift=up)
    assert np.median(drifted.latency_ms) / np.median(base.latency_ms) == pytest.approx(1.07)


@given(
    tokens=st.lists(
        st.tuples(st.integers(0, 200_000), st.integers(0, 50_000), st.integers(0, 200_000)),
        min_size=1,
        max_size=20,
    ),
    price_in=st.floats(0, 100, allow_nan=False),
    price_out=st.floats(0, 100, allow_nan=False),
    price_cached=st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),
)
def test_cost_columns_equal_cost_usd_for_any_usage(
    tokens: list[tuple[int, int, int]],
    price_in: float,
    price_out: float,
    price_cached: float | None,
) -> None:
    prices = Prices(price_in, price_out, price_cached)
    prompt, completion, cached = (
        np.array(col, dtype=np.float64) for col in zip(*tokens, strict=True)
    )
    got = cost_columns(prices, prompt, completion, cached).tolist()
    assert got == [cost_usd(prices, p, c, k) for p, c, k in tokens]
