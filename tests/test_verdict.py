"""Verdicts and step decisions survive their JSON form: from_dict inverts to_dict."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from llm_rollout.verdict import Outcome, StepDecision, Verdict

finite = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(max_size=12)
counts = st.integers(min_value=0, max_value=10**7)


@st.composite
def verdicts(draw: st.DrawFn) -> Verdict:
    """Every value a judge writes, with the non-finite ones JSON stores as null."""
    band = draw(st.booleans())
    return Verdict(
        gate=draw(text),
        statistic=draw(text),
        outcome=draw(st.sampled_from(Outcome)),
        method=draw(st.sampled_from(["sequential", "threshold"])),
        estimate=draw(finite | st.just(math.nan)),
        lo=draw(finite | st.just(-math.inf)),
        hi=draw(finite | st.just(math.inf)),
        bound=draw(finite | st.just(math.inf)),
        n_baseline=draw(counts),
        n_candidate=draw(counts),
        explanation=draw(text),
        critical=draw(st.booleans()),
        bound_hi=draw(finite) if band else None,
        direction="outside" if band else "above",
        alpha=draw(st.floats(min_value=0.0, max_value=1.0)),
    )


decisions = st.builds(
    StepDecision,
    outcome=st.sampled_from(Outcome),
    verdicts=st.lists(verdicts(), max_size=4).map(tuple),
    srm=st.none() | verdicts(),
    reasons=st.lists(text, max_size=3).map(tuple),
)


def through_json(doc: dict[str, Any]) -> Any:
    return json.loads(json.dumps(doc, allow_nan=False))  # strict JSON: no NaN or inf


def same(a: Verdict, b: Verdict) -> bool:
    """Equal field by field, NaN equal to NaN."""
    return replace(a, estimate=0.0) == replace(b, estimate=0.0) and (
        a.estimate == b.estimate or (math.isnan(a.estimate) and math.isnan(b.estimate))
    )


@given(verdicts())
def test_verdict_round_trips_through_json(v: Verdict) -> None:
    back = Verdict.from_dict(through_json(v.to_dict()))
    assert same(back, v)


@given(decisions)
def test_step_decision_round_trips_through_json(d: StepDecision) -> None:
    back = StepDecision.from_dict(through_json(d.to_dict()))
    assert back.outcome is d.outcome
    assert back.reasons == d.reasons
    assert len(back.verdicts) == len(d.verdicts)
    assert all(same(x, y) for x, y in zip(back.verdicts, d.verdicts, strict=True))
    assert (back.srm is None) == (d.srm is None)
    assert back.srm is None or d.srm is None or same(back.srm, d.srm)


def test_null_sides_come_back_unbounded() -> None:
    v = Verdict(
        gate="latency",
        statistic="p99_ratio",
        outcome=Outcome.NODATA,
        method="sequential",
        estimate=math.nan,
        lo=-math.inf,
        hi=math.inf,
        bound=1.5,
        n_baseline=0,
        n_candidate=3,
        explanation="no data",
    )
    doc = v.to_dict()
    assert [doc[k] for k in ("estimate", "lo", "hi", "bound_hi")] == [None, None, None, None]
    back = Verdict.from_dict(doc)
    assert math.isnan(back.estimate)
    assert (back.lo, back.hi, back.bound, back.bound_hi) == (-math.inf, math.inf, 1.5, None)
    assert Verdict.from_dict({**doc, "bound": None}).bound == math.inf
