"""A store home given as a postgresql:// URL travels intact through the CLI and the gateway's
config, and is printed without its password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_helpers import pg_drop, pg_url

from llm_rollout.cli import main
from llm_rollout.cli.home import store_home_option
from llm_rollout.gateway import load_config
from llm_rollout.store import home_label, is_database_url

MODELS = {
    "models": [
        {
            "name": "chat",
            "endpoint": "http://127.0.0.1:9/v1",
            "upstream_model": "m",
            "prices": {"input": 1.0, "output": 2.0},
        }
    ]
}


def test_a_url_is_kept_as_written_and_a_directory_expanded() -> None:
    url = "postgresql://u:pw@db.internal:5432/rollouts?sslmode=require"
    assert store_home_option(url) == url
    assert store_home_option("~/store") == str(Path.home() / "store")
    with pytest.raises(ValueError, match="empty"):
        store_home_option("")


def test_a_url_is_printed_without_its_password() -> None:
    url = "postgresql://rollout:s3cret@db.internal:5432/rollouts"
    assert is_database_url(url)
    assert not is_database_url("/srv/llm-rollout")
    assert home_label(url) == "postgresql://rollout@db.internal:5432/rollouts"
    assert home_label("/srv/llm-rollout") == "/srv/llm-rollout"


def test_the_gateway_config_keeps_the_url() -> None:
    url = "postgresql://rollout@db.internal:5432/rollouts"
    assert load_config({}, {"home": url}).home == url


def test_the_cli_registers_and_lists_models_on_postgresql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models.json"
    models.write_text(json.dumps(MODELS))
    url = pg_url(tmp_path).replace("postgres@", "postgres:not-shown@")
    try:
        main(["models", "add", str(models), "--home", url])
        capsys.readouterr()
        main(["models", "list", "--home", url, "--json"])
        out, err = capsys.readouterr()
        assert [m["name"] for m in json.loads(out)] == ["chat"]
        assert "not-shown" not in out + err
    finally:
        pg_drop(tmp_path)
