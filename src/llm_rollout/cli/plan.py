"""Planning commands: ``plan`` (runbook + spec), ``calibrate`` (noise floor) and
``shadow-report`` (paired shadow calls and the spec's alert rules).

Bad input (traffic <= 0, an unknown risk level, a noise profile of another model, a model
without prices, an unreadable file) is one message naming the input, exit code 2.
``shadow-report --fail-on-alert`` exits 1 when an alert rule fires.
"""

from __future__ import annotations

import functools
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from ..errors import LlmRolloutError, SpecError
from ..spec import parse_duration
from .home import store_home_option

_HOME = click.option(
    "--home",
    type=store_home_option,
    metavar="DIR|URL",
    default=None,
    help="store: a directory or a postgresql:// URL [$LLM_ROLLOUT_HOME, else ./.llm-rollout]",
)
_OUT = click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), help="write the Markdown here"
)
_JSON = click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="write the JSON here",
)


class InputError(click.ClickException):
    """Bad input: a clear message and exit code 2, like a click usage error."""

    exit_code = 2


F = TypeVar("F", bound=Callable[..., Any])


def _clear_errors(func: F) -> F:
    """Library errors (bad input) become one message and exit code 2, however the command
    is invoked (``main`` or click's runner)."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LlmRolloutError as exc:
            raise InputError(str(exc)) from exc

    return cast(F, run)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise SpecError([(str(path), f"cannot write: {exc.strerror}")], "output") from exc


def _seconds(value: str | None, flag: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise SpecError([(flag, str(exc))], "plan inputs") from exc


def _steps(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(x) for x in text.replace("/", ",").split(",") if x.strip())
    except ValueError:
        raise SpecError(
            [("--steps", f"expected weights like 1,10,50,100, got {text!r}")], "plan inputs"
        ) from None


def _versions(models: Path | None, home: str | None) -> tuple[list[Any], str]:
    if models is not None:
        from ..registry import load_models

        try:
            return load_models(models), str(models)
        except SpecError as exc:
            problems = [
                (f"--models {models}", f"{path}: {reason}") for path, reason in exc.problems
            ]
            raise SpecError(problems, "plan inputs") from exc
    from ..store import open_store

    store = open_store(home)
    try:
        return store.list_models(), "the registry"
    finally:
        store.close()


# --- plan -------------------------------------------------------------------------------------


@click.command("plan")
@click.option("--baseline", required=True, help="baseline model: name or name@sha256:<digest>")
@click.option("--candidate", required=True, help="candidate model: name or name@sha256:<digest>")
@click.option(
    "--models",
    type=click.Path(path_type=Path, dir_okay=False),
    help="models file (prices); default: the registry in --home",
)
@_HOME
@click.option("--rate", type=float, required=True, help="traffic, requests per minute")
@click.option(
    "--daily-cycle",
    type=float,
    default=0.0,
    show_default=True,
    help="amplitude of the daily traffic cycle, [0, 1)",
)
@click.option(
    "--start-hour",
    type=click.FloatRange(0, 24, max_open=True),
    default=10.0,
    show_default=True,
    help="hour of day the rollout starts (with a daily cycle)",
)
@click.option(
    "--peak-hour",
    type=click.FloatRange(0, 24, max_open=True),
    default=14.0,
    show_default=True,
    help="hour of day traffic peaks (with a daily cycle)",
)
@click.option(
    "--risk",
    type=click.Choice(["low", "medium", "high"]),
    default="medium",
    show_default=True,
    help="risk tolerance (alpha, power, steps, bounds)",
)
@click.option(
    "--noise",
    type=click.Path(path_type=Path, dir_okay=False),
    help="noise profile from `llm-rollout calibrate` (default: assumed, with a warning)",
)
@click.option("--tokens", help="baseline's expected PROMPT:COMPLETION tokens per request")
@click.option("--candidate-tokens", help="candidate's PROMPT:COMPLETION (default: the baseline's)")
@click.option(
    "--cost-policy",
    type=click.Choice(["strict", "tolerant"]),
    default="strict",
    show_default=True,
    help="strict: cost against the baseline; tolerant: against the planned cost, "
    "with an A/B step on quality",
)
@click.option(
    "--quality-gain",
    type=float,
    default=0.10,
    show_default=True,
    help="relative thumbs-down reduction the A/B step must confirm",
)
@click.option(
    "--steps", "steps_text", help="step weights, e.g. 5,25,50,100 (default: the risk level's)"
)
@click.option("--max-dwell", help="longest dwell a step may be planned for, e.g. 6h")
@click.option(
    "--max-shadow",
    help="longest shadow phase the gates' needs may ask for, e.g. 7h (default: the risk level's)",
)
@click.option(
    "--rollback-bench",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON of `python bench/bench_rollback.py --json FILE`: the runbook states the measured "
    "rollback time instead of an estimate",
)
@click.option("--name", help="rollout name in the spec [the candidate's name]")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--reps",
    type=click.IntRange(200, 100_000),
    default=2000,
    show_default=True,
    help="Monte Carlo runs behind each detection probability",
)
@_OUT
@_JSON
@click.option(
    "--spec-out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="write the rollout spec YAML here (`llm-rollout start` takes it as is)",
)
@click.option("--verify", is_flag=True, help="also run the plan through the simulator")
@click.option(
    "--runs",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="simulated runs per scenario with --verify",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="processes for --verify [CPU count]",
)
@click.option("--quiet", is_flag=True, help="no progress on stderr")
@_clear_errors
def plan(
    baseline: str,
    candidate: str,
    models: Path | None,
    home: str | None,
    rate: float,
    daily_cycle: float,
    start_hour: float,
    peak_hour: float,
    risk: str,
    noise: Path | None,
    tokens: str | None,
    candidate_tokens: str | None,
    cost_policy: str,
    quality_gain: float,
    steps_text: str | None,
    max_dwell: str | None,
    max_shadow: str | None,
    rollback_bench: Path | None,
    name: str | None,
    seed: int,
    reps: int,
    out: Path | None,
    json_out: Path | None,
    spec_out: Path | None,
    verify: bool,
    runs: int,
    workers: int | None,
    quiet: bool,
) -> None:
    """Plan a rollout: steps, dwell from sample sizes, bounds above the noise floor, shadow
    and A/B design, cost per day, go/no-go policy and rollback, as a Markdown runbook, JSON
    and a rollout spec; --verify checks it in the simulator."""
    from ..plan import (
        build_inputs,
        build_plan,
        load_noise,
        load_rollback,
        plan_json,
        render_markdown,
        spec_yaml,
        verify_plan,
    )
    from ..plan.inputs import check_traffic, parse_tokens
    from ..plan.text import duration

    problems = check_traffic(rate, daily_cycle)
    if problems:
        raise SpecError(problems, "plan inputs")
    noise_profile = load_noise(noise) if noise is not None else None
    evidence = load_rollback(rollback_bench) if rollback_bench is not None else None
    versions, source = _versions(models, home)
    inputs = build_inputs(
        versions,
        baseline=baseline,
        candidate=candidate,
        rate=rate,
        risk=risk,
        source=source,
        noise=noise_profile,
        tokens=parse_tokens(tokens, "--tokens"),
        candidate_tokens=parse_tokens(candidate_tokens, "--candidate-tokens"),
        daily_cycle=daily_cycle,
        start_hour=start_hour,
        peak_hour=peak_hour,
        cost_policy="tolerant" if cost_policy == "tolerant" else "strict",
        quality_gain=quality_gain,
        steps=_steps(steps_text),
        max_dwell=_seconds(max_dwell, "--max-dwell"),
        max_shadow=_seconds(max_shadow, "--max-shadow"),
        rollback=evidence,
        name=name,
        seed=seed,
    )
    started = time.monotonic()

    def say(message: str) -> None:
        if not quiet:
            click.echo(f"[{time.monotonic() - started:6.1f}s] {message}", err=True)

    result = build_plan(inputs, reps=reps, progress=say)
    verification = None
    if verify:
        last = [""]

        def tick(name: str, k: int, n: int) -> None:
            if not quiet and (k == n or name != last[0] or k % max(1, n // 10) == 0):
                last[0] = name
                say(f"verify {name}: {k}/{n} runs")

        verification = verify_plan(result, runs, workers=workers, progress=tick)
    markdown = render_markdown(result, verification, _command_line())
    if out is not None:
        _write(out, markdown)
    if json_out is not None:
        _write(json_out, plan_json(result, verification) + "\n")
    if spec_out is not None:
        _write(spec_out, spec_yaml(result))
    if out is None:
        click.echo(markdown)
        return
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    ab = (
        f", then the A/B step: {duration(result.time_to_promotion())} to promotion"
        if result.ab.in_spec
        else " to promotion"
    )
    click.echo(
        f"plan {inputs.name}: shadow {100 * result.shadow.sample:.3g}% for "
        f"{duration(result.shadow.duration)}, {len(result.steps)} steps, "
        f"{duration(result.total_duration())} through the last step{ab}; runbook {out}"
        + (f", JSON {json_out}" if json_out else "")
        + (f", spec {spec_out}" if spec_out else "")
    )
    if verification is not None:
        click.echo(
            f"verify: false rollbacks {verification.false_rollback.text()}; planned detection "
            f"{'within' if verification.all_within else 'NOT within'} 5 points of the simulation"
        )


def _command_line() -> str:
    """The invocation as given (options in their given form), for the runbook's header."""
    ctx = click.get_current_context()
    parts = ["llm-rollout", ctx.info_name or "plan"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if (
            not isinstance(param, click.Option)
            or value in (None, False)
            or param.name in ("quiet", "workers")
        ):
            continue
        if param.default == value and param.name not in ("risk", "cost_policy"):
            continue
        flag = param.opts[0]
        text = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(flag if value is True else f"{flag} {shlex.quote(text)}")
    return " ".join(parts)


# --- calibrate --------------------------------------------------------------------------------


@click.command("calibrate")
@click.argument("rollout", required=False)
@_HOME
@click.option(
    "--simulate",
    "simulate",
    is_flag=True,
    help="calibrate from a simulated A/A split instead of the store",
)
@click.option(
    "--scenario",
    type=click.Path(path_type=Path, dir_okay=False),
    help="with --simulate: take the baseline profile, rate and drift from a scenario",
)
@click.option("--rate", type=float, default=None, help="with --simulate: requests per minute [100]")
@click.option(
    "--drift",
    type=float,
    default=None,
    help="with --simulate: per-arm drift per window [the profile's, 0.07]",
)
@click.option(
    "--run-variation",
    type=float,
    default=0.02,
    show_default=True,
    help="with --simulate: per-arm drift per run",
)
@click.option(
    "--hours",
    type=float,
    default=4.0,
    show_default=True,
    help="with --simulate: hours of A/A traffic per run",
)
@click.option(
    "--runs",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="with --simulate: runs",
)
@click.option(
    "--models",
    type=click.Path(path_type=Path, dir_okay=False),
    help="with --simulate and --model: the models file holding it",
)
@click.option(
    "--model", help="with --simulate: the model the profile stands for (planner checks it)"
)
@click.option(
    "--window", default="5m", show_default=True, help="window length (the check interval)"
)
@click.option(
    "--target",
    type=float,
    default=0.01,
    show_default=True,
    help="false-alarm share per bound the floor is set for",
)
@click.option("--seed", type=int, default=0, show_default=True)
@_OUT
@_JSON
@_clear_errors
def calibrate(
    rollout: str | None,
    home: str | None,
    simulate: bool,
    scenario: Path | None,
    rate: float | None,
    drift: float | None,
    run_variation: float,
    hours: float,
    runs: int,
    models: Path | None,
    model: str | None,
    window: str,
    target: float,
    seed: int,
    out: Path | None,
    json_out: Path | None,
) -> None:
    """Measure the noise floor per metric from baseline-vs-baseline data: an A/A split in the
    store (ROLLOUT: its id) or a simulation (--simulate); writes the noise profile (--json)
    that `llm-rollout plan --noise` reads."""
    import json
    from dataclasses import replace

    from ..analysis import calibrate_simulation, calibrate_store, render_noise_markdown

    window_s = _seconds(window, "--window") or 0.0
    if simulate:
        from ..profile import ModelProfile

        profile = ModelProfile()
        sim_rate = 100.0
        if scenario is not None:
            from ..sim import load_scenario

            sc = load_scenario(scenario)
            profile, sim_rate = sc.baseline, sc.traffic.rate
        if rate is not None:
            sim_rate = rate
        if drift is not None:
            if not 0 <= drift < 1:
                raise SpecError([("--drift", f"must be within [0, 1), got {drift}")], "calibration")
            profile = replace(profile, drift=drift)
        ref = None
        if model is not None:
            versions, source = _versions(models, home)
            from ..registry import resolve

            try:
                version = resolve(model, versions)
            except LlmRolloutError as exc:
                raise SpecError([("--model", f"{exc} (in {source})")], "calibration") from exc
            ref = version.ref
            prices = version.prices
            profile = replace(
                profile,
                price_input=prices.input,
                price_output=prices.output,
                price_cached_input=prices.cached_input,
            )
        result = calibrate_simulation(
            profile,
            rate=sim_rate,
            run_variation=run_variation,
            window_seconds=window_s,
            hours=hours,
            runs=runs,
            target=target,
            seed=seed,
            model=ref,
        )
    else:
        from ..store import open_store

        store = open_store(home)
        try:
            result = calibrate_store(store, rollout, window_seconds=window_s, target=target)
        finally:
            store.close()
    markdown = render_noise_markdown(result)
    if json_out is not None:
        _write(json_out, json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    if out is not None:
        _write(out, markdown)
    if out is None:
        click.echo(markdown)
    else:
        click.echo(
            f"noise profile of {result.model or 'a simulated model'}: drift "
            f"+-{result.drift:.1%}; report {out}" + (f", profile {json_out}" if json_out else "")
        )


# --- shadow-report ----------------------------------------------------------------------------


@click.command("shadow-report")
@click.argument("rollout", required=False)
@_HOME
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="judge these alert rules (default: the rollout's stored spec)",
)
@click.option(
    "--payloads",
    type=click.Path(path_type=Path, file_okay=False),
    help="payload log directory [<home>/payloads when it exists]",
)
@click.option("--since", type=float, default=None, help="only calls at or after this unix time")
@click.option("--until", type=float, default=None, help="only calls before this unix time")
@click.option(
    "--level",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="confidence level of the paired intervals",
)
@click.option("--fail-on-alert", is_flag=True, help="exit 1 when an alert rule fires (CI)")
@_OUT
@_JSON
@_clear_errors
def shadow_report(
    rollout: str | None,
    home: str | None,
    spec_file: Path | None,
    payloads: Path | None,
    since: float | None,
    until: float | None,
    level: float,
    fail_on_alert: bool,
    out: Path | None,
    json_out: Path | None,
) -> None:
    """Pair every shadow call with the served baseline call of the same request: ratios of
    cost, tokens, latency and TTFT with intervals, refusal flips, errors, finish-reason changes,
    a text comparison when payloads are stored, and the spec's alert rules."""
    import json

    from ..analysis import build_report, render_shadow_markdown
    from ..operations import find_rollout
    from ..spec import load_spec, parse_spec
    from ..store import open_store, store_home

    store = open_store(home)
    try:
        row = find_rollout(store, rollout)
        spec = load_spec(spec_file) if spec_file else parse_spec(row.spec, f"rollout {row.id}")
        records = [
            r
            for r in store.read_records(row.id)
            if (since is None or r.time >= since) and (until is None or r.time < until)
        ]
    finally:
        store.close()
    if payloads is None:
        default = Path(store_home(home)) / "payloads"
        payloads = default if default.is_dir() else None
    report = build_report(records, spec, rollout=row.id, level=level, payloads=payloads)
    markdown = render_shadow_markdown(report)
    if json_out is not None:
        _write(json_out, json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    if out is not None:
        _write(out, markdown)
        fired = ", ".join(f"{v.gate} ({v.explanation})" for v in report.fired) or "none"
        click.echo(f"shadow report of {row.id}: {report.pairs} pairs; alerts fired: {fired}")
    else:
        click.echo(markdown)
    if fail_on_alert and report.fired:
        sys.exit(1)
