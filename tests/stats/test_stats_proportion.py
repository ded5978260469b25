"""The exact (Clopper-Pearson) interval for a simulated rate."""

from __future__ import annotations

import pytest

from llm_rollout.stats import binomial_interval


def test_binomial_interval() -> None:
    lo, hi = binomial_interval(0, 500)
    assert (lo, hi) == (0.0, pytest.approx(1 - 0.025 ** (1 / 500)))
    lo, hi = binomial_interval(500, 500)
    assert (lo, hi) == (pytest.approx(0.025 ** (1 / 500)), 1.0)
    lo, hi = binomial_interval(50, 100)
    assert lo == pytest.approx(0.3983, abs=1e-4)  # the textbook Clopper-Pearson values
    assert hi == pytest.approx(0.6017, abs=1e-4)
    with pytest.raises(ValueError, match="n >= 1"):
        binomial_interval(3, 2)
    with pytest.raises(ValueError, match="level"):
        binomial_interval(1, 2, level=1.0)
