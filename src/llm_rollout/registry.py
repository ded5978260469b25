"""The model registry's pure core: versions, digests and references.

A model version is everything that defines behaviour or price: upstream endpoint, upstream
model id, parameters, prompt template, prices. Its digest is sha256 over the canonical JSON of
exactly those fields, so ``name@sha256:<digest>`` pins behaviour the way an image digest pins a
container. Secrets never enter it: the upstream API key is only *named*, by ``api_key_env``,
and that name is excluded from the digest too (rotating keys must not create a new version).
Because a digest is computed from the content, a digest can never point at other content.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import RegistryError, SpecError
from .records import Prices

_REF = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._\-/]*)(?:@sha256:(?P<hex>[0-9a-f]{12,64}))?$")
MIN_PREFIX = 12


class PriceTable(BaseModel):
    """USD per one million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)

    @field_validator("input", "output", "cached_input")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("price must be finite")
        return v

    def as_prices(self) -> Prices:
        return Prices(self.input, self.output, self.cached_input)


class ModelVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$", max_length=200)
    endpoint: str = Field(description="base URL of the OpenAI-compatible upstream, e.g. .../v1")
    upstream_model: str = Field(min_length=1, description="model id sent upstream")
    params: dict[str, Any] = Field(default_factory=dict, description="e.g. temperature")
    prompt_template: str | None = Field(
        None, description="system prompt prepended to every chat request"
    )
    prices: PriceTable
    api_key_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="env var holding the API key"
    )
    timeout: float = Field(60.0, gt=0, description="upstream timeout, seconds")

    @field_validator("params")
    @classmethod
    def _finite_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        # JSON dumping would turn NaN into null and give {"t": nan} the digest of {"t": None}.
        try:
            _normalise(v)
        except RegistryError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("endpoint")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("endpoint must be an http:// or https:// URL")
        return v.rstrip("/")

    def definition(self) -> dict[str, Any]:
        """The digested content: everything but the key's env-var name."""
        return self.model_dump(mode="json", exclude={"api_key_env"})

    @property
    def digest(self) -> str:
        return digest_of(self.definition())

    @property
    def ref(self) -> str:
        return f"{self.name}@sha256:{self.digest}"

    @property
    def short_ref(self) -> str:
        return f"{self.name}@sha256:{self.digest[:MIN_PREFIX]}"


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8, integral floats normalised: one text per meaning."""
    return json.dumps(_normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RegistryError("model definitions cannot hold NaN or infinite numbers")
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def digest_of(definition: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``name@sha256:<hex>`` -> (name, hex prefix); ``name`` -> (name, None)."""
    m = _REF.match(ref.strip())
    if not m:
        raise RegistryError(
            f"invalid model reference {ref!r}: expected name@sha256:<{MIN_PREFIX}-64 hex digits>"
        )
    return m.group("name"), m.group("hex")


def resolve(ref: str, versions: Iterable[ModelVersion]) -> ModelVersion:
    """Pick the one version a reference names; a bare name must be unambiguous."""
    name, prefix = parse_ref(ref)
    named = [v for v in versions if v.name == name]
    if prefix is not None:
        named = [v for v in named if v.digest.startswith(prefix)]
    if not named:
        raise RegistryError(f"unknown model {ref!r}: register it first (llm-rollout models add)")
    if len({v.digest for v in named}) > 1:
        digests = ", ".join(sorted(v.short_ref for v in named))
        raise RegistryError(f"ambiguous model reference {ref!r}: matches {digests}; pin a digest")
    return named[0]


def parse_models(data: Any, source: str = "models file") -> list[ModelVersion]:
    """A models file: ``{models: [ {name, endpoint, ...}, ... ]}`` or a bare list."""
    items = data.get("models") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise SpecError([("models", "expected a non-empty list of model versions")], source)
    out: list[ModelVersion] = []
    problems: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        try:
            out.append(ModelVersion.model_validate(item))
        except ValidationError as exc:
            for err in exc.errors():
                path = ".".join(str(p) for p in ("models", i, *err["loc"]))
                problems.append((path, err["msg"].removeprefix("Value error, ")))
    if problems:
        raise SpecError(problems, source)
    return out


def load_models(path: str | Path) -> list[ModelVersion]:
    from .spec import load_yaml

    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecError([("(file)", f"cannot read {p}: {exc.strerror}")], str(p)) from exc
    return parse_models(load_yaml(text, str(p)), str(p))
