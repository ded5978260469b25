"""Gateway configuration: a YAML file and/or command-line flags, validated in one place.

Nothing here reads the environment at import time. :func:`load_config` takes the file's mapping,
the flag overrides and the environment as arguments (``env`` defaults to ``os.environ`` only
when called), so tests pass plain dicts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import SpecError

DEFAULT_REFUSAL_PHRASES: tuple[str, ...] = (
    "I'm sorry, but I can't",
    "I'm sorry, but I cannot",
    "I'm sorry, I can't",
    "Sorry, I can't",
    "I can't help with",
    "I cannot help with",
    "I can't assist with",
    "I cannot assist with",
    "I'm unable to help",
    "I am unable to help",
)


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    home: str | None = Field(
        None, description="the store: a directory (SQLite inside) or a postgresql:// URL"
    )

    @field_validator("home", mode="before")
    @classmethod
    def _home_text(cls, value: object) -> object:
        # A directory may come as a Path; kept as text so a URL is never normalised.
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64, description="server processes (each polls the store)")
    server: Literal["uvicorn", "granian"] = "uvicorn"
    sticky_header: str = Field("x-rollout-key", min_length=1)
    refusal_phrases: tuple[str, ...] = DEFAULT_REFUSAL_PHRASES
    api_key_env: str | None = Field(
        None, description="env var holding the gateway's client keys, comma-separated"
    )
    api_keys: tuple[str, ...] = Field((), description="resolved from api_key_env; never logged")
    fallback_to_baseline: bool = False
    store_payloads: bool = False
    max_body_bytes: int = Field(1 << 20, ge=1024)
    record_batch_size: int = Field(500, ge=1)
    record_flush_interval: float = Field(0.1, gt=0, le=10)
    record_queue_max: int = Field(100_000, ge=1)
    policy_poll_interval: float = Field(0.05, gt=0, le=10)
    upstream_connect_timeout: float = Field(10.0, gt=0)
    upstream_max_connections: int = Field(512, ge=1)
    shadow_max_connections: int = Field(256, ge=1)
    upstream_client: Literal["httptools", "aiohttp"] = Field(
        "httptools",
        description="the upstream HTTP client: the gateway's own (httptools) or aiohttp",
    )
    seed: int | None = Field(None, description="seeds per-request draws (tests, benchmarks)")
    test_skew_candidate_bp: int = Field(
        0,
        ge=0,
        le=10_000,
        description="TEST ONLY: route as if every non-zero candidate weight were this many basis "
        "points higher, while records keep the policy's version and step: a deliberately "
        "mis-weighted router, so tests can show the sample-ratio guard pausing a rollout. "
        "Never set it in production.",
    )

    @field_validator("sticky_header")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip().lower()

    @field_validator("refusal_phrases")
    @classmethod
    def _phrases(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(p for p in (s.strip() for s in v) if p)

    def __repr__(self) -> str:  # keep client keys out of logs and tracebacks
        shown = self.model_dump(exclude={"api_keys"})
        return f"GatewayConfig({shown}, api_keys=<{len(self.api_keys)} hidden>)"

    __str__ = __repr__


def load_config(
    file: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> GatewayConfig:
    """Merge file values and flag overrides (flags win; ``None`` flags are ignored), resolve the
    client keys from ``env[api_key_env]``, and validate. Problems raise SpecError by field."""
    env = os.environ if env is None else env
    data: dict[str, Any] = dict(file or {})
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if "api_keys" in data:
        raise SpecError(
            [("api_keys", "name an env var with api_key_env instead")], "gateway config"
        )
    key_env = data.get("api_key_env")
    if key_env:
        raw = env.get(str(key_env))
        if raw is None:
            raise SpecError(
                [("api_key_env", f"environment variable {key_env} is not set")], "gateway config"
            )
        keys = tuple(k.strip() for k in raw.split(",") if k.strip())
        if not keys:
            raise SpecError([("api_key_env", f"{key_env} holds no keys")], "gateway config")
        data["api_keys"] = keys
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            (
                ".".join(str(p) for p in err["loc"]) or "(config)",
                err["msg"].removeprefix("Value error, "),
            )
            for err in exc.errors()
        ]
        raise SpecError(problems, "gateway config") from exc
