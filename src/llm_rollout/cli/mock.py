"""``llm-rollout mock-model``: an OpenAI-compatible mock model server driven by a profile."""

from __future__ import annotations

import click


@click.command("mock-model")
@click.option(
    "--profile",
    "profile",
    default=None,
    metavar="FILE|JSON",
    help="ModelProfile as a JSON/YAML file or inline JSON (default: the default profile)",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=9000, show_default=True)
@click.option("--seed", type=int, default=None, help="seed the draws (reproducible behaviour)")
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="time scale of every delay; 0 = never sleep (throughput benchmarks)",
)
@click.option("--model-id", default="mock-model", show_default=True, help="the id /v1/models lists")
@click.option(
    "--api-key-env",
    default=None,
    metavar="VAR",
    help="require Authorization: Bearer <value of VAR>",
)
def mock_model(
    *,
    profile: str | None,
    host: str,
    port: int,
    seed: int | None,
    speed: float,
    model_id: str,
    api_key_env: str | None,
) -> None:
    """Serve a simulated model: latency, TTFT, tokens, errors and refusals from a profile."""
    import os

    from ..mock import load_profile, run

    key = None
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise click.BadParameter(f"{api_key_env} is not set", param_hint="--api-key-env")
    run(
        load_profile(profile),
        host=host,
        port=port,
        seed=seed,
        speed=speed,
        model_id=model_id,
        api_key=key,
    )
