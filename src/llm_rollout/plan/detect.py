"""Detection probability of a rollout stage: will the gates' confidence sequences show the
regression within the planned dwell?

The question for the planner is not the fixed-sample ``z`` formula. A sequential gate FAILs at
the first check where the *whole* anytime-valid interval lies beyond the bound, and its width
at ``n`` comes from the stats package's boundaries (mixture radius for means, binomial ranks for
quantiles, beta-binomial mixture for rates, time-uniform DKW for the KS distance), which are
wider than a fixed-``n`` interval because they hold at every check at once. So the planner
computes, for a stage of ``K`` checks, the probability that *some* check's interval clears the
bound, by Monte Carlo over the windows' **summary statistics** rather than their requests:

- means (cost, completion tokens): per window and arm the count, the true mean under that
  window's drift factor, and the sampling error of the window's sum (normal, with the exact
  per-request variance from :mod:`._arm`); cost and tokens share their noise (correlated);
  the sample sd and skewness that the CS uses are the pooled window moments;
- quantiles (p99 latency, p99 tokens) and the KS distance: per window and arm Poisson counts
  in fine cells of the value axis (the simulator's arrivals are Poisson, so cell counts are
  independent Poisson); order statistics and empirical CDFs are read off the cumulative counts;
- rates (errors, refusals, thumbs-down): binomial counts per window.

Drift follows the simulator: every window and arm draws a factor per metric family uniform in
``[1 - drift, 1 + drift]``, times one per run in ``[1 - run_variation, 1 + run_variation]``.
Each check evaluates exactly the judge's rule on those statistics; a run's first FAILing check
is its detection time. Thousands of runs of a whole rollout take a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..stats import (
    dkw_radii,
    interpolated_quantile_ranks,
    mean_bounds,
    rate_cs_batch,
    ratio_hi,
    ratio_lo,
)
from ._arm import ERRORS, FEEDBACK, LATENCY, REFUSALS, TOKENS, TTFT, Arm

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Stat = Literal[
    "cost",
    "output_mean",
    "latency",
    "ttft",
    "output",
    "output_ks",
    "errors",
    "refusals",
    "feedback",
]
Kind = Literal["above", "outside", "excess", "rate_ratio"]
_GRID_STEP = 0.02  # cell width on the log-value axis (2%)
_KS_STEP = 0.03
_COLUMN = {"latency": "latency", "ttft": "ttft", "output": "completion"}
_FAMILY = {"latency": LATENCY, "ttft": TTFT, "completion": TOKENS}


@dataclass(frozen=True)
class Rule:
    """One FAIL rule of a gate statistic or a shadow alert, as the judge applies it."""

    stat: Stat
    kind: Kind
    bound: float
    alpha: float
    bound_hi: float | None = None  # "outside": the band is [bound, bound_hi]
    ratio: float = 1.0  # "excess": candidate rate - ratio x baseline rate > bound
    p: float = 0.99  # quantile statistics
    label: str = ""


@dataclass(frozen=True)
class Stage:
    """A phase as the gates see it: expected requests per check window for each arm."""

    label: str
    baseline: tuple[float, ...]
    candidate: tuple[float, ...]
    feedback: bool = True  # served requests get feedback (not shadow calls)

    @property
    def checks(self) -> int:
        return len(self.candidate)


def _mean_sums(
    arm: Arm, n: FloatArray, f: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, list[FloatArray], list[FloatArray]]:
    """Cumulative (over checks, axis 0) counts and sums of one arm: all calls and ok calls,
    ``[S1, R2, R3, noise]`` of cost and of completion tokens."""
    g, fe = f[..., TOKENS], f[..., ERRORS]
    ok = rng.binomial(n.astype(np.int64), 1.0 - arm.error_rate(fe)).astype(np.float64)
    raw, cov_ok = arm.cost_moments(g, fe)
    cm = arm.completion_moments(g)
    var_c = np.maximum(raw[1] - raw[0] ** 2, 0.0)
    var_t = np.maximum(cm[2] - cm[1] ** 2, 0.0)
    denom = np.sqrt(var_c * var_t)
    rho = np.clip(np.where(denom > 0, cov_ok / np.where(denom > 0, denom, 1.0), 0.0), -1, 1)
    z1 = rng.standard_normal(n.shape)
    z2 = rng.standard_normal(n.shape)
    noise_t = np.sqrt(ok * var_t) * z1
    noise_c = np.sqrt(n * var_c) * (rho * z1 + np.sqrt(1.0 - rho**2) * z2)
    cost = [np.cumsum(x, axis=0) for x in (n * raw[0], n * raw[1], n * raw[2], noise_c)]
    tok = [np.cumsum(x, axis=0) for x in (ok * cm[1], ok * cm[2], ok * cm[3], noise_t)]
    return np.cumsum(n, axis=0), np.cumsum(ok, axis=0), cost, tok


def _mean_bounds(
    n: FloatArray, sums: list[FloatArray], alpha: float
) -> tuple[FloatArray, FloatArray]:
    """The judge's mean CS from pooled window moments (sd with n - 1, population skewness)."""
    safe = np.maximum(n, 1.0)
    mu = sums[0] / safe
    m2 = np.maximum(sums[1] / safe - mu**2, 0.0)
    m3 = sums[2] / safe - 3 * mu * sums[1] / safe + 2 * mu**3
    sd = np.sqrt(m2 * safe / np.maximum(safe - 1.0, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.where(m2 > 0, m3 / np.maximum(m2, 1e-300) ** 1.5, 0.0)
    mean = (sums[0] + sums[3]) / safe
    return mean_bounds(n, mean, sd, skew, alpha)


def _mean_fails(
    rules: list[Rule],
    arms: tuple[Arm, Arm],
    n: tuple[FloatArray, FloatArray],
    f: tuple[FloatArray, FloatArray],
    rng: np.random.Generator,
) -> npt.NDArray[np.bool_]:
    """(checks, runs): does any mean rule FAIL at that check."""
    b = _mean_sums(arms[0], n[0], f[0], rng)
    c = _mean_sums(arms[1], n[1], f[1], rng)
    out = np.zeros(n[0].shape, dtype=np.bool_)
    for rule in rules:
        if rule.stat == "cost":
            nb, nc, sb, sc = b[0], c[0], b[2], c[2]
        else:
            nb, nc, sb, sc = b[1], c[1], b[3], c[3]
        lo_c, hi_c = _mean_bounds(nc, sc, rule.alpha / 2)
        lo_b, hi_b = _mean_bounds(nb, sb, rule.alpha / 2)
        lo = ratio_lo(lo_c, hi_b)
        if rule.kind == "outside" and rule.bound_hi is not None:
            hi = ratio_hi(hi_c, lo_b)
            out |= (lo > rule.bound_hi) | (hi < rule.bound)
        else:
            out |= lo > rule.bound
    return out


class _Cells:
    """Poisson counts in cells of the log-value axis of one column, per arm.

    A window's drift multiplies every value by ``f``, i.e. shifts the log axis by ``log f``;
    shifts are rounded to whole cells (at most half a cell, 1%, on top of the drift) so each
    window's cell probabilities are a slice of one precomputed CDF per arm.
    """

    def __init__(self, column: str, edges: FloatArray, reps: int, pad: int) -> None:
        self.column = column
        self.edges = edges
        self.step = float(edges[1] - edges[0])
        self.pad = pad
        self.counts = {a: np.zeros((reps, edges.size + 1)) for a in "bc"}
        self._cdf: dict[int, FloatArray] = {}

    def _base_cdf(self, arm: Arm) -> FloatArray:
        key = id(arm)
        if key not in self._cdf:
            ext = self.edges[0] + self.step * np.arange(-self.pad, self.edges.size + self.pad)
            self._cdf[key] = arm.cdf(self.column, ext, np.ones(1))[0]
        return self._cdf[key]

    def add(
        self, side: str, arm: Arm, lam: FloatArray, f: FloatArray, rng: np.random.Generator
    ) -> None:
        base = self._base_cdf(arm)
        shift = np.rint(np.log(f[:, _FAMILY[self.column]]) / self.step).astype(np.int64)
        shift = np.clip(shift, -self.pad, self.pad)
        idx = (self.pad - shift)[:, None] + np.arange(self.edges.size)[None, :]
        cdf = base[idx]
        reps = cdf.shape[0]
        probs = np.diff(np.concatenate([np.zeros((reps, 1)), cdf, np.ones((reps, 1))], axis=1))
        self.counts[side] += rng.poisson(np.maximum(probs, 0.0) * lam[:, None])

    def order_stat(self, side: str, s: FloatArray) -> FloatArray:
        """The log value of the ``s``-th smallest observation (1-based); -inf for s < 1, +inf
        beyond the sample or the grid."""
        counts = self.counts[side]
        cum = np.cumsum(counts, axis=1)
        idx = (cum < s[:, None]).sum(axis=1)
        rows = np.arange(counts.shape[0])
        last = counts.shape[1] - 1
        safe = np.clip(idx, 0, last)
        before = np.where(safe > 0, cum[rows, np.maximum(safe - 1, 0)], 0.0)
        within = (s - before - 0.5) / np.maximum(counts[rows, safe], 1.0)
        left = self.edges[np.clip(safe - 1, 0, self.edges.size - 1)]
        value = left + np.clip(within, 0.0, 1.0) * (self.edges[1] - self.edges[0])
        value = np.where(safe == 0, self.edges[0], value)
        value = np.where((idx > last) | (safe == last), np.inf, value)
        out: FloatArray = np.where(s < 1, -np.inf, value)
        return out

    def quantile_fails(self, rule: Rule) -> npt.NDArray[np.bool_]:
        n_b, n_c = self.counts["b"].sum(axis=1), self.counts["c"].sum(axis=1)
        s_min_c, _ = interpolated_quantile_ranks(n_c, rule.p, rule.alpha / 2)
        _, s_max_b = interpolated_quantile_ranks(n_b, rule.p, rule.alpha / 2)
        x_c = self.order_stat("c", s_min_c)
        x_b = self.order_stat("b", np.where(s_max_b >= n_b, np.inf, s_max_b + 1))
        with np.errstate(invalid="ignore"):
            log_ratio = x_c - x_b
        out: npt.NDArray[np.bool_] = np.nan_to_num(log_ratio, nan=-np.inf) > np.log(rule.bound)
        return out

    def ks_fails(self, rule: Rule) -> npt.NDArray[np.bool_]:
        n_b, n_c = self.counts["b"].sum(axis=1), self.counts["c"].sum(axis=1)
        fb = np.cumsum(self.counts["b"], axis=1) / np.maximum(n_b, 1.0)[:, None]
        fc = np.cumsum(self.counts["c"], axis=1) / np.maximum(n_c, 1.0)[:, None]
        d = np.max(np.abs(fc - fb), axis=1)
        lo = d - dkw_radii(n_c, rule.alpha / 2) - dkw_radii(n_b, rule.alpha / 2)
        return np.asarray((lo > rule.bound) & (n_b > 0) & (n_c > 0))


def _rate_counts(
    kind: str, arm: Arm, lam: FloatArray, f: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Cumulative events and trials of one arm per check (axis 0), trials at their expected
    value: Poisson spread in n hardly moves a rate's interval, and equal n across runs lets
    the intervals be computed once per distinct count."""
    trials = np.rint(lam)[:, None] * np.ones((1, f.shape[1]))
    if kind == "errors":
        p = arm.error_rate(f[..., ERRORS])
    elif kind == "refusals":
        trials = np.rint(trials * (1.0 - arm.profile.error_rate))
        p = arm.refusal_rate(f[..., REFUSALS])
    else:
        p = arm.negative_rate(f[..., FEEDBACK])
    k = rng.binomial(trials.astype(np.int64), p).astype(np.float64)
    return np.cumsum(k, axis=0), np.cumsum(trials, axis=0)


def _rate_fails(
    rules: list[Rule],
    arms: tuple[Arm, Arm],
    lam: tuple[FloatArray, FloatArray],
    f: tuple[FloatArray, FloatArray],
    rng: np.random.Generator,
) -> npt.NDArray[np.bool_]:
    """(checks, runs): does any rate rule FAIL at that check."""
    out = np.zeros(f[0].shape[:2], dtype=np.bool_)
    counts: dict[str, tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = {}
    for kind in sorted({r.stat for r in rules}):
        kb, nb = _rate_counts(kind, arms[0], lam[0], f[0], rng)
        kc, nc = _rate_counts(kind, arms[1], lam[1], f[1], rng)
        counts[kind] = (kb, nb, kc, nc)
    for rule in rules:
        kb, nb, kc, nc = counts[rule.stat]
        has = (nb > 0) & (nc > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            pb, pc = kb / np.maximum(nb, 1), kc / np.maximum(nc, 1)
        if rule.kind == "excess":
            todo = has & (pc - rule.ratio * pb > rule.bound)
        else:
            todo = has & (kc > 0) & ((kb == 0) | (pc > rule.bound * pb))
        if not todo.any():
            continue
        lo_c, _ = _rate_cs(kc, nc, todo, rule.alpha / 2)
        _, hi_b = _rate_cs(kb, nb, todo, rule.alpha / 2)
        if rule.kind == "excess":
            out |= todo & (lo_c - rule.ratio * hi_b > rule.bound)
        else:
            out |= todo & (ratio_lo(lo_c, hi_b) > rule.bound)
    return out


def _rate_cs(
    k: FloatArray, n: FloatArray, todo: npt.NDArray[np.bool_], alpha: float
) -> tuple[FloatArray, FloatArray]:
    """:func:`rate_cs_batch` where ``todo``, for a (checks, runs) array of counts whose trials
    ``n`` are equal across runs: per check, exact on up to 48 distinct counts, else exact on 48
    counts spread over the observed range and linear in between (the ends are smooth in
    ``k``; the error is far below a count's own noise). One batch call for every check."""
    lo = np.zeros_like(k)
    hi = np.ones_like(k)
    grids: list[FloatArray] = []
    trials: list[FloatArray] = []
    rows = []
    for j in range(k.shape[0]):
        if not todo[j].any():
            continue
        distinct = np.unique(k[j][todo[j]])
        grid = (
            distinct
            if distinct.size <= 48
            else np.unique(np.rint(np.linspace(distinct[0], distinct[-1], 48)))
        )
        grids.append(grid)
        trials.append(np.full(grid.size, n[j, 0]))
        rows.append(j)
    if not rows:
        return lo, hi
    lo_all, hi_all = rate_cs_batch(np.concatenate(grids), np.concatenate(trials), alpha)
    at = 0
    for j, grid in zip(rows, grids, strict=True):
        lo[j] = np.interp(k[j], grid, lo_all[at : at + grid.size])
        hi[j] = np.interp(k[j], grid, hi_all[at : at + grid.size])
        at += grid.size
    return lo, hi


def _grid(
    column: str, arms: tuple[Arm, Arm], z: tuple[float, float], slack: float, step: float
) -> FloatArray:
    lows, highs = zip(*(arm.log_range(column, *z) for arm in arms), strict=True)
    lo, hi = min(lows) - slack, max(highs) + slack
    return np.arange(lo, hi + step, step)


def first_detection(
    stage: Stage,
    base: Arm,
    cand: Arm,
    rules: list[Rule],
    *,
    drift: float,
    run_b: FloatArray,
    run_c: FloatArray,
    rng: np.random.Generator,
    stop_at: float | None = None,
) -> IntArray:
    """Per run, the first check (1-based) at which any rule FAILs; 0 when none does.
    ``stop_at``: stop early once that share of runs has FAILed (later checks are not run)."""
    reps, checks = run_b.shape[0], stage.checks
    first = np.zeros(reps, dtype=np.int64)
    rules = [r for r in rules if r.stat != "feedback" or stage.feedback]
    if not rules or checks == 0:
        return first
    lam = (np.asarray(stage.baseline, dtype=np.float64), np.asarray(stage.candidate, np.float64))
    f = tuple(
        rng.uniform(1.0 - drift, 1.0 + drift, (checks, reps, run.shape[1])) * run[None]
        for run in (run_b, run_c)
    )
    fb, fc = f
    n = tuple(rng.poisson(x[:, None] * np.ones((1, reps))).astype(np.float64) for x in lam)
    fails = np.zeros((checks, reps), dtype=np.bool_)
    mean_rules = [r for r in rules if r.stat in ("cost", "output_mean")]
    if mean_rules:
        fails |= _mean_fails(mean_rules, (base, cand), (n[0], n[1]), (fb, fc), rng)
    rate_rules = [r for r in rules if r.stat in ("errors", "refusals", "feedback")]
    if rate_rules:
        fails |= _rate_fails(rate_rules, (base, cand), (lam[0], lam[1]), (fb, fc), rng)
    cells: dict[str, _Cells] = {}
    wobble = float(max(np.max(np.abs(run_b - 1)), np.max(np.abs(run_c - 1))))
    slack = -float(np.log((1 - drift) * (1 - wobble))) + 0.05
    for stat, column in _COLUMN.items():
        wanted = [r for r in rules if r.stat == stat]
        if wanted:
            z_hi = NormalDist().inv_cdf(max(r.p for r in wanted))
            z_lo = NormalDist().inv_cdf(min(r.p for r in wanted))
            edges = _grid(column, (base, cand), (z_lo - 2.5, z_hi + 2.5), slack, _GRID_STEP)
            cells[stat] = _Cells(column, edges, reps, int(np.ceil(slack / _GRID_STEP)) + 1)
    if any(r.stat == "output_ks" for r in rules):
        edges = _grid("completion", (base, cand), (-4.5, 4.5), slack, _KS_STEP)
        cells["output_ks"] = _Cells("completion", edges, reps, int(np.ceil(slack / _KS_STEP)) + 1)
    for k in range(checks):
        failed = fails[k]
        if cells:
            for side, arm, count, fk in (("b", base, n[0][k], fb[k]), ("c", cand, n[1][k], fc[k])):
                ok_lam = count * (1.0 - arm.error_rate(fk[:, ERRORS]))
                for c in cells.values():
                    c.add(side, arm, ok_lam, fk, rng)
            for rule in rules:
                if rule.stat == "output_ks":
                    failed = failed | cells["output_ks"].ks_fails(rule)
                elif rule.stat in cells:
                    failed = failed | cells[rule.stat].quantile_fails(rule)
        first[(first == 0) & failed] = k + 1
        if stop_at is not None and np.mean(first > 0) >= stop_at:
            break
    return first


def run_factors(reps: int, run_variation: float, rng: np.random.Generator) -> FloatArray:
    out: FloatArray = rng.uniform(1.0 - run_variation, 1.0 + run_variation, (reps, 6))
    return out


def stage_curve(
    stage: Stage,
    base: Arm,
    cand: Arm,
    rules: list[Rule],
    *,
    drift: float,
    run_variation: float,
    reps: int,
    seed: int,
    stop_at: float | None = None,
) -> FloatArray:
    """``P(detected by check k)`` for k = 1..checks, for a regression present from the stage's
    start (each run with its own run factors). With ``stop_at`` the curve ends at the first
    check where it reaches that probability."""
    rng = np.random.default_rng(seed)
    run_b, run_c = run_factors(reps, run_variation, rng), run_factors(reps, run_variation, rng)
    first = first_detection(
        stage, base, cand, rules, drift=drift, run_b=run_b, run_c=run_c, rng=rng, stop_at=stop_at
    )
    if stop_at is not None and first.max(initial=0) < stage.checks:
        reached = np.cumsum(np.bincount(first, minlength=stage.checks + 1)[1:]) / reps
        cut = int(np.argmax(reached >= stop_at)) + 1 if np.any(reached >= stop_at) else stage.checks
        return np.asarray(reached[:cut], dtype=np.float64)
    hits = np.bincount(first, minlength=stage.checks + 1)[1:]
    out: FloatArray = np.cumsum(hits) / reps
    return out


def rollout_curve(
    stages: list[tuple[Stage, list[Rule]]],
    base: Arm,
    cand: Arm,
    *,
    drift: float,
    run_variation: float,
    reps: int,
    seed: int,
) -> FloatArray:
    """``P(detected by the end of stage j)``: a regression present from the start, every stage
    judged on its own window (the window restarts at each transition), run factors shared."""
    rng = np.random.default_rng(seed)
    run_b, run_c = run_factors(reps, run_variation, rng), run_factors(reps, run_variation, rng)
    alive = np.ones(reps, dtype=np.bool_)
    out = []
    for stage, rules in stages:
        first = first_detection(
            stage, base, cand, rules, drift=drift, run_b=run_b, run_c=run_c, rng=rng
        )
        alive &= first == 0
        out.append(1.0 - alive.mean())
    return np.asarray(out, dtype=np.float64)
