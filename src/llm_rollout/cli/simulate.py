"""``llm-rollout simulate``: what the gates of a spec will do, before production sees it.

One run prints the timeline (one row per check, a gate table at every transition) and the
verdict line; ``--monte-carlo N`` runs N seeds in parallel and prints promote / rollback /
pause rates, halting stages, time to detect and exposure, per judging method.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..display import clock, duration_text, outcome_style
from ..errors import LlmRolloutError
from ..sim import (
    MonteCarloSummary,
    Regression,
    RunResult,
    Scenario,
    Traffic,
    load_scenario,
    monte_carlo,
    parse_regression,
)
from ..sim import simulate as run_simulation
from ..sim.bounds import scale_bounds
from ..sim.engine import Check
from ..sim.report import evidence_text, stage_label
from ..spec import Method, load_spec
from ..verdict import Outcome, Verdict


class InputError(click.ClickException):
    """Bad input: a clear message and exit code 2, like a click usage error."""

    exit_code = 2


def _methods(choice: str | None, mc: bool) -> list[Method | None]:
    if choice == "both" or (choice is None and mc):
        return [Method.SEQUENTIAL, Method.THRESHOLD]
    if choice is None:
        return [None]  # each gate's own method from the spec
    return [Method(choice)]


def _build(
    spec_path: str | None,
    scenario_path: str | None,
    *,
    rate: float | None,
    regressions: Sequence[str],
    seed: int | None,
    users: int | None,
) -> Scenario:
    spec = load_spec(spec_path) if spec_path is not None else None
    if scenario_path is not None:
        scenario = load_scenario(scenario_path, spec)
    else:
        scenario = Scenario() if spec is None else Scenario(spec=spec)
    changes: dict[str, Any] = {}
    if rate is not None or users is not None:
        t = scenario.traffic
        changes["traffic"] = Traffic(
            rate if rate is not None else t.rate,
            t.daily_cycle,
            t.peak_hour,
            t.start_hour,
            users if users is not None else t.users,
        )
    if regressions:
        parsed: list[Regression] = []
        for text in regressions:
            if text.strip().lower() not in ("none", "aa", "a/a"):
                parsed.append(parse_regression(text))
        changes["regressions"] = tuple(parsed)
    if seed is not None:
        changes["seed"] = seed
    return scenario.with_(**changes) if changes else scenario


@contextmanager
def _progress(
    enabled: bool, label: str, total: float
) -> Iterator[Callable[[float, float], None] | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total, status="")

        def update(done: float, limit: float) -> None:
            status = f"{done:g}/{limit:g}" if label.startswith("monte") else duration_text(done)
            bar.update(task, completed=done, total=limit, status=status)

        yield update


@click.command()
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False),
    help="Rollout spec YAML (default: the scenario's, else the built-in default spec).",
)
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(dir_okay=False),
    help="Scenario YAML: spec, model profiles, rate, regressions, seed, daily cycle.",
)
@click.option("--rate", type=float, help="Requests per minute (overrides the scenario).")
@click.option(
    "--regression",
    "regressions",
    multiple=True,
    metavar="NAME=FACTOR[@START][:SHARE]",
    help="Inject a regression, e.g. cost=1.25, p99_latency=2@30m, refusal=3:20%. "
    "Repeatable; replaces the scenario's regressions ('none' for an A/A run).",
)
@click.option("--seed", type=int, help="Random seed (Monte Carlo: the first of N).")
@click.option(
    "--bound-scale",
    type=float,
    default=None,
    metavar="M",
    help="Scale every gate's breach margin by M (cost 1.2 -> 1.1 at M=0.5), for sweeps.",
)
@click.option("--users", type=int, help="Sticky user population (overrides the scenario).")
@click.option(
    "--method",
    type=click.Choice(["sequential", "threshold", "both"]),
    help="Judging method for every gate (default: each gate's own; Monte Carlo compares both).",
)
@click.option(
    "--monte-carlo",
    "runs",
    type=int,
    default=0,
    metavar="N",
    help="Run N seeded simulations in parallel and report rates.",
)
@click.option("--workers", type=int, default=None, help="Processes for --monte-carlo.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON only.")
@click.option("--quiet", is_flag=True, help="Print only the verdict line(s).")
def simulate(
    spec_path: str | None,
    scenario_path: str | None,
    rate: float | None,
    regressions: tuple[str, ...],
    seed: int | None,
    bound_scale: float | None,
    users: int | None,
    method: str | None,
    runs: int,
    workers: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Simulate a rollout (virtual clock, synthetic traffic) with the real controller and judge.

    Shows which stage halts a regression, how often noise rolls back a good model, and how many
    requests a bad model serves before rollback.
    """
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise click.BadParameter(
            f"must be a finite number of requests/minute > 0, got {rate}", param_hint="--rate"
        )
    if runs < 0:
        raise click.BadParameter("must be >= 0", param_hint="--monte-carlo")
    if workers is not None and workers < 1:
        raise click.BadParameter("must be >= 1", param_hint="--workers")
    if users is not None and users < 1:
        raise click.BadParameter("must be >= 1", param_hint="--users")
    try:
        scenario = _build(
            spec_path, scenario_path, rate=rate, regressions=regressions, seed=seed, users=users
        )
        if bound_scale is not None:
            scenario = scenario.with_(spec=scale_bounds(scenario.spec, bound_scale))
    except LlmRolloutError as exc:
        raise InputError(str(exc)) from exc
    methods = _methods(method, runs > 0)
    tty = sys.stdout.isatty()
    # Piped output (files, docs) gets a fixed, wide layout instead of rich's 80 columns.
    console = Console(highlight=False, soft_wrap=True, width=None if tty else 150)
    live = tty and not as_json and not quiet
    if runs > 0:
        with _progress(live, "monte carlo", runs * len(methods)) as tick:
            summaries = monte_carlo(scenario, runs, methods, workers=workers, progress=tick)
        if as_json:
            _echo_json(
                {
                    "mode": "monte_carlo",
                    "scenario": scenario.to_dict(),
                    "results": [s.to_dict() for s in summaries],
                }
            )
        else:
            _show_monte_carlo(console, scenario, summaries, quiet)
        return
    results = []
    for m in methods:
        with _progress(live, "simulating", scenario.time_limit()) as tick:
            results.append(run_simulation(scenario, m, progress=tick))
    if as_json:
        _echo_json(
            {
                "mode": "single",
                "scenario": scenario.to_dict(),
                "results": [r.to_dict() for r in results],
            }
        )
        return
    for r in results:
        if not quiet:
            _show_run(console, scenario, r)
        console.print(_verdict_line(r, len(results) > 1), markup=False)


