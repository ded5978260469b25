"""Shared inputs of the analysis tests: two priced models and a check of rendered tables."""

from __future__ import annotations

import re
from typing import Any

from llm_rollout.registry import ModelVersion, parse_models

MODELS: dict[str, Any] = {
    "models": [
        {
            "name": "chat-v1",
            "endpoint": "http://127.0.0.1:9/v1",
            "upstream_model": "small",
            "prices": {"input": 0.15, "output": 0.60},
        },
        {
            "name": "chat-v2",
            "endpoint": "http://127.0.0.1:9/v1",
            "upstream_model": "large",
            "prices": {"input": 0.45, "output": 1.80},
        },
    ]
}


def versions() -> list[ModelVersion]:
    return parse_models(MODELS)


def cells(line: str) -> int:
    """Cells of a Markdown table row (escaped pipes are content)."""
    return len(re.split(r"(?<!\\)\|", line)) - 2


def assert_tables_are_rectangular(md: str) -> None:
    """Every table row has as many cells as its header: GitHub renders it as a table."""
    width = None
    for line in [*md.splitlines(), ""]:
        if line.startswith("| "):
            assert line.endswith(" |"), line
            width = width or cells(line)
            assert cells(line) == width, line
        else:
            width = None
