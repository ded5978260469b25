"""Anytime-valid statistics for canary gates: confidence sequences (CS) that stay valid however
often the judge looks.

Every function is pure and returns an :class:`Interval` that covers the true value at *all*
sample sizes at once with probability at least ``1 - alpha`` (Ville's inequality), so checking
every few minutes never inflates the false-alarm rate. Constructions and references:

===================  ==========================================================================
:func:`mean_cs`      Gaussian-mixture asymptotic CS (Waudby-Smith et al. 2023) + Hall's (1992)
                     skewness correction
:func:`rate_cs`      beta-binomial mixture, inverted (Howard, Ramdas, McAuliffe, Sekhon 2021);
                     exact for every n, valid for k = 0
:func:`quantile_cs`  order statistics from a variance-adaptive beta-binomial boundary on the
                     binomial count below the quantile (Howard & Ramdas 2022)
:func:`ks_cs`        time-uniform DKW inequality on each empirical CDF (Howard & Ramdas 2022)
:func:`srm_check`    :func:`rate_cs` on the candidate share
===================  ==========================================================================

:mod:`llm_rollout.stats.coverage` simulates the uniform coverage of each of them.
"""

from ._binomial import rate_cs, rate_cs_batch, srm_check
from ._interval import FloatArray, Interval, ratio_interval
from ._ks import dkw_radius, ks_cs, ks_distance
from ._mean import mean_cs
from ._proportion import binomial_interval
from ._quantile import quantile_cs, quantile_ranks

__all__ = [
    "FloatArray",
    "Interval",
    "binomial_interval",
    "dkw_radius",
    "ks_cs",
    "ks_distance",
    "mean_cs",
    "quantile_cs",
    "quantile_ranks",
    "rate_cs",
    "rate_cs_batch",
    "ratio_interval",
    "srm_check",
]
