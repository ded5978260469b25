"""Presentation shared by the CLI, the demo and the simulator's reports."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

import llm_rollout
from llm_rollout.display import EVENT_STYLE, clock, duration_text, outcome_style, short_duration
from llm_rollout.verdict import Outcome

PACKAGE = Path(llm_rollout.__file__).resolve().parent


def test_every_outcome_has_a_style_and_its_value_finds_it() -> None:
    for outcome in Outcome:
        assert outcome_style(outcome)
        assert outcome_style(outcome.value) == outcome_style(outcome)
    assert outcome_style(Outcome.FAIL) == "bold red"
    assert outcome_style("promoted") == ""
    assert EVENT_STYLE["rolled_back"] == "bold red"
    assert "started" not in EVENT_STYLE


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (59.4, "59 s"), (60, "1 min"), (14 * 60, "14 min"), (3599, "1 h"),
     (2 * 3600 + 20 * 60, "2 h 20 min"), (3 * 3600, "3 h"), (50 * 3600, "50 h")],
)  # fmt: skip
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (math.inf, "-"), (math.nan, "-"), (42, "42.0s"), (150, "2.5m"),
     (7200, "2.0h")],
)  # fmt: skip
def test_short_duration(seconds: float | None, text: str) -> None:
    assert short_duration(seconds) == text


def test_clock() -> None:
    assert clock(0) == "0:00"
    assert clock(5 * 60) == "0:05"
    assert clock(3 * 3600 + 10 * 60 + 20) == "3:10"


def _imports(path: Path) -> set[str]:
    """Absolute names of the llm_rollout modules a file imports."""
    package = path.relative_to(PACKAGE.parent).parent.parts
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join((*base, *(node.module or "").split("."))).strip(".")
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_library_modules_never_import_the_cli() -> None:
    cli = PACKAGE / "cli"
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if cli not in path.parents and path.name != "__main__.py"  # entry points may
        if any(name == "llm_rollout.cli" or name.startswith("llm_rollout.cli.")
               for name in _imports(path))
    ]  # fmt: skip
    assert offenders == []
