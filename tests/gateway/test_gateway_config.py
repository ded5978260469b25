"""Gateway configuration: file + flags + injected environment, precise errors, hidden keys."""

from __future__ import annotations

import pytest

from llm_rollout.errors import SpecError
from llm_rollout.gateway.config import DEFAULT_REFUSAL_PHRASES, load_config


def test_defaults_without_environment() -> None:
    cfg = load_config(env={})
    assert cfg.sticky_header == "x-rollout-key"
    assert cfg.max_body_bytes == 1 << 20
    assert cfg.refusal_phrases == DEFAULT_REFUSAL_PHRASES
    assert cfg.api_keys == ()


def test_flags_override_file_and_none_flags_are_ignored() -> None:
    cfg = load_config(
        {"port": 9000, "sticky_header": "X-User", "fallback_to_baseline": True},
        {"port": 9100, "sticky_header": None},
        env={},
    )
    assert cfg.port == 9100
    assert cfg.sticky_header == "x-user"
    assert cfg.fallback_to_baseline


def test_api_keys_come_from_the_named_variable_and_never_show() -> None:
    cfg = load_config({"api_key_env": "GW_KEYS"}, env={"GW_KEYS": "k-one, k-two"})
    assert cfg.api_keys == ("k-one", "k-two")
    assert "k-one" not in repr(cfg)
    assert "k-one" not in str(cfg)


@pytest.mark.parametrize(
    ("file", "env", "field"),
    [
        ({"api_key_env": "MISSING"}, {}, "api_key_env"),
        ({"api_key_env": "EMPTY"}, {"EMPTY": " , "}, "api_key_env"),
        ({"api_keys": ["x"]}, {}, "api_keys"),
        ({"port": 70000}, {}, "port"),
        ({"max_body_bytes": 10}, {}, "max_body_bytes"),
        ({"colour": "blue"}, {}, "colour"),
        ({"server": "gunicorn"}, {}, "server"),
    ],
)
def test_problems_name_the_field(file: dict[str, object], env: dict[str, str], field: str) -> None:
    with pytest.raises(SpecError) as info:
        load_config(file, env=env)
    assert [p for p, _ in info.value.problems] == [field]
