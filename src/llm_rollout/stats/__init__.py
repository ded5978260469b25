"""Anytime-valid statistics for canary gates: confidence sequences (CS) that stay valid however
often the judge looks.

Every function is pure. The confidence sequences return an :class:`Interval` meant to cover the
true value at *all* sample sizes at once with probability at least ``1 - alpha`` (Ville's
inequality), so checking every few minutes does not inflate the false-alarm rate. That holds
exactly for the rate, quantile and KS sequences; :func:`mean_cs` is asymptotic: it can
under-cover on heavy-tailed data at small alpha. Constructions and references:

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

For many samples at once, from their summary statistics rather than their values (the
planner's Monte Carlo holds only counts and moments): :func:`mean_bounds` (count, mean, sd,
skewness; :func:`mean_cs` computes its interval with it), :func:`dkw_radii` (behind
:func:`dkw_radius`), :func:`ratio_lo` / :func:`ratio_hi` (the ends of :func:`ratio_interval`)
and :func:`interpolated_quantile_ranks` (:func:`quantile_ranks` at a few anchor counts).

:func:`binomial_interval` is not a sequence: the exact (Clopper-Pearson) interval of one look,
for reporting rates measured by simulation.

:mod:`llm_rollout.stats.coverage` simulates the uniform coverage of each sequence.
"""

from ._binomial import rate_cs, rate_cs_batch, srm_check
from ._interval import FloatArray, Interval, ratio_hi, ratio_interval, ratio_lo
from ._ks import dkw_radii, dkw_radius, ks_cs, ks_distance
from ._mean import mean_bounds, mean_cs, mixture_radius
from ._proportion import binomial_interval
from ._quantile import interpolated_quantile_ranks, quantile_cs, quantile_ranks

__all__ = [
    "FloatArray",
    "Interval",
    "binomial_interval",
    "dkw_radii",
    "dkw_radius",
    "interpolated_quantile_ranks",
    "ks_cs",
    "ks_distance",
    "mean_bounds",
    "mean_cs",
    "mixture_radius",
    "quantile_cs",
    "quantile_ranks",
    "rate_cs",
    "rate_cs_batch",
    "ratio_hi",
    "ratio_interval",
    "ratio_lo",
    "srm_check",
]
