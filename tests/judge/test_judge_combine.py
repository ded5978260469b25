"""Combining verdicts into a step decision: critical FAILs dominate, SRM only holds."""

from __future__ import annotations

from judge_helpers import make_verdict

from llm_rollout.judge import combine, effective_outcome
from llm_rollout.verdict import Outcome, Verdict

P, N, U, F = Outcome.PASS, Outcome.NODATA, Outcome.INCONCLUSIVE, Outcome.FAIL


def _srm(outcome: Outcome) -> Verdict:
    return make_verdict(outcome, gate="srm", statistic="share")


def test_all_pass_passes_without_reasons() -> None:
    d = combine([make_verdict(P), make_verdict(P, gate="latency")])
    assert d.outcome is P
    assert d.reasons == ()


def test_worst_outcome_wins() -> None:
    assert combine([make_verdict(P), make_verdict(N)]).outcome is N
    assert combine([make_verdict(N), make_verdict(U)]).outcome is U
    assert combine([make_verdict(U), make_verdict(F), make_verdict(P)]).outcome is F


def test_a_non_critical_fail_only_holds() -> None:
    soft = make_verdict(F, critical=False, gate="output_length")
    assert effective_outcome(soft) is U
    d = combine([make_verdict(P), soft])
    assert d.outcome is U
    assert d.failed == (soft,)
    assert d.critical_failed == ()
    assert d.reasons == (
        "FAIL output_length/mean_ratio: output_length mean_ratio said FAIL "
        "(non-critical: holds only)",
    )


def test_a_critical_fail_dominates_a_non_critical_one() -> None:
    hard = make_verdict(F, gate="cost")
    soft = make_verdict(F, critical=False, gate="output_length")
    d = combine([soft, make_verdict(U, gate="latency"), hard])
    assert d.outcome is F
    assert d.critical_failed == (hard,)
    # Worst first: the critical FAIL, then the non-critical FAIL, then INCONCLUSIVE.
    assert [r.split(":")[0] for r in d.reasons] == [
        "FAIL cost/mean_ratio",
        "FAIL output_length/mean_ratio",
        "INCONCLUSIVE latency/mean_ratio",
    ]


def test_nodata_verdicts_are_listed_as_reasons() -> None:
    d = combine([make_verdict(P), make_verdict(N, gate="feedback")])
    assert d.reasons == ("NODATA feedback/mean_ratio: feedback mean_ratio said NODATA",)


def test_no_verdicts_is_nodata() -> None:
    assert combine([]).outcome is N


def test_srm_mismatch_holds_a_pass_but_never_fails() -> None:
    d = combine([make_verdict(P)], _srm(F))
    assert d.outcome is U
    assert d.srm_mismatch
    assert d.reasons[0].startswith("SRM srm/share: ")
    assert combine([make_verdict(N)], _srm(F)).outcome is U
    assert combine([make_verdict(F)], _srm(F)).outcome is F


def test_srm_pass_or_nodata_changes_nothing() -> None:
    assert combine([make_verdict(P)], _srm(P)).outcome is P
    assert combine([make_verdict(P)], _srm(N)).outcome is P
    assert combine([make_verdict(P)], _srm(P)).reasons == ()
