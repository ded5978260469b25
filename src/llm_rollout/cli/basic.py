"""Spec and judging commands: ``schema``, ``validate``, ``judge``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..spec import Method, RolloutSpec, json_schema, load_spec, parse_spec

# A stand-in pair of references for judging records outside a registered rollout.
_ANY_BASELINE = "baseline@sha256:" + "0" * 12
_ANY_CANDIDATE = "candidate@sha256:" + "1" * 12


def default_spec() -> RolloutSpec:
    return parse_spec({"name": "adhoc", "baseline": _ANY_BASELINE, "candidate": _ANY_CANDIDATE})


@click.command()
def schema() -> None:
    """Print the JSON Schema of the rollout spec."""
    click.echo(json.dumps(json_schema(), indent=2))


@click.command()
@click.argument("spec_file", type=click.Path(path_type=Path))
def validate(spec_file: Path) -> None:
    """Validate a rollout spec; list every problem by field path."""
    spec = load_spec(spec_file)
    click.echo(f"{spec_file}: valid rollout spec '{spec.name}' with {len(spec.steps)} steps")


@click.command()
@click.argument("records_file", type=click.Path(path_type=Path))
@click.option("--spec", "spec_file", type=click.Path(path_type=Path), help="rollout spec YAML")
@click.option(
    "--weight",
    type=click.FloatRange(0, 100),
    default=None,
    help="intended candidate share in percent, for the sample-ratio check "
    "(default: the observed share, which switches the check off)",
)
@click.option(
    "--method",
    type=click.Choice([m.value for m in Method]),
    default=None,
    help="override every gate's method",
)
@click.option("--shadow", is_flag=True, help="judge shadow calls against served baseline calls")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def judge(
    records_file: Path,
    spec_file: Path | None,
    weight: float | None,
    method: str | None,
    shadow: bool,
    as_json: bool,
) -> None:
    """Judge a window of request records (JSON Lines) with the spec's gates."""
    from ..jsonl import read_jsonl, window_from
    from ..judge import judge_step
    from ..records import Role

    spec = load_spec(spec_file) if spec_file else default_spec()
    records, feedback = read_jsonl(records_file)
    role = Role.SHADOW if shadow else Role.SERVE
    window = window_from(records, feedback, 0.0, role)
    n_total = window.baseline.n + window.candidate.n
    observed = window.candidate.n / n_total if n_total else 0.0
    share = observed if weight is None else weight / 100
    window = window_from(records, feedback, share, role)
    decision = judge_step(
        spec, window, Method(method) if method else None, phase="shadow" if shadow else "canary"
    )
    if as_json:
        click.echo(json.dumps(decision.to_dict(), indent=2))
        return
    from rich.console import Console

    from .render import decision_table

    Console().print(decision_table(decision))
