"""Records and feedback: append, round trip, and the judging window read."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_rollout.errors import InvalidDataError, StoreError
from llm_rollout.records import Arm, ArmWindow, Feedback, RequestRecord, Role, Status
from llm_rollout.store import Store
from llm_rollout.store._records import check_record_closely, plainly_valid
from llm_rollout.store.migrations import ARM_CODES, ROLE_CODES, STATUS_CODES

MakeRecord = Callable[..., RequestRecord]
T0 = 1_700_000_000.0


def window(
    store: Store,
    role: Role = Role.SERVE,
    *,
    step: int = 0,
    start: float = T0,
    end: float = T0 + 100,
    rollout_id: str = "r1",
) -> tuple[ArmWindow, ArmWindow]:
    return store.read_window(rollout_id, step, role, start, end)


def test_records_round_trip_every_field(store: Store, make_record: MakeRecord) -> None:
    records = [
        make_record("a"),
        make_record(
            "b",
            time=T0 + 1.25,
            rollout_id="r2",
            step=3,
            arm=Arm.CANDIDATE,
            role=Role.SHADOW,
            status=Status.ERROR,
            http_status=502,
            latency_ms=1234.5678,
            ttft_ms=321.25,
            prompt_tokens=400,
            completion_tokens=250,
            cached_tokens=100,
            cost_usd=0.000123456789,
            refused=True,
            finish_reason="content_filter",
            sticky_bucket=9999,
            usage_estimated=True,
            policy_version=42,
        ),
        make_record("c", status=Status.CLIENT_ERROR, http_status=400, step=-1),
    ]
    store.append_records(records)
    assert store.read_records() == records
    assert store.read_records("r2") == [records[1]]


def test_a_retried_batch_is_not_counted_twice(store: Store, make_record: MakeRecord) -> None:
    batch = [make_record(f"id{i}", time=T0 + i) for i in range(5)]
    store.append_records(batch)
    store.append_records(batch)
    assert len(store.read_records()) == 5
    assert window(store)[0].n == 5


def test_serve_and_shadow_records_may_share_a_request_id(
    store: Store, make_record: MakeRecord
) -> None:
    served = make_record("same")
    shadow = make_record("same", arm=Arm.CANDIDATE, role=Role.SHADOW)
    store.append_records([served, shadow])
    assert store.read_records() == [served, shadow]


def test_an_empty_batch_is_a_no_op(store: Store) -> None:
    store.append_records([])
    assert store.read_records() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"latency_ms": math.nan}, "latency_ms must be finite"),
        ({"latency_ms": -1.0}, "latency_ms must be finite"),
        ({"cost_usd": math.inf}, "cost_usd must be finite"),
        ({"ttft_ms": math.nan}, "ttft_ms must be finite"),
        ({"completion_tokens": -5}, "completion_tokens must be >= 0"),
        ({"time": math.nan}, "time must be finite"),
        ({"arm": "control"}, "arm must be one of baseline, candidate"),
        ({"role": "mirror"}, "role must be one of serve, shadow"),
        ({"status": "boom"}, "status must be one of ok, error, client_error"),
        ({"step": 1.5}, "step must be an integer"),
        ({"request_id": ""}, "request_id must be a non-empty string"),
        ({"rollout_id": None}, "rollout_id must be a string"),
        ({"model_digest": 7}, "model_digest must be a string"),
    ],
)
def test_an_invalid_record_rejects_the_whole_batch_before_writing(
    store: Store, make_record: MakeRecord, fields: dict[str, object], message: str
) -> None:
    bad = {"request_id": "bad", **fields}
    batch = [make_record("good-1"), make_record(**bad), make_record("good-2")]
    with pytest.raises(InvalidDataError, match=message):
        store.append_records(batch)
    assert store.read_records() == []


def test_a_failure_inside_the_write_rolls_the_batch_back(
    store: Store, make_record: MakeRecord
) -> None:
    # finish_reason is not checked up front; SQLite refuses to bind a list mid-batch.
    batch = [make_record("good-1"), make_record("bad", finish_reason=["stop"])]
    with pytest.raises(StoreError, match="append 2 records"):
        store.append_records(batch)
    assert store.read_records() == []
    # The store still works, and the rolled-back batch left no stale interned names behind.
    store.append_records([make_record("good-1")])
    assert store.read_records() == [make_record("good-1")]
    assert window(store)[0].n == 1


def test_the_serve_window_holds_each_arms_served_calls(
    store: Store, make_record: MakeRecord
) -> None:
    store.append_records(
        [
            make_record("b1", time=T0, latency_ms=100.0, ttft_ms=40.0, completion_tokens=10),
            make_record("b2", time=T0 + 1, latency_ms=200.0, status=Status.ERROR, cost_usd=0.5),
            make_record("b3", time=T0 + 2, latency_ms=300.0, status=Status.CLIENT_ERROR),
            make_record("c1", time=T0 + 3, arm=Arm.CANDIDATE, latency_ms=400.0, refused=True),
            # excluded: shadow role, another step, another rollout, outside [start, end)
            make_record("s1", time=T0 + 4, arm=Arm.CANDIDATE, role=Role.SHADOW),
            make_record("x1", time=T0 + 5, step=1),
            make_record("x2", time=T0 + 6, rollout_id="r2"),
            make_record("x3", time=T0 - 0.001),
            make_record("x4", time=T0 + 100),  # end is exclusive
        ]
    )
    base, cand = window(store)
    np.testing.assert_array_equal(base.latency_ms, [100.0, 200.0, 300.0])
    np.testing.assert_array_equal(base.ttft_ms, [40.0, math.nan, math.nan])
    np.testing.assert_array_equal(base.cost_usd, [0.0, 0.5, 0.0])
    np.testing.assert_array_equal(base.completion_tokens, [10.0, 0.0, 0.0])
    np.testing.assert_array_equal(base.error, [False, True, False])  # client errors are not
    np.testing.assert_array_equal(base.refused, [False, False, False])
    np.testing.assert_array_equal(cand.latency_ms, [400.0])
    np.testing.assert_array_equal(cand.refused, [True])
    assert base.latency_ms.dtype == np.float64
    assert base.error.dtype == np.bool_
    assert base.latency_ms.flags.c_contiguous


def test_the_shadow_window_compares_served_baseline_with_shadow_candidate(
    store: Store, make_record: MakeRecord
) -> None:
    store.append_records(
        [
            make_record("b1", time=T0, step=-1, latency_ms=100.0),
            make_record(
                "b1", time=T0, step=-1, arm=Arm.CANDIDATE, role=Role.SHADOW, latency_ms=1.0
            ),
            make_record("c-served", time=T0, step=-1, arm=Arm.CANDIDATE, latency_ms=7.0),
        ]
    )
    assert store.append_feedback(Feedback("b1", T0 + 1, -1.0)) is True
    base, cand = window(store, Role.SHADOW, step=-1)
    np.testing.assert_array_equal(base.latency_ms, [100.0])
    np.testing.assert_array_equal(cand.latency_ms, [1.0])
    assert (base.negative_feedback, base.feedback_count) == (1, 1)
    assert (cand.negative_feedback, cand.feedback_count) == (0, 0)  # no user saw shadow output


def test_an_unknown_rollout_reads_empty(store: Store, make_record: MakeRecord) -> None:
    store.append_records([make_record("a")])
    base, cand = window(store, rollout_id="nope")
    assert (base.n, cand.n) == (0, 0)


def test_an_empty_window_of_a_known_rollout(store: Store, make_record: MakeRecord) -> None:
    store.append_records([make_record("a")])
    base, cand = window(store, start=T0 + 10)
    assert (base.n, cand.n) == (0, 0)
    assert base.latency_ms.dtype == np.float64


def test_feedback_only_for_known_served_requests(store: Store, make_record: MakeRecord) -> None:
    store.append_records([make_record("served"), make_record("shadow-only", role=Role.SHADOW)])
    assert store.append_feedback(Feedback("unknown", T0, -1.0)) is False
    assert store.append_feedback(Feedback("shadow-only", T0, -1.0)) is False
    assert store.get_feedback("unknown") is None
    assert store.get_feedback("shadow-only") is None
    assert store.append_feedback(Feedback("served", T0, -1.0, "wrong answer")) is True
    assert store.get_feedback("served") == Feedback("served", T0, -1.0, "wrong answer")


def test_feedback_last_rating_wins_and_counts_once(store: Store, make_record: MakeRecord) -> None:
    store.append_records([make_record("a"), make_record("b"), make_record("c")])
    store.append_feedback(Feedback("a", T0 + 1, -1.0))
    store.append_feedback(Feedback("a", T0 + 2, -0.5))
    store.append_feedback(Feedback("b", T0 + 1, -1.0))
    assert window(store)[0].negative_feedback == 2
    assert window(store)[0].feedback_count == 2
    store.append_feedback(Feedback("b", T0 + 3, 1.0))  # changed their mind
    base, _ = window(store)
    assert (base.negative_feedback, base.feedback_count) == (1, 2)


def test_older_feedback_does_not_override_newer(store: Store, make_record: MakeRecord) -> None:
    store.append_records([make_record("a")])
    store.append_feedback(Feedback("a", T0 + 5, 1.0))
    assert store.append_feedback(Feedback("a", T0 + 4, -1.0)) is True  # known id, but stale
    assert store.get_feedback("a") == Feedback("a", T0 + 5, 1.0)
    assert window(store)[0].negative_feedback == 0
    store.append_feedback(Feedback("a", T0 + 5, -1.0))  # same time: the later write wins
    assert window(store)[0].negative_feedback == 1


def test_zero_rating_is_feedback_but_not_negative(store: Store, make_record: MakeRecord) -> None:
    store.append_records([make_record("a", arm=Arm.CANDIDATE)])
    store.append_feedback(Feedback("a", T0, 0.0))
    _, cand = window(store)
    assert (cand.negative_feedback, cand.feedback_count) == (0, 1)


@pytest.mark.parametrize("rating", [math.nan, -1.5, 2.0])
def test_invalid_feedback_is_rejected(store: Store, make_record: MakeRecord, rating: float) -> None:
    store.append_records([make_record("a")])
    with pytest.raises(InvalidDataError, match="rating"):
        store.append_feedback(Feedback("a", T0, rating))
    assert store.get_feedback("a") is None


def test_a_larger_window_matches_numpy(store: Store, make_record: MakeRecord) -> None:
    rng = np.random.default_rng(3)
    n = 3000
    cand = rng.random(n) < 0.1
    lat = rng.lognormal(6.5, 0.5, n)
    err = rng.random(n) < 0.05
    records = [
        make_record(
            f"r{i}",
            time=T0 + i * 0.01,
            arm=Arm.CANDIDATE if cand[i] else Arm.BASELINE,
            latency_ms=float(lat[i]),
            status=Status.ERROR if err[i] else Status.OK,
        )
        for i in range(n)
    ]
    store.append_records(records)
    negative = records[::7]
    for r in negative:
        store.append_feedback(Feedback(r.request_id, r.time + 1, -1.0))
    base, c = window(store)
    np.testing.assert_array_equal(c.latency_ms, lat[cand])
    np.testing.assert_array_equal(base.latency_ms, lat[~cand])
    np.testing.assert_array_equal(base.error, err[~cand])
    assert c.negative_feedback == sum(1 for r in negative if r.arm == Arm.CANDIDATE)
    assert base.negative_feedback + c.negative_feedback == len(negative)
    base.validate()
    c.validate()


def test_records_keep_their_strings_exactly(store: Store, make_record: MakeRecord) -> None:
    odd = make_record("ü-Ωmega 🚀", rollout_id="rollout/with spaces", model_digest="sha:x")
    store.append_records([odd, replace(odd, request_id="second")])
    assert store.read_records("rollout/with spaces") == [odd, replace(odd, request_id="second")]


def test_edge_values_next_to_the_null_encoding_round_trip(
    store: Store, make_record: MakeRecord
) -> None:
    # empty ttft_ms / sticky_bucket travel as -1 (which validation rules out) and come back
    # as None; the smallest real values must not be mistaken for them
    records = [
        make_record("zero", ttft_ms=0.0, sticky_bucket=0),
        make_record("none", ttft_ms=None, sticky_bucket=None),
    ]
    store.append_records(records)
    assert store.read_records() == records


def test_a_negative_sticky_bucket_is_refused(store: Store, make_record: MakeRecord) -> None:
    with pytest.raises(InvalidDataError, match="sticky_bucket must be empty or an integer"):
        store.append_records([make_record("b", sticky_bucket=-1)])
    assert store.read_records() == []


def test_every_arm_role_and_status_has_a_stored_code() -> None:
    # the quick check accepts any member of these enums, so each must have a code
    assert set(ARM_CODES) == set(Arm)
    assert set(ROLE_CODES) == set(Role)
    assert set(STATUS_CODES) == set(Status)


FIELD_VALUES: dict[str, list[object]] = {
    "request_id": ["r", "", None, 3],
    "time": [T0, 0.0, -1.0, math.nan, math.inf, 5, "t"],
    "rollout_id": ["r1", "", None],
    "step": [0, -1, 1.5, True],
    "arm": [Arm.BASELINE, Arm.CANDIDATE, "baseline", "control", None],
    "role": [Role.SERVE, Role.SHADOW, "mirror"],
    "status": [Status.OK, Status.CLIENT_ERROR, "boom"],
    "model_digest": ["d", 7],
    "http_status": [200, 2.5],
    "latency_ms": [1.5, 0.0, -0.1, math.nan, math.inf, 3],
    "ttft_ms": [None, 0.0, 2.5, -1.0, math.nan],
    "prompt_tokens": [0, 5, -1, 1.0],
    "completion_tokens": [0, 5, -1],
    "cached_tokens": [0, 2, -3],
    "cost_usd": [0.0, 1e-5, -1e-9, math.inf, 0],
    "sticky_bucket": [None, 0, 9999, -1, 2.5],
}


@given(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in FIELD_VALUES.items()}))
def test_the_quick_check_never_passes_what_the_close_check_refuses(
    fields: dict[str, object],
) -> None:
    record = RequestRecord(**fields)  # type: ignore[arg-type]
    if plainly_valid(record):
        check_record_closely(record)  # must not raise
    try:
        check_record_closely(record)
    except (InvalidDataError, TypeError):
        assert not plainly_valid(record)
