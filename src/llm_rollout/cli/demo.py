"""``llm-rollout demo``: a whole rollout on loopback in under two minutes, nothing to set up."""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType

import click


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the demo the way Ctrl-C does: everything stopped


@click.command("demo")
@click.option(
    "--regression",
    type=click.Choice(["cost", "latency", "refusal", "errors", "feedback", "none"]),
    default="cost",
    show_default=True,
    help="what is wrong with the candidate; `none` rolls out a good one (it is promoted)",
)
@click.option(
    "--rate",
    type=click.FloatRange(10, 1000),
    default=200.0,
    show_default=True,
    help="requests per second the traffic generator sends",
)
@click.option("--seed", type=int, default=None, help="seed the traffic and the mock models")
@click.option(
    "--max-seconds",
    type=click.FloatRange(5, 3600),
    default=110.0,
    show_default=True,
    help="stop the rollout after this long, whatever its state",
)
@click.option("--keep-home", is_flag=True, help="keep the demo's store directory afterwards")
@click.option("--json", "as_json", is_flag=True, help="print the outcome as JSON on stdout")
def demo(
    regression: str,
    rate: float,
    seed: int | None,
    max_seconds: float,
    keep_home: bool,
    as_json: bool,
) -> None:
    """Roll out a candidate with a regression against a baseline, live, on 127.0.0.1.

    Starts two mock model servers, the gateway, the controller (one check a second, steps of a
    few seconds) and a traffic generator sending OpenAI-client requests and thumbs-down
    feedback; shows each gate's verdict as the canary advances; ends with where and why the
    rollout halted and how fast the rollback reached users, or with the promotion. Every
    process it starts is stopped on exit, Ctrl-C included.
    """
    from ..demo import DemoOptions, reporter_for, run_demo

    options = DemoOptions(
        regression=regression,
        rate=rate,
        seed=seed,
        max_seconds=max_seconds,
        keep_home=keep_home,
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    # A shell starts background jobs with SIGINT ignored, and Python then keeps it ignored;
    # the demo must still stop everything on Ctrl-C / SIGINT, so it takes the signal back.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = run_demo(options, reporter_for(sys.stdout, as_json))
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        style = "green" if result.outcome == "promoted" else "red"
        if result.outcome in ("interrupted", "timeout", "paused"):
            style = "yellow"
        click.secho(result.headline, fg=style, bold=True)
        click.echo(f"(demo took {result.wall_seconds:.0f} s)")
    if result.outcome == "interrupted":
        sys.exit(130)
