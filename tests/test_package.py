"""The public surface: exported names, CLI help for every command, docs mention each."""

from __future__ import annotations

from pathlib import Path

import pytest

import llm_rollout
from llm_rollout.cli import COMMANDS, cli, main

ROOT = Path(__file__).resolve().parents[1]


def test_exported_names_exist_and_are_sorted() -> None:
    assert list(llm_rollout.__all__) == sorted(llm_rollout.__all__)
    for name in llm_rollout.__all__:
        assert hasattr(llm_rollout, name), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    assert command is not None
    assert (command.help or "").strip(), f"{name} has no help text"
    try:
        code = main([name, "--help"])
    except SystemExit as exc:
        code = exc.code
    assert code in (0, None)
    assert "Usage:" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_documented(name: str) -> None:
    docs = (ROOT / "docs" / "cli.md").read_text()
    assert f"llm-rollout {name}" in docs, f"docs/cli.md does not mention `llm-rollout {name}`"
