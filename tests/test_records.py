from __future__ import annotations

import math

import numpy as np
import pytest

from llm_rollout.errors import InvalidDataError
from llm_rollout.records import (
    Arm,
    ArmWindow,
    Feedback,
    Prices,
    RequestRecord,
    Role,
    Status,
    cost_usd,
)


def record(**kw: object) -> RequestRecord:
    base: dict[str, object] = {
        "request_id": "r1",
        "time": 1.0,
        "rollout_id": "x",
        "step": 0,
        "arm": Arm.BASELINE,
        "role": Role.SERVE,
        "model_digest": "d",
        "status": Status.OK,
        "http_status": 200,
        "latency_ms": 100.0,
    }
    base.update(kw)
    return RequestRecord(**base)  # type: ignore[arg-type]


def test_cost_uses_cached_price_for_cached_prompt_tokens() -> None:
    prices = Prices(input=2.0, output=8.0, cached_input=0.5)
    # 1000 prompt tokens of which 400 cached, 100 completion tokens.
    expected = (600 * 2.0 + 400 * 0.5 + 100 * 8.0) / 1e6
    assert cost_usd(prices, 1000, 100, 400) == pytest.approx(expected)


def test_cost_without_cached_price_bills_cached_tokens_as_input() -> None:
    assert cost_usd(Prices(1.0, 1.0), 100, 0, 100) == pytest.approx(100 / 1e6)


def test_cached_tokens_never_exceed_prompt_tokens() -> None:
    prices = Prices(input=1.0, output=0.0, cached_input=0.0)
    assert cost_usd(prices, 10, 0, 50) == 0.0


def test_negative_tokens_rejected() -> None:
    with pytest.raises(InvalidDataError):
        cost_usd(Prices(1, 1), -1, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latency_ms", -1.0),
        ("latency_ms", math.nan),
        ("ttft_ms", -3.0),
        ("cost_usd", math.inf),
        ("completion_tokens", -2),
        ("prompt_tokens", -1),
    ],
)
def test_impossible_record_values_are_named(field: str, value: object) -> None:
    with pytest.raises(InvalidDataError, match=field):
        record(**{field: value}).validate()


@pytest.mark.parametrize("rating", [1.5, -2.0, math.nan])
def test_feedback_rating_range(rating: float) -> None:
    with pytest.raises(InvalidDataError, match="rating"):
        Feedback("r1", 0.0, rating).validate()


def test_window_from_records_counts_errors_refusals_and_feedback() -> None:
    recs = [
        record(request_id="a", status=Status.ERROR, http_status=502),
        record(request_id="b", refused=True, ttft_ms=20.0),
        record(request_id="c", completion_tokens=7, cost_usd=0.01),
    ]
    w = ArmWindow.from_records(recs, negative_ids=frozenset({"b", "zzz"}))
    assert w.n == 3
    assert w.error.tolist() == [True, False, False]
    assert w.refused.tolist() == [False, True, False]
    assert np.isnan(w.ttft_ms[0])
    assert w.ttft_ms[1] == 20.0
    assert w.negative_feedback == 1
    assert w.completion_tokens[2] == 7


def test_window_validate_rejects_nan_columns() -> None:
    w = ArmWindow.empty()
    w = ArmWindow(
        np.array([1.0, np.nan]),
        np.full(2, np.nan),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2, bool),
        np.zeros(2, bool),
    )
    with pytest.raises(InvalidDataError, match="latency_ms"):
        w.validate()
