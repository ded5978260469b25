"""The registry's pure core: digests, references, resolution, models files."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from llm_rollout.errors import RegistryError, SpecError
from llm_rollout.registry import (
    MIN_PREFIX,
    ModelVersion,
    canonical_json,
    digest_of,
    parse_models,
    parse_ref,
    resolve,
)

BASE: dict[str, Any] = {
    "name": "chat",
    "endpoint": "https://api.example.test/v1",
    "upstream_model": "model-a",
    "params": {"temperature": 0.2, "max_tokens": 512},
    "prompt_template": "You are helpful.",
    "prices": {"input": 0.15, "output": 0.6, "cached_input": 0.075},
    "timeout": 30.0,
}


def version(**changes: Any) -> ModelVersion:
    return ModelVersion.model_validate({**BASE, **changes})


# --- digests -------------------------------------------------------------------------------
def test_the_digest_is_sha256_hex_of_the_definition() -> None:
    v = version()
    assert len(v.digest) == 64
    assert all(c in "0123456789abcdef" for c in v.digest)
    assert v.digest == digest_of(v.definition())
    assert v.ref == f"chat@sha256:{v.digest}"
    assert v.short_ref == f"chat@sha256:{v.digest[:MIN_PREFIX]}"


def test_the_digest_ignores_key_order() -> None:
    reordered = dict(reversed(list(BASE.items())))
    reordered["params"] = {"max_tokens": 512, "temperature": 0.2}
    reordered["prices"] = {"cached_input": 0.075, "output": 0.6, "input": 0.15}
    assert version().digest == ModelVersion.model_validate(reordered).digest
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == '{"a":[1,{"c":3,"d":2}],"b":1}'


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"params": {"temperature": 1.0}}, {"params": {"temperature": 1}}),
        ({"prices": {"input": 1, "output": 2}}, {"prices": {"input": 1.0, "output": 2.0}}),
        ({"timeout": 60}, {"timeout": 60.0}),
        ({"params": {"top_p": [1.0, 0.5]}}, {"params": {"top_p": (1, 0.5)}}),
        ({"endpoint": "https://api.example.test/v1/"}, {"endpoint": "https://api.example.test/v1"}),
    ],
)
def test_the_digest_ignores_number_formatting_and_trailing_slashes(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    assert version(**one).digest == version(**other).digest


def test_the_api_key_variable_is_outside_the_digest() -> None:
    with_key = version(api_key_env="OPENAI_API_KEY")
    rotated = version(api_key_env="OPENAI_API_KEY_2")
    assert with_key.digest == rotated.digest == version().digest
    assert "api_key_env" not in with_key.definition()
    assert "OPENAI_API_KEY" not in canonical_json(with_key.definition())


@pytest.mark.parametrize(
    "change",
    [
        {"name": "chat-2"},
        {"endpoint": "https://other.example.test/v1"},
        {"upstream_model": "model-b"},
        {"params": {"temperature": 0.3, "max_tokens": 512}},
        {"params": {"temperature": 0.2, "max_tokens": 512, "seed": 1}},
        {"params": {}},
        {"prompt_template": "You are terse."},
        {"prompt_template": None},
        {"prices": {"input": 0.15, "output": 0.61, "cached_input": 0.075}},
        {"prices": {"input": 0.16, "output": 0.6, "cached_input": 0.075}},
        {"prices": {"input": 0.15, "output": 0.6}},
        {"timeout": 31.0},
    ],
)
def test_any_defining_field_changes_the_digest(change: dict[str, Any]) -> None:
    assert version(**change).digest != version().digest


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_canonical_json_refuses_non_finite_numbers(bad: float) -> None:
    with pytest.raises(RegistryError, match="NaN or infinite"):
        canonical_json({"params": {"temperature": bad}})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_parameters_are_refused(bad: float) -> None:
    with pytest.raises((RegistryError, ValidationError)):
        _ = version(params={"temperature": bad}).digest


# --- references ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("chat", ("chat", None)),
        ("org/chat-v2.1_x", ("org/chat-v2.1_x", None)),
        ("chat@sha256:" + "a" * 12, ("chat", "a" * 12)),
        ("chat@sha256:" + "0123456789ab" * 5 + "cdef", ("chat", "0123456789ab" * 5 + "cdef")),
        ("  chat  ", ("chat", None)),
    ],
)
def test_parse_ref(ref: str, expected: tuple[str, str | None]) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "chat@sha256:" + "a" * 11,  # shorter than the minimum prefix
        "chat@sha256:" + "a" * 65,
        "chat@sha256:" + "A" * 12,  # digests are lower-case hex
        "chat@sha256:" + "g" * 12,
        "chat@sha1:" + "a" * 12,
        "chat@",
        "@sha256:" + "a" * 12,
        "-chat",
        "chat model",
    ],
)
def test_parse_ref_rejects(ref: str) -> None:
    with pytest.raises(RegistryError, match=r"invalid model reference.*name@sha256"):
        parse_ref(ref)


# --- resolution ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Stub:
    """Only what ``resolve`` reads: lets a test pick digests (collisions cannot be made)."""

    name: str
    digest: str

    @property
    def short_ref(self) -> str:
        return f"{self.name}@sha256:{self.digest[:MIN_PREFIX]}"


def test_resolve_a_unique_bare_name() -> None:
    chat, other = version(), version(name="other")
    assert resolve("chat", [other, chat]) == chat


def test_resolve_by_prefix_among_versions_of_one_name() -> None:
    a, b = version(), version(upstream_model="model-b")
    assert resolve(b.short_ref, [a, b]) == b
    assert resolve(a.ref, [a, b]) == a


def test_a_bare_name_with_several_versions_is_ambiguous() -> None:
    a, b = version(), version(upstream_model="model-b")
    with pytest.raises(RegistryError, match=r"ambiguous.*pin a digest") as err:
        resolve("chat", [a, b])
    assert a.short_ref in str(err.value)
    assert b.short_ref in str(err.value)


def test_a_prefix_matching_two_digests_is_ambiguous() -> None:
    shared = "abcdef012345"
    x, y = Stub("chat", shared + "0" * 52), Stub("chat", shared + "1" * 52)
    with pytest.raises(RegistryError, match="ambiguous"):
        resolve(f"chat@sha256:{shared}", [x, y])  # type: ignore[list-item]
    assert resolve(f"chat@sha256:{shared}1", [x, y]) == y  # type: ignore[list-item]


def test_the_same_version_listed_twice_is_not_ambiguous() -> None:
    v = version()
    assert resolve("chat", [v, version()]) == v


@pytest.mark.parametrize(
    "ref",
    ["missing", "chat@sha256:" + "f" * 12, "other@sha256:{prefix}"],
)
def test_unknown_references(ref: str) -> None:
    v = version()
    with pytest.raises(RegistryError, match=r"unknown model.*register it first"):
        resolve(ref.format(prefix=v.digest[:12]), [v])


# --- models files --------------------------------------------------------------------------
def test_parse_models_accepts_a_mapping_or_a_list() -> None:
    assert parse_models({"models": [BASE]}) == [version()]
    assert parse_models([BASE, {**BASE, "name": "b"}]) == [version(), version(name="b")]


@pytest.mark.parametrize("data", [None, {}, {"models": []}, {"models": "chat"}, [], "text", 3])
def test_parse_models_needs_a_non_empty_list(data: Any) -> None:
    with pytest.raises(SpecError) as err:
        parse_models(data, "models.yaml")
    assert err.value.problems == [("models", "expected a non-empty list of model versions")]
    assert err.value.source == "models.yaml"


def test_parse_models_lists_every_problem_by_field_path() -> None:
    data = {
        "models": [
            BASE,
            {**BASE, "endpoint": "ftp://x", "prices": {"input": -1, "output": 0.6}},
            {"name": "x", "endpoint": "http://y", "upstream_model": "", "bogus": 1},
        ]
    }
    with pytest.raises(SpecError) as err:
        parse_models(data)
    paths = [path for path, _ in err.value.problems]
    assert paths == [
        "models.1.endpoint",
        "models.1.prices.input",
        "models.2.upstream_model",
        "models.2.prices",
        "models.2.bogus",
    ]
    reasons = dict(err.value.problems)
    assert reasons["models.1.endpoint"] == "endpoint must be an http:// or https:// URL"
    assert "greater than or equal to 0" in reasons["models.1.prices.input"]
    assert "models.1.endpoint" in str(err.value)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"name": "bad name!"}, "models.0.name"),
        ({"api_key_env": "not-valid"}, "models.0.api_key_env"),
        ({"timeout": 0}, "models.0.timeout"),
        ({"prices": {"input": math.inf, "output": 1}}, "models.0.prices.input"),
        ({"prices": {"input": 1}}, "models.0.prices.output"),
    ],
)
def test_parse_models_field_errors(change: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_models({"models": [{**BASE, **change}]})
    assert [p for p, _ in err.value.problems] == [path]
