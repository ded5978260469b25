"""Fixtures of the planning tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from plan_helpers import MODELS


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(MODELS))
    return path
