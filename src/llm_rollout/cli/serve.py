"""``llm-rollout serve``: run the OpenAI-compatible gateway in front of the rollout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .home import store_home_option


@click.command("serve")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="gateway config YAML (flags override its values)",
)
@click.option(
    "--home",
    type=store_home_option,
    metavar="DIR|URL",
    help="store: a directory or a postgresql:// URL [$LLM_ROLLOUT_HOME, else ./.llm-rollout]",
)
@click.option("--host", default=None, help="bind address [127.0.0.1]")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="port [8080]")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="processes [1]")
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "granian"]),
    default=None,
    help="ASGI server [uvicorn]",
)
@click.option(
    "--sticky-header",
    default=None,
    help="header carrying the sticky key [x-rollout-key]; falls back to the request's `user` field",
)
@click.option(
    "--refusal-phrase",
    "refusal_phrases",
    multiple=True,
    help="output prefix counted as a refusal (repeatable; replaces the defaults)",
)
@click.option(
    "--api-key-env",
    default=None,
    metavar="VAR",
    help="require clients to send one of the comma-separated keys in VAR",
)
@click.option(
    "--fallback-to-baseline/--no-fallback-to-baseline",
    default=None,
    help="serve a failed candidate call from the baseline",
)
@click.option(
    "--store-payloads/--no-store-payloads",
    default=None,
    help="also write prompts and outputs to <home>/payloads (off by default)",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1024),
    default=None,
    help="largest request body accepted [1048576]",
)
def serve(config_file: Path | None, **flags: Any) -> None:
    """Serve /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /v1/feedback
    and /metrics, routing by the current rollout policy."""
    from ..gateway import load_config
    from ..gateway import serve as run
    from ..spec import load_yaml
    from ..store import home_label, store_home

    file: dict[str, Any] = {}
    if config_file is not None:
        data = load_yaml(config_file.read_text(), str(config_file)) or {}
        if not isinstance(data, dict):
            raise click.BadParameter("expected a mapping", param_hint="--config")
        file = data
    flags["refusal_phrases"] = tuple(flags["refusal_phrases"]) or None
    if flags.get("home") is None and file.get("home") is None:
        flags["home"] = str(store_home())
    config = load_config(file, flags)
    where = "none" if config.home is None else home_label(config.home)
    click.echo(
        f"llm-rollout gateway on http://{config.host}:{config.port} "
        f"(store {where}, {config.server}, {config.workers} worker(s))",
        err=True,
    )
    run(config)
