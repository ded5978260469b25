"""The registry in the store: immutable versions addressed by digest."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from llm_rollout.errors import RegistryError
from llm_rollout.registry import ModelVersion
from llm_rollout.store import Store
from llm_rollout.store.sqlite import SQLiteStore

MakeModel = Callable[..., ModelVersion]


def test_put_get_round_trip(store: Store, make_model: MakeModel) -> None:
    version = make_model(params={"temperature": 0.2}, prompt_template="Be brief.")
    assert store.put_model(version) is True
    got = store.get_model(version.digest)
    assert got == version
    assert got.digest == version.digest


def test_registering_the_same_content_again_is_idempotent(
    store: Store, make_model: MakeModel
) -> None:
    version = make_model()
    assert store.put_model(version) is True
    assert store.put_model(make_model()) is False
    assert store.list_models() == [version]


def test_the_api_key_variable_is_not_identity_and_the_latest_wins(
    store: Store, make_model: MakeModel
) -> None:
    first = make_model(api_key_env="OLD_KEY")
    rotated = make_model(api_key_env="NEW_KEY")
    assert first.digest == rotated.digest
    store.put_model(first)
    assert store.put_model(rotated) is False
    assert store.get_model(first.digest).api_key_env == "NEW_KEY"
    assert len(store.list_models()) == 1


def test_list_models_orders_by_name(store: Store, make_model: MakeModel) -> None:
    versions = [make_model("zeta"), make_model("alpha"), make_model("alpha", upstream_model="m2")]
    for v in versions:
        store.put_model(v)
    assert [v.name for v in store.list_models()] == ["alpha", "alpha", "zeta"]
    assert {v.digest for v in store.list_models()} == {v.digest for v in versions}


def test_resolve_by_name_prefix_and_full_digest(store: Store, make_model: MakeModel) -> None:
    version = make_model("chat")
    other = make_model("other")
    store.put_model(version)
    store.put_model(other)
    assert store.resolve_model("chat") == version
    assert store.resolve_model(version.short_ref) == version
    assert store.resolve_model(version.ref) == version
    assert store.resolve_model(f"chat@sha256:{version.digest[:20]}") == version


def test_a_bare_name_with_two_versions_is_ambiguous(store: Store, make_model: MakeModel) -> None:
    a = make_model("chat")
    b = make_model("chat", upstream_model="model-b")
    store.put_model(a)
    store.put_model(b)
    with pytest.raises(RegistryError, match="ambiguous") as err:
        store.resolve_model("chat")
    assert a.short_ref in str(err.value)
    assert b.short_ref in str(err.value)
    assert store.resolve_model(b.short_ref) == b  # a digest prefix disambiguates


@pytest.mark.parametrize(
    "ref",
    [
        "missing",
        "chat@sha256:000000000000",  # right name, no such digest
        "other@sha256:{prefix}",  # the digest exists, under another name
    ],
)
def test_unknown_references(store: Store, make_model: MakeModel, ref: str) -> None:
    version = make_model("chat")
    store.put_model(version)
    with pytest.raises(RegistryError, match="unknown model"):
        store.resolve_model(ref.format(prefix=version.digest[:12]))


@pytest.mark.parametrize("ref", ["chat@sha256:abc", "chat@sha256:" + "A" * 12, "@sha256:x", ""])
def test_malformed_references(store: Store, ref: str) -> None:
    with pytest.raises(RegistryError, match="invalid model reference"):
        store.resolve_model(ref)


def test_get_an_unknown_digest(store: Store) -> None:
    with pytest.raises(RegistryError, match="unknown model digest"):
        store.get_model("f" * 64)


def _tamper(path: Path, digest: str, definition: str) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE models SET definition = ? WHERE digest = ?", (definition, digest))
    db.commit()
    db.close()


def test_a_tampered_definition_is_caught_on_read_and_on_register(
    file_store: SQLiteStore, make_model: MakeModel, tmp_path: Path
) -> None:
    version = make_model()
    file_store.put_model(version)
    forged = make_model(upstream_model="something-else")
    _tamper(tmp_path / "store.db", version.digest, forged.model_dump_json(exclude={"api_key_env"}))
    with pytest.raises(RegistryError, match="does not match its digest"):
        file_store.get_model(version.digest)
    with pytest.raises(RegistryError, match="does not match its digest"):
        file_store.put_model(version)
    with pytest.raises(RegistryError, match="does not match its digest"):
        file_store.resolve_model("chat")


def test_an_unreadable_definition_is_a_clear_error(
    file_store: SQLiteStore, make_model: MakeModel, tmp_path: Path
) -> None:
    version = make_model()
    file_store.put_model(version)
    _tamper(tmp_path / "store.db", version.digest, "{not json")
    with pytest.raises(Exception, match="not valid JSON"):
        file_store.get_model(version.digest)
