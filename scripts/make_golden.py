"""Write tests/golden/judge_cases.json: the judge's golden cases, from stated distributions.

Every expected outcome below is reasoned from the distributions, not read off the judge. The
arithmetic in the "why" of each case uses two facts:

- An anytime-valid interval at the alphas used here (1e-3 per gate, split over statistics and
  arms) is a few standard errors wide, and wider than a fixed-n interval: we count on ~4 and
  allow up to ~6 standard errors per side. A case that must PASS or FAIL keeps that much room;
  a case that must be INCONCLUSIVE is narrower than ~3 standard errors on one side.
- When the true value sits exactly on the bound, a valid interval contains the bound (with
  probability 1 - alpha), so neither PASS nor FAIL is possible: INCONCLUSIVE.

For a log-normal(median m, sigma s): mean = m e^(s^2/2), sd/mean = sqrt(e^(s^2) - 1),
q_p = m e^(s z_p). The standard error of a sample p-quantile in probability units is
sqrt(p(1-p)/n), so on the log scale it is s * sqrt(p(1-p)/n) / phi(z_p).

Run ``python scripts/make_golden.py`` to rewrite the file, ``--check`` to verify it is current.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "tests" / "golden" / "judge_cases.json"

Dist = dict[str, Any]


def ln(median: float, sigma: float) -> Dist:
    return {"dist": "lognormal", "median": median, "sigma": sigma}


def const(value: float) -> Dist:
    return {"dist": "const", "value": value}


LAT = ln(800, 0.5)
COST = ln(0.002, 0.3)
TOKENS = ln(200, 0.6)

CASES: list[dict[str, Any]] = []


def case(
    cid: str,
    why: str,
    gate: str,
    *,
    baseline: dict[str, Any],
    candidate: dict[str, Any],
    expected: dict[str, str] | None = None,
    error: str | None = None,
    method: str = "sequential",
    config: dict[str, Any] | None = None,
    alpha: float = 0.001,
    weight: float = 0.5,
    negative_feedback: dict[str, int] | None = None,
) -> None:
    window: dict[str, Any] = {
        # A stable seed per case: reordering or adding cases never changes another case's data.
        "seed": zlib.crc32(cid.encode()),
        "candidate_weight": weight,
        "baseline": baseline,
        "candidate": candidate,
    }
    if negative_feedback is not None:
        window["negative_feedback"] = negative_feedback
    entry: dict[str, Any] = {
        "id": cid,
        "why": why,
        "gate": gate,
        "method": method,
        "alpha": alpha,
        "config": config or {},
        "window": window,
    }
    if error is not None:
        entry["expected_error"] = {"type": "InvalidDataError", "match": error}
    else:
        assert expected is not None, cid
        entry["expected"] = expected
    CASES.append(entry)


def arm(n: int, **columns: Any) -> dict[str, Any]:
    return {"n": n, **columns}


# --- latency -------------------------------------------------------------------------------
P50_ONLY = {"p50": 1.5, "p99": None, "ttft_p99": None}

case(
    "latency-aa-n20000",
    "A/A, log-normal(800, 0.5), n=20000: p50 se 0.35% in prob -> ratio within ~[0.95, 1.05]; "
    "p99 se 0.07% in prob, 6 se -> p in [0.9858, 0.9942], z in [2.19, 2.52] -> ratio <= "
    "e^(0.5*0.2)/e^(-0.5*0.14) ~ 1.18 < 1.5. No call streams, so ttft_p99 is omitted.",
    "latency",
    baseline=arm(20000, latency_ms=LAT),
    candidate=arm(20000, latency_ms=LAT),
    expected={"p50_ratio": "PASS", "p99_ratio": "PASS"},
)
case(
    "latency-tail-blowup",
    "Same median, sigma 0.5 -> 0.9: p99 ratio e^(2.326*0.4) = 2.53, and with 6 se the lower "
    "end is ~2.53*e^(-0.9*0.14)/e^(0.5*0.2) ~ 2.0 > 1.5; the medians are equal -> p50 PASS.",
    "latency",
    config={"p50": 1.5, "p99": 1.5, "ttft_p99": None},
    baseline=arm(20000, latency_ms=LAT),
    candidate=arm(20000, latency_ms=ln(800, 0.9)),
    expected={"p50_ratio": "PASS", "p99_ratio": "FAIL"},
)
case(
    "latency-median-2x",
    "Median 800 -> 1600, n=2000: p50 se 1.1% in prob, 6 se -> z within +-0.17, ratio "
    "2*e^(-0.5*0.34) ~ 1.69 at worst > 1.5.",
    "latency",
    config=P50_ONLY,
    baseline=arm(2000, latency_ms=LAT),
    candidate=arm(2000, latency_ms=ln(1600, 0.5)),
    expected={"p50_ratio": "FAIL"},
)
case(
    "latency-p95-1.6x",
    "Only p95 configured (bound 1.2); latency scaled 1.6x, n=20000: p95 se 0.15% in prob, "
    "6 se -> z in [1.56, 1.74], ratio >= 1.6*e^(-0.5*0.08)/e^(0.5*0.1) ~ 1.46 > 1.2.",
    "latency",
    config={"p50": None, "p95": 1.2, "p99": None, "ttft_p99": None},
    baseline=arm(20000, latency_ms=LAT),
    candidate=arm(20000, latency_ms=ln(1280, 0.5)),
    expected={"p95_ratio": "FAIL"},
)
case(
    "latency-small-n",
    "n=30, median 1.3x: even 3 se on the median (prob +-0.27, z +-0.7) spans ratios "
    "~[0.9, 1.9], so p50 straddles 1.5; 30 calls say nothing about a p99 (< 1 call above it).",
    "latency",
    config={"p50": 1.5, "p99": 1.5, "ttft_p99": None},
    baseline=arm(30, latency_ms=LAT),
    candidate=arm(30, latency_ms=ln(1040, 0.5)),
    expected={"p50_ratio": "INCONCLUSIVE", "p99_ratio": "INCONCLUSIVE"},
)
case(
    "latency-threshold-2x",
    "Threshold, median 2x, n=2000 >= min_samples: point p50 ratio 2 +- 0.04, p99 ratio "
    "2 +- 0.12 (se of a sample p99 ~4% per arm): both far above 1.5.",
    "latency",
    method="threshold",
    config={"p50": 1.5, "p99": 1.5, "ttft_p99": None},
    baseline=arm(2000, latency_ms=LAT),
    candidate=arm(2000, latency_ms=ln(1600, 0.5)),
    expected={"p50_ratio": "FAIL", "p99_ratio": "FAIL"},
)
case(
    "latency-threshold-aa",
    "Threshold, A/A n=2000: point ratios 1 +- 0.03 (p50) and 1 +- 0.06 (p99), far below 1.5.",
    "latency",
    method="threshold",
    config={"p50": 1.5, "p99": 1.5, "ttft_p99": None},
    baseline=arm(2000, latency_ms=LAT),
    candidate=arm(2000, latency_ms=LAT),
    expected={"p50_ratio": "PASS", "p99_ratio": "PASS"},
)
case(
    "latency-threshold-below-min-samples",
    "Threshold with n=50 < min_samples 100: the point estimate is not judged -> INCONCLUSIVE "
    "(our documented choice), although the median is 3x.",
    "latency",
    method="threshold",
    config={"p50": 1.5, "p99": 1.5, "ttft_p99": None},
    baseline=arm(50, latency_ms=LAT),
    candidate=arm(50, latency_ms=ln(2400, 0.5)),
    expected={"p50_ratio": "INCONCLUSIVE", "p99_ratio": "INCONCLUSIVE"},
)
case(
    "latency-timeouts-excluded",
    "20% of candidate calls error out after 60 s (timeouts); ok calls are A/A. Latency is "
    "judged on ok calls only, so p50/p99 PASS as in latency-aa-n20000 (16000 ok calls); "
    "counting the timeouts would make the candidate p99 60 s, a ratio ~30.",
    "latency",
    config={"p50": 1.5, "p99": 1.5, "ttft_p99": None},
    baseline=arm(20000, latency_ms=LAT),
    candidate=arm(20000, latency_ms=LAT, error_rate=0.2, error_latency_ms=const(60000)),
    expected={"p50_ratio": "PASS", "p99_ratio": "PASS"},
)
case(
    "latency-ttft-regression",
    "All calls stream; TTFT median 250 -> 750 (3x), sigma 0.4, n=5000: p99 se 0.14% in prob, "
    "6 se -> lower end ~3*e^(-0.4*0.24)/e^(0.4*0.62) ~ 2.1 > 1.5. Total latency is A/A: p50 "
    "within ~[0.9, 1.1].",
    "latency",
    config={"p50": 1.5, "p99": None, "ttft_p99": 1.5},
    baseline=arm(5000, latency_ms=LAT, ttft_ms={**ln(250, 0.4), "share": 1.0}),
    candidate=arm(5000, latency_ms=LAT, ttft_ms={**ln(750, 0.4), "share": 1.0}),
    expected={"p50_ratio": "PASS", "ttft_p99_ratio": "FAIL"},
)
case(
    "latency-ttft-one-arm-streams",
    "Half the baseline calls stream, no candidate call does: TTFT cannot be compared -> NODATA "
    "(not omitted: one arm has TTFT, so the workload streams).",
    "latency",
    config={"p50": 1.5, "p99": None, "ttft_p99": 1.5},
    baseline=arm(5000, latency_ms=LAT, ttft_ms={**ln(250, 0.4), "share": 0.5}),
    candidate=arm(5000, latency_ms=LAT),
    expected={"p50_ratio": "PASS", "ttft_p99_ratio": "NODATA"},
)
case(
    "latency-candidate-empty",
    "The candidate arm has no calls: every statistic NODATA; ttft_p99 omitted (nothing streams).",
    "latency",
    baseline=arm(500, latency_ms=LAT),
    candidate=arm(0),
    expected={"p50_ratio": "NODATA", "p99_ratio": "NODATA"},
)
case(
    "latency-candidate-all-errors",
    "Every candidate call errors: no ok calls, so no latency to compare -> NODATA.",
    "latency",
    config=P50_ONLY,
    baseline=arm(500, latency_ms=LAT),
    candidate=arm(500, latency_ms=LAT, error_rate=1.0),
    expected={"p50_ratio": "NODATA"},
)
case(
    "latency-nan-rejected",
    "A NaN latency is impossible data: InvalidDataError naming the arm and the column.",
    "latency",
    baseline=arm(
        100, latency_ms=LAT, inject=[{"column": "latency_ms", "index": 3, "value": "nan"}]
    ),
    candidate=arm(100, latency_ms=LAT),
    error="baseline arm: latency_ms holds NaN, infinite or negative values",
)
case(
    "latency-negative-ttft-rejected",
    "A negative TTFT is impossible data (NaN TTFT is fine: not streamed).",
    "latency",
    baseline=arm(100, latency_ms=LAT),
    candidate=arm(
        100,
        latency_ms=LAT,
        ttft_ms={**ln(250, 0.4), "share": 1.0},
        inject=[{"column": "ttft_ms", "index": 0, "value": -5}],
    ),
    error="candidate arm: ttft_ms holds infinite or negative values",
)

# --- cost ----------------------------------------------------------------------------------
case(
    "cost-2x-n5000",
    "Mean cost doubles, log-normal sigma 0.3 (sd/mean 0.31), n=5000: se 0.44% per arm, 6 se "
    "-> ratio >= 2*0.974/1.026 ~ 1.9 > 1.2.",
    "cost",
    baseline=arm(5000, cost_usd=COST),
    candidate=arm(5000, cost_usd=ln(0.004, 0.3)),
    expected={"mean_ratio": "FAIL"},
)
case(
    "cost-aa-n5000",
    "A/A, n=5000: ratio within ~1 +- 0.06 << 1.2.",
    "cost",
    baseline=arm(5000, cost_usd=COST),
    candidate=arm(5000, cost_usd=COST),
    expected={"mean_ratio": "PASS"},
)
case(
    "cost-on-the-bound",
    "True ratio exactly 1.2 = the bound: a valid interval contains 1.2 -> INCONCLUSIVE.",
    "cost",
    baseline=arm(2000, cost_usd=COST),
    candidate=arm(2000, cost_usd=ln(0.0024, 0.3)),
    expected={"mean_ratio": "INCONCLUSIVE"},
)
case(
    "cost-threshold-1.3x",
    "Threshold, ratio 1.3, n=1000: point ratio 1.3 +- 0.02 > 1.2.",
    "cost",
    method="threshold",
    baseline=arm(1000, cost_usd=COST),
    candidate=arm(1000, cost_usd=ln(0.0026, 0.3)),
    expected={"mean_ratio": "FAIL"},
)
case(
    "cost-1.5x-n10-threshold",
    "Threshold with min_samples 10, n=10, tight costs (sigma 0.1), ratio 1.5: point ratio "
    "1.5 +- 0.07 > 1.2. Same data as cost-1.5x-n10-sequential.",
    "cost",
    method="threshold",
    config={"min_samples": 10},
    baseline=arm(10, cost_usd=ln(0.002, 0.1)),
    candidate=arm(10, cost_usd=ln(0.003, 0.1)),
    expected={"mean_ratio": "FAIL"},
)
case(
    "cost-1.5x-n10-sequential",
    "Same 10 calls per arm: even a fixed-n t interval at alpha 2.5e-4 is +-5.4 se = +-17% per "
    "arm, so the ratio's lower end ~1.5*0.83/1.17 ~ 1.06 < 1.2 -> INCONCLUSIVE. The sequential "
    "method does not call a breach on 10 calls; the threshold method does.",
    "cost",
    baseline=arm(10, cost_usd=ln(0.002, 0.1)),
    candidate=arm(10, cost_usd=ln(0.003, 0.1)),
    expected={"mean_ratio": "INCONCLUSIVE"},
)
case(
    "cost-all-zero",
    "Both arms cost nothing (e.g. a self-hosted model): 0/0 is undefined -> NODATA.",
    "cost",
    baseline=arm(500, cost_usd=const(0.0)),
    candidate=arm(500, cost_usd=const(0.0)),
    expected={"mean_ratio": "NODATA"},
)
case(
    "cost-zero-baseline",
    "A free baseline (const 0) against a paid candidate (const 0.001): the ratio is infinite "
    "and both arms are exact (zero variance) -> FAIL, without dividing by zero.",
    "cost",
    baseline=arm(100, cost_usd=const(0.0)),
    candidate=arm(100, cost_usd=const(0.001)),
    expected={"mean_ratio": "FAIL"},
)
case(
    "cost-zero-baseline-threshold",
    "Threshold on the same shape (n=200 >= 100): point ratio 0.001/0 = inf > 1.2 -> FAIL.",
    "cost",
    method="threshold",
    baseline=arm(200, cost_usd=const(0.0)),
    candidate=arm(200, cost_usd=const(0.001)),
    expected={"mean_ratio": "FAIL"},
)
case(
    "cost-baseline-empty",
    "No baseline calls: one-sided data -> NODATA.",
    "cost",
    baseline=arm(0),
    candidate=arm(300, cost_usd=COST),
    expected={"mean_ratio": "NODATA"},
)
case(
    "cost-one-call-each",
    "One call per arm: a mean's interval needs >= 2 observations, so it is unbounded -> "
    "INCONCLUSIVE (not NODATA: there is data).",
    "cost",
    baseline=arm(1, cost_usd=COST),
    candidate=arm(1, cost_usd=ln(0.004, 0.3)),
    expected={"mean_ratio": "INCONCLUSIVE"},
)
case(
    "cost-negative-rejected",
    "A negative cost is impossible data.",
    "cost",
    baseline=arm(100, cost_usd=COST),
    candidate=arm(100, cost_usd=COST, inject=[{"column": "cost_usd", "index": 7, "value": -0.01}]),
    error="candidate arm: cost_usd holds NaN, infinite or negative values",
)
case(
    "cost-infinite-rejected",
    "An infinite cost is impossible data.",
    "cost",
    baseline=arm(100, cost_usd=COST, inject=[{"column": "cost_usd", "index": 0, "value": "inf"}]),
    candidate=arm(100, cost_usd=COST),
    error="baseline arm: cost_usd holds NaN, infinite or negative values",
)

# --- errors --------------------------------------------------------------------------------
case(
    "errors-zero-both-n20000",
    "No errors in 20000 calls per arm: d = 0, and the candidate rate's upper end for 0/20000 "
    "is ~log(1/alpha)/n ~ 0.05% << floor 0.5% -> PASS.",
    "errors",
    baseline=arm(20000),
    candidate=arm(20000),
    expected={"rate_excess": "PASS"},
)
case(
    "errors-zero-both-n50",
    "No errors in 50 calls per arm: 0/50 cannot rule out a rate of several percent (a fixed-n "
    "exact bound alone is ~15% at this alpha), far above the 0.5 pp floor -> INCONCLUSIVE.",
    "errors",
    baseline=arm(50),
    candidate=arm(50),
    expected={"rate_excess": "INCONCLUSIVE"},
)
case(
    "errors-1-to-6-percent",
    "1% -> 6%, n=20000: d = 0.06 - 2*0.01 = 4 pp; 6 se: candidate +-1.0 pp, baseline "
    "+-0.42 pp -> lower end 5.0 - 2*1.42 = 2.2 pp > 0.5 pp.",
    "errors",
    baseline=arm(20000, error_rate=0.01),
    candidate=arm(20000, error_rate=0.06),
    expected={"rate_excess": "FAIL"},
)
case(
    "errors-aa-1-percent",
    "A/A at 1%, n=20000: d = -1 pp; upper end 1.42 - 2*0.58 = 0.26 pp <= 0.5 pp -> PASS.",
    "errors",
    baseline=arm(20000, error_rate=0.01),
    candidate=arm(20000, error_rate=0.01),
    expected={"rate_excess": "PASS"},
)
case(
    "errors-threshold-1-to-5-percent",
    "Threshold, 1% -> 5%, n=20000: point d = 5 - 2*1 = 3 pp +- 0.17 pp > 0.5 pp.",
    "errors",
    method="threshold",
    baseline=arm(20000, error_rate=0.01),
    candidate=arm(20000, error_rate=0.05),
    expected={"rate_excess": "FAIL"},
)
case(
    "errors-threshold-aa",
    "Threshold, A/A at 1% with n=20000: point d = -1 pp +- 0.17 pp <= 0.5 pp -> PASS.",
    "errors",
    method="threshold",
    baseline=arm(20000, error_rate=0.01),
    candidate=arm(20000, error_rate=0.01),
    expected={"rate_excess": "PASS"},
)
case(
    "errors-threshold-below-min-samples",
    "Threshold, n=60 < min_samples 100, even with 30% candidate errors -> INCONCLUSIVE.",
    "errors",
    method="threshold",
    baseline=arm(60, error_rate=0.01),
    candidate=arm(60, error_rate=0.3),
    expected={"rate_excess": "INCONCLUSIVE"},
)
case(
    "errors-candidate-down",
    "Every candidate call fails, baseline 1%, n=500: d ~ 98 pp, the candidate's lower end "
    "stays above 95% and the baseline's upper end below 5% -> FAIL.",
    "errors",
    baseline=arm(500, error_rate=0.01),
    candidate=arm(500, error_rate=1.0),
    expected={"rate_excess": "FAIL"},
)
case(
    "errors-candidate-empty",
    "No candidate calls: one-sided data -> NODATA.",
    "errors",
    baseline=arm(500, error_rate=0.01),
    candidate=arm(0),
    expected={"rate_excess": "NODATA"},
)

# --- refusals ------------------------------------------------------------------------------
case(
    "refusals-1-to-6-percent",
    "Refusals 1% -> 6% of ok calls, no errors, n=20000: as errors-1-to-6-percent -> FAIL.",
    "refusals",
    baseline=arm(20000, refusal_rate=0.01),
    candidate=arm(20000, refusal_rate=0.06),
    expected={"rate_excess": "FAIL"},
)
case(
    "refusals-aa",
    "A/A refusals at 1%, n=20000 -> PASS (as errors-aa-1-percent).",
    "refusals",
    baseline=arm(20000, refusal_rate=0.01),
    candidate=arm(20000, refusal_rate=0.01),
    expected={"rate_excess": "PASS"},
)
case(
    "refusals-threshold-2-to-6-percent",
    "Threshold, refusals 2% -> 6%, n=20000: point d = 6 - 4 = 2 pp +- 0.26 pp > 0.5 pp.",
    "refusals",
    method="threshold",
    baseline=arm(20000, refusal_rate=0.02),
    candidate=arm(20000, refusal_rate=0.06),
    expected={"rate_excess": "FAIL"},
)
case(
    "refusals-no-ok-calls",
    "Every candidate call errors, so none could refuse: refusal rate over ok calls is NODATA.",
    "refusals",
    baseline=arm(500, refusal_rate=0.01),
    candidate=arm(500, refusal_rate=0.01, error_rate=1.0),
    expected={"rate_excess": "NODATA"},
)

# --- output length -------------------------------------------------------------------------
case(
    "output-length-aa-n20000",
    "A/A tokens log-normal(200, 0.6), n=20000: mean ratio 1 +- 0.03 within [0.8, 1.25]; p99 "
    "ratio <= e^(0.6*0.2)/e^(-0.6*0.14) ~ 1.22 < 1.5; KS ~0.01 with an upper end ~0.05 << 0.2.",
    "output_length",
    baseline=arm(20000, completion_tokens=TOKENS),
    candidate=arm(20000, completion_tokens=TOKENS),
    expected={"mean_ratio": "PASS", "p99_ratio": "PASS", "ks_distance": "PASS"},
)
case(
    "output-length-1.5x-longer",
    "Median 200 -> 300, n=50000: mean ratio 1.5 +- 0.02 > 1.25 -> FAIL; p99 ratio exactly "
    "1.5 = bound -> INCONCLUSIVE; KS = 2*Phi(ln1.5/(2*0.6)) - 1 = 0.264, interval +-~0.03 > 0.2 "
    "-> FAIL.",
    "output_length",
    baseline=arm(50000, completion_tokens=TOKENS),
    candidate=arm(50000, completion_tokens=ln(300, 0.6)),
    expected={"mean_ratio": "FAIL", "p99_ratio": "INCONCLUSIVE", "ks_distance": "FAIL"},
)
case(
    "output-length-halved",
    "Median 200 -> 100, n=5000: mean ratio 0.5 +- 0.03 < 0.8 -> FAIL (below the band); p99 "
    "ratio 0.5, upper end ~0.5*e^(0.6*0.62)/e^(-0.6*0.24) ~ 0.84 < 1.5 -> PASS; "
    "KS = 2*Phi(ln2/1.2) - 1 = 0.44, +-~0.06 -> FAIL.",
    "output_length",
    baseline=arm(5000, completion_tokens=TOKENS),
    candidate=arm(5000, completion_tokens=ln(100, 0.6)),
    expected={"mean_ratio": "FAIL", "p99_ratio": "PASS", "ks_distance": "FAIL"},
)
case(
    "output-length-shape-change",
    "Candidate normal(239, 20) has the baseline's mean (200*e^0.18 = 239) but no tail: mean "
    "ratio 1 +- 0.05 -> PASS; p99 286 vs 806 -> ratio 0.35 -> PASS; KS at 200 tokens: "
    "0.5 vs Phi(-1.97) = 0.02 -> D ~ 0.48 >> 0.2 -> FAIL. Only KS sees a shape change.",
    "output_length",
    baseline=arm(5000, completion_tokens=TOKENS),
    candidate=arm(5000, completion_tokens={"dist": "normal", "mean": 239.4, "sd": 20}),
    expected={"mean_ratio": "PASS", "p99_ratio": "PASS", "ks_distance": "FAIL"},
)
case(
    "output-length-mean-on-band-edge",
    "Mean ratio exactly 1.25 = the band's upper edge: the interval contains it -> "
    "INCONCLUSIVE (mean only).",
    "output_length",
    config={"mean": [0.8, 1.25], "p99": None, "ks": None},
    baseline=arm(20000, completion_tokens=TOKENS),
    candidate=arm(20000, completion_tokens=ln(250, 0.6)),
    expected={"mean_ratio": "INCONCLUSIVE"},
)
case(
    "output-length-threshold-1.3x",
    "Threshold, median 260 (1.3x), n=20000: point mean ratio 1.3 +- 0.009 > 1.25 -> FAIL; "
    "point p99 ratio 1.3 +- 0.03 <= 1.5 -> PASS.",
    "output_length",
    method="threshold",
    config={"mean": [0.8, 1.25], "p99": 1.5, "ks": None},
    baseline=arm(20000, completion_tokens=TOKENS),
    candidate=arm(20000, completion_tokens=ln(260, 0.6)),
    expected={"mean_ratio": "FAIL", "p99_ratio": "PASS"},
)
case(
    "output-length-tiny-n3",
    "Three calls per arm, A/A: no interval this small can exclude either side of any bound "
    "-> all INCONCLUSIVE.",
    "output_length",
    baseline=arm(3, completion_tokens=TOKENS),
    candidate=arm(3, completion_tokens=TOKENS),
    expected={
        "mean_ratio": "INCONCLUSIVE",
        "p99_ratio": "INCONCLUSIVE",
        "ks_distance": "INCONCLUSIVE",
    },
)
case(
    "output-length-candidate-empty",
    "No candidate calls: every statistic NODATA.",
    "output_length",
    baseline=arm(500, completion_tokens=TOKENS),
    candidate=arm(0),
    expected={"mean_ratio": "NODATA", "p99_ratio": "NODATA", "ks_distance": "NODATA"},
)
case(
    "output-length-negative-rejected",
    "Negative completion tokens are impossible data.",
    "output_length",
    baseline=arm(
        100,
        completion_tokens=TOKENS,
        inject=[{"column": "completion_tokens", "index": 5, "value": -1}],
    ),
    candidate=arm(100, completion_tokens=TOKENS),
    error="baseline arm: completion_tokens holds NaN, infinite or negative values",
)

# --- feedback ------------------------------------------------------------------------------
case(
    "feedback-5-to-15-percent",
    "Thumbs-down 5% -> 15% per served request, n=20000: d = 15 - 1.5*5 = 7.5 pp; 6 se: "
    "candidate +-1.5 pp, baseline +-0.9 pp -> lower end 13.5 - 1.5*5.9 = 4.6 pp > 0.5 pp.",
    "feedback",
    baseline=arm(20000, negative_rate=0.05),
    candidate=arm(20000, negative_rate=0.15),
    expected={"rate_excess": "FAIL"},
)
case(
    "feedback-aa",
    "A/A at 5%, n=20000: d = -2.5 pp; upper end 5.9 - 1.5*4.1 = -0.2 pp <= 0.5 pp -> PASS.",
    "feedback",
    baseline=arm(20000, negative_rate=0.05),
    candidate=arm(20000, negative_rate=0.05),
    expected={"rate_excess": "PASS"},
)
case(
    "feedback-none",
    "No negative feedback at all, n=20000: as errors-zero-both-n20000 -> PASS.",
    "feedback",
    baseline=arm(20000),
    candidate=arm(20000),
    expected={"rate_excess": "PASS"},
)
case(
    "feedback-threshold-below-min-samples",
    "Threshold, n=99 < min_samples 100 -> INCONCLUSIVE.",
    "feedback",
    method="threshold",
    baseline=arm(99, negative_rate=0.05),
    candidate=arm(99, negative_rate=0.5),
    expected={"rate_excess": "INCONCLUSIVE"},
)
case(
    "feedback-count-above-served",
    "999 thumbs-down on 10 served requests is impossible data.",
    "feedback",
    baseline=arm(10),
    candidate=arm(10),
    negative_feedback={"candidate": 999},
    error="candidate arm: negative_feedback must be between 0 and the served count",
)

# --- SRM guard -----------------------------------------------------------------------------
case(
    "srm-exact-split",
    "Weight 10%, observed 1000 / 10000 = exactly 10% -> the interval contains it -> PASS.",
    "srm",
    config={"alpha": 0.001, "min_samples": 200},
    weight=0.1,
    baseline=arm(9000),
    candidate=arm(1000),
    expected={"share": "PASS"},
)
case(
    "srm-mismatch",
    "Weight 10%, observed 15% of 10000: se 0.36 pp, 6 se -> [12.9%, 17.1%] excludes 10% -> FAIL.",
    "srm",
    config={"alpha": 0.001, "min_samples": 200},
    weight=0.1,
    baseline=arm(8500),
    candidate=arm(1500),
    expected={"share": "FAIL"},
)
case(
    "srm-small-deviation",
    "Weight 50%, observed 49% of 10000: 2 se off, inside any alpha=0.001 interval -> PASS.",
    "srm",
    config={"alpha": 0.001, "min_samples": 200},
    weight=0.5,
    baseline=arm(5100),
    candidate=arm(4900),
    expected={"share": "PASS"},
)
case(
    "srm-below-min-samples",
    "100 served calls < min_samples 200: no SRM judgment yet -> NODATA.",
    "srm",
    config={"alpha": 0.001, "min_samples": 200},
    weight=0.1,
    baseline=arm(50),
    candidate=arm(50),
    expected={"share": "NODATA"},
)

# --- shadow alerts -------------------------------------------------------------------------
case(
    "alert-cost-fires",
    "Shadow cost 2x, n=5000: as cost-2x-n5000 the ratio is >= 1.9 > 1.4 -> the alert fires.",
    "alert",
    config={"gate": "cost", "above": 1.4},
    baseline=arm(5000, cost_usd=COST),
    candidate=arm(5000, cost_usd=ln(0.004, 0.3)),
    expected={"mean_ratio": "FAIL"},
)
case(
    "alert-cost-quiet",
    "Shadow cost A/A, n=5000: ratio <= ~1.06 <= 1.4 -> PASS (quiet).",
    "alert",
    config={"gate": "cost", "above": 1.4},
    baseline=arm(5000, cost_usd=COST),
    candidate=arm(5000, cost_usd=COST),
    expected={"mean_ratio": "PASS"},
)
case(
    "alert-errors-none",
    "No errors in either arm: the error-rate ratio is 0/0 -> NODATA (never fires).",
    "alert",
    config={"gate": "errors", "above": 2.0},
    baseline=arm(2000),
    candidate=arm(2000),
    expected={"rate_ratio": "NODATA"},
)
case(
    "alert-errors-fire",
    "Shadow errors 1% -> 10%, n=20000: ratio 10; lower end ~(10-0.9)/(1+0.4) ~ 6.5 > 2.",
    "alert",
    config={"gate": "errors", "above": 2.0},
    baseline=arm(20000, error_rate=0.01),
    candidate=arm(20000, error_rate=0.10),
    expected={"rate_ratio": "FAIL"},
)


def document() -> dict[str, Any]:
    return {
        "version": 1,
        "generator": "scripts/make_golden.py",
        "note": "expected outcomes are reasoned from the stated distributions; see each 'why'",
        "cases": CASES,
    }


def render() -> str:
    return json.dumps(document(), indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is not current")
    args = parser.parse_args(argv)
    ids = [c["id"] for c in CASES]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate case ids")
    text = render()
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date; run scripts/make_golden.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {len(CASES)} cases to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
