"""The judge runs every gate over a 1M-record window in well under 2 s: keep each CS O(n)."""

import time

import numpy as np

from llm_rollout.stats import ks_cs, mean_cs, quantile_cs, rate_cs, srm_check


def test_all_statistics_on_a_million_records_in_well_under_a_second() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(5.0, 1.0, 1_000_000)
    start = time.perf_counter()
    mean_cs(x, 1e-3)
    for p in (0.5, 0.95, 0.99):
        quantile_cs(x, p, 1e-3, t_opt=123_457)  # an uncached t_opt: ranks computed afresh
    ks_cs(x[:500_000], x[500_000:], 1e-3)
    rate_cs(20_000, 1_000_000, 1e-3)
    srm_check(100_000, 1_000_000, 0.1, 1e-3)
    elapsed = time.perf_counter() - start
    # About 0.2 s on a laptop; the bound is loose for slow CI but catches a Python-level loop.
    assert elapsed < 1.5, f"{elapsed:.2f} s"
