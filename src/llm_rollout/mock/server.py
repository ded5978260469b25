"""Load a profile and run the mock model under uvicorn (one profile per process and port)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..profile import ModelProfile
from .app import MockModel


def load_profile(value: str | None) -> ModelProfile:
    """``--profile``: inline JSON (``{"latency_ms": 50}``), a JSON/YAML file, or None."""
    if value is None:
        return ModelProfile()
    text = value.strip()
    source = "inline profile"
    if not text.startswith("{"):
        path = Path(value)
        try:
            text = path.read_text()
        except OSError as exc:
            raise SpecError(
                [("profile", f"cannot read {path}: {exc.strerror}")], "model profile"
            ) from exc
        source = str(path)
    data: Any
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        from ..spec import load_yaml

        data = load_yaml(text, source)
    if not isinstance(data, dict):
        raise SpecError([("profile", "expected a mapping of profile fields")], source)
    try:
        return ModelProfile.from_dict(data)
    except TypeError as exc:
        raise SpecError([("profile", str(exc))], source) from exc


def run(
    profile: ModelProfile,
    *,
    host: str = "127.0.0.1",
    port: int = 9000,
    seed: int | None = None,
    speed: float = 1.0,
    model_id: str = "mock-model",
    api_key: str | None = None,
) -> None:
    import uvicorn

    app = MockModel(profile, seed=seed, speed=speed, model_id=model_id, api_key=api_key)
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
