"""The sample-ratio-mismatch guard: does the observed split match the policy weight?

A mismatch means the comparison itself is broken (routing bug, one arm's records lost), so it
pauses the rollout rather than failing a gate. The verdict reuses the ``outside`` direction with
the degenerate band [weight, weight]: FAIL when the share's interval lies wholly above or below
the weight, i.e. excludes it; PASS when the interval contains it.
"""

from __future__ import annotations

import math

from ..records import Window
from ..spec import Method, SrmCheck
from ..stats import srm_check
from ..verdict import Outcome, Verdict
from . import _format
from ._validate import validate_window


def judge_srm_validated(window: Window, check: SrmCheck) -> Verdict:
    n_b, n_c = window.baseline.n, window.candidate.n
    total = n_b + n_c
    weight = window.candidate_weight
    pct = _format.percent
    if total < check.min_samples:
        outcome = Outcome.NODATA
        share, lo, hi = (n_c / total if total else math.nan), 0.0, 1.0
        text = f"sample ratio: no data ({total} served < min_samples {check.min_samples})"
    else:
        share, cs = srm_check(n_c, total, weight, check.alpha)
        lo, hi = cs.lo, cs.hi
        shown = f"candidate share {pct(share)} {_format.interval(lo, hi, pct)}"
        if cs.contains(weight):
            outcome = Outcome.PASS
            text = f"sample ratio: {shown} contains the policy weight {pct(weight)}"
        else:
            outcome = Outcome.FAIL
            text = f"sample ratio mismatch: {shown} excludes the policy weight {pct(weight)}"
    return Verdict(
        gate="srm",
        statistic="share",
        outcome=outcome,
        method=Method.SEQUENTIAL.value,
        estimate=share,
        lo=lo,
        hi=hi,
        bound=weight,
        n_baseline=n_b,
        n_candidate=n_c,
        explanation=text,
        critical=True,
        bound_hi=weight,
        direction="outside",
        alpha=check.alpha,
    )


def judge_srm(window: Window, check: SrmCheck) -> Verdict:
    """The SRM guard on its own (``judge_step`` runs it when the split is a real one)."""
    validate_window(window)
    return judge_srm_validated(window, check)
