"""The detection model's interpolated rate intervals stay close to the stats package's own."""

from __future__ import annotations

import numpy as np

from llm_rollout.plan.detect import _rate_cs
from llm_rollout.stats import rate_cs_batch


def test_interpolated_rate_intervals_stay_close_to_exact() -> None:
    rng = np.random.default_rng(3)
    k = rng.binomial(20_000, 0.05, (1, 500)).astype(np.float64)
    n = np.full_like(k, 20_000.0)
    lo, hi = _rate_cs(k, n, np.ones_like(k, dtype=np.bool_), 1e-4)
    exact_lo, exact_hi = rate_cs_batch(k[0], 20_000, 1e-4)
    assert np.max(np.abs(lo[0] - exact_lo)) < 2e-5
    assert np.max(np.abs(hi[0] - exact_hi)) < 2e-5