def _echo_json(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, indent=2, allow_nan=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# --- one run --------------------------------------------------------------------------------


def _header(console: Console, scenario: Scenario, method: str | None = None) -> None:
    t = scenario.traffic
    regs = ", ".join(r.label() for r in scenario.regressions) or "none (A/A)"
    cycle = f", daily cycle ±{t.daily_cycle:.0%}" if t.daily_cycle else ""
    line = (
        f"[bold]{scenario.name}[/]: spec {scenario.spec.name}, {t.rate:g} requests/min{cycle}, "
        f"{t.users} users, seed {scenario.seed}; regressions: {regs}"
    )
    if method is not None:
        line += f"; method: {method}"
    console.print(line)


def _note(check: Check) -> str:
    """The worst verdict of the check (or its transition), escaped for rich."""
    if check.event is not None:
        if check.event == "step_advanced":
            return f"[bold]advanced[/] to {check.to_stage}"
        return f"[bold]{check.event}[/]"
    fired = [a for a in check.alerts if a.outcome is Outcome.FAIL]
    if fired:
        return escape(f"shadow alert {evidence_text(fired[0])}")
    ranked = sorted(check.decision.verdicts, key=lambda v: (-v.outcome.rank, -_severity(v)))
    if check.decision.srm_mismatch and check.decision.srm is not None:
        return escape(check.decision.srm.explanation)
    if not ranked or ranked[0].outcome is Outcome.PASS:
        return "all gates pass"
    worst = ranked[0]
    return escape(f"{worst.outcome.value} {worst.gate}: {evidence_text(worst)}")


def _severity(v: Verdict) -> float:
    """How far the interval lies beyond the bound, in interval widths (> 0: a breach)."""
    width = v.hi - v.lo
    if not math.isfinite(width) or width <= 0:
        return -math.inf
    beyond = v.lo - (v.bound_hi if v.direction == "outside" and v.bound_hi is not None else v.bound)
    if v.direction == "outside":
        beyond = max(beyond, v.bound - v.hi)
    return beyond / width


def _phase_table(title: str) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for name, justify in (
        ("time", "right"),
        ("weight", "right"),
        ("n base", "right"),
        ("n cand", "right"),
        ("outcome", "left"),
        ("worst / event", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    return table


def _gate_table(check: Check) -> Table:
    from ..judge import VERDICT_TABLE_HEADER, verdict_row, verdict_table_rows

    title = escape(f"gates at {clock(check.time)} ({check.event}: {check.reason})")
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for name in VERDICT_TABLE_HEADER:
        table.add_column(name)
    rows = verdict_table_rows(check.decision)
    for alert in check.alerts:
        row = verdict_row(alert)
        rows.append([f"shadow alert: {row[0]}", *row[1:]])
    if check.ab is not None:
        rows.append(verdict_row(check.ab))
    for row in rows:
        style = outcome_style(row[2].split(" ")[0])
        table.add_row(*(escape(cell) for cell in row), style=style)
    return table


def _show_run(console: Console, scenario: Scenario, result: RunResult) -> None:
    _header(console, scenario, result.method)
    spec = scenario.spec
    table: Table | None = None
    current: tuple[str, int] | None = None
    for check in result.checks:
        if (check.phase, check.step) != current:
            if table is not None:
                console.print(table)
            current = (check.phase, check.step)
            label = stage_label(spec, check.step)
            if check.phase == "shadow":
                label += f" ({check.shadow_sample:.0%} of requests mirrored)"
            table = _phase_table(label)
        assert table is not None
        style = outcome_style(check.outcome)
        table.add_row(
            clock(check.time),
            f"{check.weight:g}%",
            str(check.n_baseline),
            str(check.n_candidate),
            f"[{style}]{check.outcome}[/]",
            _note(check),
        )
        if check.event is not None:
            console.print(table)
            console.print(_gate_table(check))
            table, current = None, None
    if table is not None:
        console.print(table)
    exposure = ""
    if result.regression_start is not None:
        exposure = (
            f"; exposed: {result.exposure} requests / {result.exposed_users} users served by "
            "the regressed candidate"
        )
    console.print(
        f"served {result.requests} requests, {result.candidate_served} by the candidate, "
        f"{result.shadow_calls} shadow calls{exposure}"
    )


def _verdict_line(result: RunResult, tagged: bool) -> str:
    prefix = f"[{result.method}] " if tagged else ""
    return prefix + result.headline


# --- Monte Carlo ---------------------------------------------------------------------------


def _q(stat: dict[str, float | None], fmt: Callable[[float], str]) -> str:
    med, p90 = stat["median"], stat["p90"]
    if med is None or p90 is None:
        return "-"
    return f"{fmt(med)} / {fmt(p90)}"


def _count(x: float) -> str:
    return f"{x:,.0f}"


def _stages(summary: MonteCarloSummary, outcome: str) -> str:
    by = summary.stages.get(outcome, {})
    return ", ".join(f"{stage} {n}" for stage, n in by.items()) or "-"


def _show_monte_carlo(
    console: Console, scenario: Scenario, summaries: Sequence[MonteCarloSummary], quiet: bool
) -> None:
    if not quiet:
        _header(console, scenario)
        table = Table(
            title=f"Monte Carlo: {summaries[0].runs} runs per method, seeds "
            f"{summaries[0].first_seed}..{summaries[0].first_seed + summaries[0].runs - 1}",
            title_justify="left",
            show_edge=False,
            pad_edge=False,
        )
        table.add_column("")
        for s in summaries:
            table.add_column(s.method)
        rows: list[tuple[str, Callable[[MonteCarloSummary], str]]] = [
            ("promoted", lambda s: s.outcomes["promoted"].text()),
            ("rolled back", lambda s: s.outcomes["rolled_back"].text()),
            ("paused", lambda s: s.outcomes["paused"].text()),
            ("timeout", lambda s: s.outcomes["timeout"].text()),
            ("halted before 50%", lambda s: s.halted_before_50.text()),
            ("rollback stages", lambda s: _stages(s, "rolled_back")),
            ("pause stages", lambda s: _stages(s, "paused")),
            (
                "gates fired",
                lambda s: ", ".join(f"{g} {n}" for g, n in list(s.gates.items())[:3]) or "-",
            ),
            ("time to detect (median / p90)", lambda s: _q(s.detect_time, duration_text)),
            ("exposure, requests (median / p90)", lambda s: _q(s.exposure, _count)),
            ("exposure, users (median / p90)", lambda s: _q(s.exposed_users, _count)),
            ("candidate served (median / p90)", lambda s: _q(s.candidate_served, _count)),
            ("run length (median / p90)", lambda s: _q(s.duration, duration_text)),
        ]
        for label, cell in rows:
            table.add_row(label, *(cell(s) for s in summaries))
        console.print(table)
    for s in summaries:
        console.print(_mc_line(s), markup=False)


def _mc_line(s: MonteCarloSummary) -> str:
    parts = [
        f"{label} {s.outcomes[key].text()}"
        for key, label in (
            ("promoted", "promoted"),
            ("rolled_back", "rolled back"),
            ("paused", "paused"),
            ("timeout", "timeout"),
        )
        if s.outcomes[key].k
    ]
    line = f"[{s.method}] {s.runs} runs: " + ", ".join(parts)
    if s.detect_time["median"] is not None:
        line += f"; detect median {duration_text(s.detect_time['median'])}"
    if s.exposure["median"] is not None:
        line += f"; exposure median {_count(s.exposure['median'])} requests"
    return line
