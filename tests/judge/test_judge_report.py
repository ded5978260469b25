"""Verdict table rows for the CLI: one row per verdict, SRM last, units per statistic."""

from __future__ import annotations

import math
from dataclasses import replace

from judge_helpers import lognormal_arm, make_spec, make_verdict, pair

from llm_rollout.judge import VERDICT_TABLE_HEADER, combine, judge_step, verdict_table_rows
from llm_rollout.verdict import Outcome


def test_rows_match_the_header_and_cover_every_verdict() -> None:
    w = pair(lognormal_arm(400, 1, error_rate=0.01), lognormal_arm(400, 2, error_rate=0.01))
    d = judge_step(make_spec(), w)
    rows = verdict_table_rows(d)
    assert len(rows) == len(d.verdicts) + 1
    assert all(len(r) == len(VERDICT_TABLE_HEADER) for r in rows)
    assert all(isinstance(cell, str) for r in rows for cell in r)
    assert rows[-1][:2] == ["srm", "share"]
    errors = next(r for r in rows if r[0] == "errors")
    assert errors[3].endswith(" pp")
    assert errors[5] == "<= 0.50 pp"
    mean_len = next(r for r in rows if r[0] == "output_length" and r[1] == "mean_ratio")
    assert mean_len[5] == "within [0.8, 1.25]"
    assert rows[-1][5] == "= 50.00%"


def test_row_formats_ratios_infinities_and_criticality() -> None:
    v = replace(make_verdict(Outcome.FAIL, critical=False), estimate=1.26, lo=1.21, hi=math.inf)
    (row,) = verdict_table_rows(combine([v]))
    assert row == [
        "cost",
        "mean_ratio",
        "FAIL (non-critical)",
        "1.26",
        "[1.21, inf]",
        "<= 1.2",
        "100",
        "100",
        "sequential",
    ]


def test_nodata_row_shows_na() -> None:
    v = replace(make_verdict(Outcome.NODATA), estimate=math.nan, lo=-math.inf, hi=math.inf)
    (row,) = verdict_table_rows(combine([v]))
    assert row[3:5] == ["n/a", "[-inf, inf]"]
