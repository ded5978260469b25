"""The window-source contract, run against every kind of source (see ``sources_helpers.LOADERS``):
each must return exactly the observations a query names, computed here from the history
itself, so a source that drops, adds or mixes up observations fails."""

from __future__ import annotations

import numpy as np
import pytest
from sources_helpers import LOADERS, ROLLOUT, T0

from llm_rollout.errors import SourceError
from llm_rollout.records import Arm, ArmWindow, Feedback, RequestRecord, Role, Status, WindowQuery
from llm_rollout.sources import KINDS, WindowSource, open_source
from llm_rollout.store.sqlite import MEMORY, SQLiteStore

Traffic = tuple[list[RequestRecord], list[Feedback]]


def _expected(traffic: Traffic, q: WindowQuery, arm: Arm, role: Role) -> list[RequestRecord]:
    records, _ = traffic
    return [
        r
        for r in records
        if (r.rollout_id, r.step, r.arm, r.role) == (q.rollout_id, q.step, arm, role)
        and q.start <= r.time < q.end
    ]


def _assert_arm(got: ArmWindow, rows: list[RequestRecord], feedback: list[Feedback]) -> None:
    assert got.n == len(rows)
    np.testing.assert_array_equal(np.sort(got.latency_ms), np.sort([r.latency_ms for r in rows]))
    np.testing.assert_array_equal(np.sort(got.cost_usd), np.sort([r.cost_usd for r in rows]))
    np.testing.assert_array_equal(
        np.sort(got.completion_tokens), np.sort([float(r.completion_tokens) for r in rows])
    )
    ttft = [r.ttft_ms for r in rows if r.ttft_ms is not None]
    np.testing.assert_array_equal(np.sort(got.ttft_ms[~np.isnan(got.ttft_ms)]), np.sort(ttft))
    assert int(got.error.sum()) == sum(r.status is Status.ERROR for r in rows)
    assert int(got.refused.sum()) == sum(r.refused for r in rows)
    served = {r.request_id for r in rows if r.role is Role.SERVE}
    rated = [f for f in feedback if f.request_id in served]
    assert got.feedback_count == len(rated)
    assert got.negative_feedback == sum(f.negative for f in rated)
    assert got.unit is None or got.unit.shape == got.latency_ms.shape


QUERIES = [
    WindowQuery(ROLLOUT, 0, Role.SERVE, T0, T0 + 1000, 0.1),
    WindowQuery(ROLLOUT, 1, Role.SERVE, T0 + 20, T0 + 150, 0.25),
    WindowQuery(ROLLOUT, -1, Role.SHADOW, T0, T0 + 1000, 0.0),
    WindowQuery(ROLLOUT, 0, Role.SHADOW, T0 + 50.5, T0 + 99.5, 0.0),
    WindowQuery("other", 1, Role.SERVE, T0, T0 + 120, 0.5),
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.rollout_id}-{q.step}-{q.role}")
def test_a_window_holds_exactly_the_observations_its_query_names(
    source: WindowSource, traffic: Traffic, query: WindowQuery
) -> None:
    window = source.read_window(query)
    assert (window.candidate_weight, window.start, window.end) == (
        query.candidate_weight,
        query.start,
        query.end,
    )
    _, feedback = traffic
    baseline = _expected(traffic, query, Arm.BASELINE, Role.SERVE)
    candidate = _expected(traffic, query, Arm.CANDIDATE, query.role)
    assert baseline
    assert candidate
    _assert_arm(window.baseline.validate(), baseline, feedback)
    _assert_arm(window.candidate.validate(), candidate, feedback)


def test_the_start_is_inclusive_and_the_end_exclusive(source: WindowSource) -> None:
    # Records are 0.5 s apart from T0: [T0, T0 + 0.5) holds the first call and nothing else.
    first = WindowQuery(ROLLOUT, 0, Role.SERVE, T0, T0 + 0.5, 0.5)
    everything = WindowQuery(ROLLOUT, 0, Role.SERVE, T0, T0 + 1e6, 0.5)
    both = source.read_window(first)
    assert both.baseline.n + both.candidate.n <= 1
    empty = source.read_window(WindowQuery(ROLLOUT, 0, Role.SERVE, T0 + 1e6, T0 + 1e6, 0.5))
    assert (empty.baseline.n, empty.candidate.n) == (0, 0)
    assert source.read_window(everything).baseline.n > 0


def test_an_unknown_rollout_is_two_empty_arms(source: WindowSource) -> None:
    window = source.read_window(WindowQuery("nobody", 0, Role.SERVE, T0, T0 + 1e6, 0.3))
    assert (window.baseline.n, window.candidate.n) == (0, 0)
    assert window.candidate_weight == 0.3


def test_a_reachable_source_passes_its_check(source: WindowSource) -> None:
    source.check()
    assert source.kind in KINDS


def test_every_kind_reads_the_same_window(traffic: Traffic) -> None:
    query = QUERIES[0]
    windows = []
    for load in LOADERS.values():
        for source in load(*traffic):
            windows.append(source.read_window(query))
    first = windows[0]
    for other in windows[1:]:
        for a, b in ((first.baseline, other.baseline), (first.candidate, other.candidate)):
            np.testing.assert_array_equal(np.sort(a.latency_ms), np.sort(b.latency_ms))
            assert (a.negative_feedback, a.feedback_count) == (
                b.negative_feedback,
                b.feedback_count,
            )


def test_the_factory_builds_every_kind_and_refuses_others() -> None:
    with SQLiteStore(MEMORY) as store:
        assert {open_source(kind, store=store).kind for kind in KINDS} == set(KINDS)
    assert sorted(LOADERS) == sorted(KINDS)  # every kind is in the conformance suite
    with pytest.raises(SourceError, match="unknown window source 'prometheus'"):
        open_source("prometheus")
    with pytest.raises(SourceError, match="needs a record store"):
        open_source("store")


def test_an_unreachable_store_is_a_source_error() -> None:
    store = SQLiteStore(MEMORY)
    source = open_source("store", store=store)
    store.close()
    with pytest.raises(SourceError, match="record store"):
        source.check()
