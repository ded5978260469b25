"""Rollback timing from the answers a client saw (pure)."""

from __future__ import annotations

import pytest

from llm_rollout.demo import rollback_timing


def test_in_flight_answers_count_late_starts_are_the_propagation() -> None:
    flip = 100.0
    answers = [
        (99.0, 99.5),  # before the flip: not counted
        (99.8, 100.2),  # in flight at the flip: completes 0.2 s after
        (100.05, 100.09),  # started after the flip: the gateway had not applied it yet
    ]
    t = rollback_timing(answers, flip)
    assert t.last_answer == pytest.approx(0.2)
    assert t.last_start == pytest.approx(0.05)
    assert (t.answers_after, t.started_after) == (2, 1)


def test_nothing_after_the_flip_is_zero_and_none() -> None:
    t = rollback_timing([(1.0, 2.0), (2.0, 3.0)], 10.0)
    assert t.last_answer == 0.0
    assert t.last_start is None
    assert (t.answers_after, t.started_after) == (0, 0)
    assert t.to_dict()["last_candidate_start_s"] is None


def test_accepts_a_one_shot_iterator() -> None:
    t = rollback_timing(iter([(9.0, 11.0), (10.5, 10.6)]), 10.0)
    assert t.last_answer == pytest.approx(1.0)
    assert t.started_after == 1
