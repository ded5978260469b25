"""The command line. Library first: every command calls the library and turns its errors
(:class:`~llm_rollout.errors.LlmRolloutError`) into a clear message and exit code 2.

Each command lives in its own module and registers itself on :data:`main` via ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from ..errors import LlmRolloutError

__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]

# module name -> click command attribute; imported lazily so `--help` stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "schema": ("llm_rollout.cli.basic", "schema"),
    "validate": ("llm_rollout.cli.basic", "validate"),
    "judge": ("llm_rollout.cli.basic", "judge"),
    "serve": ("llm_rollout.cli.serve", "serve"),
    "mock-model": ("llm_rollout.cli.mock", "mock_model"),
    "simulate": ("llm_rollout.cli.simulate", "simulate"),
    "models": ("llm_rollout.cli.ops", "models"),
    "start": ("llm_rollout.cli.ops", "start_cmd"),
    "status": ("llm_rollout.cli.ops", "status_cmd"),
    "pause": ("llm_rollout.cli.ops", "pause"),
    "resume": ("llm_rollout.cli.ops", "resume"),
    "promote": ("llm_rollout.cli.ops", "promote"),
    "rollback": ("llm_rollout.cli.ops", "rollback"),
    "abort": ("llm_rollout.cli.ops", "abort"),
    "history": ("llm_rollout.cli.ops", "history"),
    "policy": ("llm_rollout.cli.ops", "policy"),
    "control": ("llm_rollout.cli.ops", "control"),
    "demo": ("llm_rollout.cli.demo", "demo"),
    "plan": ("llm_rollout.cli.plan", "plan"),
    "calibrate": ("llm_rollout.cli.plan", "calibrate"),
    "shadow-report": ("llm_rollout.cli.plan", "shadow_report"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="llm-rollout")
def cli() -> None:
    """llm-rollout: progressive delivery for LLMs (shadow, gated canary, instant rollback)."""


def main(argv: list[str] | None = None) -> Any:
    """Entry point: library errors become one clear message and exit code 2, no traceback."""
    try:
        return cli.main(args=argv, prog_name="llm-rollout", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except LlmRolloutError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
